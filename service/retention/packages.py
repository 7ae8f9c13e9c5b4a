"""Export packages handed to the profile vendor (the notice §6).

One file per profile in ``CONSENTRY_PROFILE_TRANSFER_DIR``, named by the
profile's id only (no personal data in a file name): the package's JSON,
encrypted in memory with ``age`` to the vendor's X25519 public key
(``CONSENTRY_PROFILE_VENDOR_AGE_RECIPIENT``), so the plaintext never touches
the disk and only the vendor's own identity opens it. The file is readable by
the owner only (0600, ``service.private``) in a 0700 directory. It is written
to a hidden temporary file beside its final name and renamed into place once
the database change is ready to commit, so whatever collects the packages
never sees a half-written one, and a transfer whose commit failed is simply
written again, whole, by the next run.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyrage

from service import private

PACKAGE_FORMAT = "consentry/profile-transfer/1"


def package_name(profile_id: int) -> str:
    return f"profile-{int(profile_id)}.json.age"


@dataclass(frozen=True, slots=True)
class StagedPackage:
    """A package written to its temporary file, not yet in place."""

    temporary: Path
    final: Path

    def publish(self) -> None:
        os.replace(self.temporary, self.final)
        # The rename itself reaches the disk only with the directory.
        with contextlib.suppress(OSError):
            directory = os.open(self.final.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)

    def discard(self) -> None:
        self.temporary.unlink(missing_ok=True)


def seal_package(payload: dict[str, Any], *, recipient: str) -> bytes:
    """The package's JSON, encrypted to ``recipient`` (an ``age1…`` key)."""
    data = json.dumps({"format": PACKAGE_FORMAT, **payload}, ensure_ascii=False, indent=2)
    return pyrage.encrypt(data.encode("utf-8"), [pyrage.x25519.Recipient.from_str(recipient)])


def stage_package(
    directory: Path, *, profile_id: int, payload: dict[str, Any], recipient: str
) -> StagedPackage:
    """Encrypt ``payload`` to ``recipient`` and write it to a private
    temporary file in ``directory`` (created, mode 0700, if missing)."""
    sealed = seal_package(payload, recipient=recipient)
    private.private_dir(directory)
    final = directory / package_name(profile_id)
    temporary = directory / f".{final.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, private.FILE_MODE)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            # The umask can only take bits away; this makes the mode exact.
            os.fchmod(handle.fileno(), private.FILE_MODE)
            handle.write(sealed)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return StagedPackage(temporary, final)
