"""The backup file: a small header, then the database dump in encrypted chunks.

Layout::

    b"consentry-backup\\n"
    header length (4 bytes, big-endian), header (UTF-8 JSON, no personal data)
    chunks: length (4 bytes, big-endian), AES-256-GCM(up to chunk_size bytes)

The key is HKDF-SHA256 of ``CONSENTRY_DATA_KEY`` with the header's random
salt and the info ``consentry/backup/v1``: every file has a key of its own,
so a chunk's nonce can be its index. A chunk's associated data is the SHA-256
of everything before the first chunk (so every chunk authenticates the
header too), its index and whether it is the last one: a chunk changed,
moved, repeated or dropped, and a file cut short anywhere, fail to open.

The header also holds a key check (HKDF of the same secret and salt for
another purpose), so that a wrong data key is told apart from a damaged file
before any chunk is tried. A dump is streamed chunk by chunk: neither writing
nor reading holds more than one chunk in memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"consentry-backup\n"
VERSION = 1
KEY_INFO = b"consentry/backup/v1"
CHECK_INFO = b"consentry/backup/v1/key-check"
CHUNK_SIZE = 1 << 20
# A header or chunk size beyond these is damage, not a backup we wrote.
MAX_HEADER = 4096
MAX_CHUNK_SIZE = 64 << 20
TAG = 16
_LENGTH = struct.Struct(">I")


class BackupError(Exception):
    """A backup cannot be made, read or restored; the message is one line."""


class UnreadableBackup(BackupError):
    """Not a backup, or one that was changed, cut short or damaged."""


class WrongKey(BackupError):
    """The backup was made with another ``CONSENTRY_DATA_KEY``."""


@dataclass(frozen=True, slots=True)
class Header:
    database: str  # "sqlite" or "postgresql"
    created_at: datetime  # when the snapshot was taken (UTC)
    revision: str  # the Alembic revision of the database backed up
    salt: bytes
    key_check: bytes
    chunk_size: int
    version: int = VERSION

    def encode(self) -> bytes:
        return json.dumps(
            {
                "version": self.version,
                "database": self.database,
                "created_at": self.created_at.isoformat(),
                "revision": self.revision,
                "salt": self.salt.hex(),
                "key_check": self.key_check.hex(),
                "chunk_size": self.chunk_size,
            },
            sort_keys=True,
        ).encode()

    @classmethod
    def decode(cls, raw: bytes) -> Header:
        fields: dict[str, Any] = json.loads(raw)
        header = cls(
            database=str(fields["database"]),
            created_at=datetime.fromisoformat(fields["created_at"]),
            revision=str(fields["revision"]),
            salt=bytes.fromhex(fields["salt"]),
            key_check=bytes.fromhex(fields["key_check"]),
            chunk_size=int(fields["chunk_size"]),
            version=int(fields["version"]),
        )
        if header.created_at.utcoffset() is None or not 0 < header.chunk_size <= MAX_CHUNK_SIZE:
            raise ValueError("implausible header")
        return header


def _derive(data_key: str, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(
        data_key.encode()
    )


def new_header(data_key: str, *, database: str, created_at: datetime, revision: str) -> Header:
    salt = secrets.token_bytes(32)
    return Header(
        database=database,
        created_at=created_at,
        revision=revision,
        salt=salt,
        key_check=_derive(data_key, salt, CHECK_INFO),
        chunk_size=CHUNK_SIZE,
    )


def _associated_data(prefix_digest: bytes, index: int, final: bool) -> bytes:
    return prefix_digest + index.to_bytes(8, "big") + (b"\x01" if final else b"\x00")


def _nonce(index: int) -> bytes:
    return index.to_bytes(12, "big")


def _read_chunks(handle: IO[bytes], size: int) -> Iterator[tuple[int, bytes, bool]]:
    """``(index, data, is_last)``, one read ahead; an empty input is one empty last chunk."""
    current = handle.read(size)
    index = 0
    while True:
        following = handle.read(size)
        yield index, current, not following
        if not following:
            return
        current, index = following, index + 1


@contextlib.contextmanager
def private_file(target: Path) -> Iterator[IO[bytes]]:
    """Write ``target`` (mode 0600) all at once: into a temporary file beside it,
    renamed over it only when the block ends without error."""
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)  # whatever the umask
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    # The rename itself must survive a crash, too.
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def encrypt(plain: Path, target: Path, header: Header, data_key: str) -> None:
    """Write the backup of the dump ``plain`` to ``target`` (atomically, mode 0600)."""
    prefix = MAGIC + _LENGTH.pack(len(header.encode())) + header.encode()
    digest = hashlib.sha256(prefix).digest()
    aead = AESGCM(_derive(data_key, header.salt, KEY_INFO))
    with plain.open("rb") as source, private_file(target) as out:
        out.write(prefix)
        for index, data, final in _read_chunks(source, header.chunk_size):
            sealed = aead.encrypt(_nonce(index), data, _associated_data(digest, index, final))
            out.write(_LENGTH.pack(len(sealed)) + sealed)


def _read_prefix(handle: IO[bytes], name: str) -> tuple[Header, bytes]:
    magic = handle.read(len(MAGIC))
    if magic != MAGIC:
        raise UnreadableBackup(f"{name}: not a Consentry backup")
    raw_length = handle.read(_LENGTH.size)
    length = _LENGTH.unpack(raw_length)[0] if len(raw_length) == _LENGTH.size else 0
    raw = handle.read(length) if 0 < length <= MAX_HEADER else b""
    try:
        header = Header.decode(raw)
    except (ValueError, KeyError, TypeError):
        raise UnreadableBackup(f"{name}: damaged (the header cannot be read)") from None
    if header.version != VERSION:
        raise UnreadableBackup(f"{name}: backup format version {header.version} is not known")
    return header, magic + raw_length + raw


def read_header(path: Path) -> Header:
    """The header, unverified (for listing): only a full ``decrypt`` proves it."""
    with path.open("rb") as handle:
        return _read_prefix(handle, path.name)[0]


def _next_sealed(handle: IO[bytes], header: Header, name: str) -> bytes | None:
    raw_length = handle.read(_LENGTH.size)
    if not raw_length:
        return None
    length = _LENGTH.unpack(raw_length)[0] if len(raw_length) == _LENGTH.size else -1
    if not TAG <= length <= header.chunk_size + TAG:
        raise UnreadableBackup(f"{name}: damaged or cut short")
    sealed = handle.read(length)
    if len(sealed) != length:
        raise UnreadableBackup(f"{name}: damaged or cut short")
    return sealed


def decrypt(path: Path, plain: Path, data_key: str) -> Header:
    """Verify the whole backup while writing its dump to ``plain`` (mode 0600);
    the header, authenticated. Raise UnreadableBackup or WrongKey: the caller
    must not use ``plain`` then (and should delete it)."""
    name = path.name
    with path.open("rb") as handle:
        header, prefix = _read_prefix(handle, name)
        if not hmac.compare_digest(_derive(data_key, header.salt, CHECK_INFO), header.key_check):
            raise WrongKey(f"{name}: made with another CONSENTRY_DATA_KEY")
        aead = AESGCM(_derive(data_key, header.salt, KEY_INFO))
        digest = hashlib.sha256(prefix).digest()
        fd = os.open(plain, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            sealed = _next_sealed(handle, header, name)
            index = 0
            while sealed is not None:
                following = _next_sealed(handle, header, name)
                final = following is None
                try:
                    data = aead.decrypt(
                        _nonce(index), sealed, _associated_data(digest, index, final)
                    )
                except InvalidTag:
                    raise UnreadableBackup(
                        f"{name}: damaged, changed or cut short (part {index + 1} fails "
                        "authentication)"
                    ) from None
                out.write(data)
                sealed, index = following, index + 1
            if index == 0:
                raise UnreadableBackup(f"{name}: damaged or cut short (no data)")
    return header
