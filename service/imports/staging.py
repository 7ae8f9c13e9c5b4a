"""An uploaded import file kept between its dry run and its commit (the
staff pages' two-step import).

The file is written mode 0600 in a 0700 directory under the var dir, named
by a random id; a sidecar holds who may use it (a hash of the staff
session's token: another session, even of the same person, cannot), its
name, when it was staged and what the dry run found. The id travels in the
commit form's body, never in a URL. A staged file lives ``TTL``; every
``stage`` and ``take`` deletes the expired ones, and a commit deletes its own.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from service import clock
from service.errors import NotFound
from service.private import FILE_MODE, private_dir

TTL = timedelta(minutes=30)
DIRECTORY = "import-uploads"
_ID = re.compile(r"^[A-Za-z0-9_-]{32}$")


@dataclass(frozen=True, slots=True)
class Staged:
    raw: bytes
    file_name: str
    staged_at: datetime
    expected: dict[str, int]


def owner_of(session_token: str) -> str:
    """What binds a staged file to one staff session (the token itself is never stored)."""
    return hashlib.sha256(session_token.encode()).hexdigest()


def _folder(var_dir: Path) -> Path:
    return private_dir(var_dir / DIRECTORY)


def _write(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "wb") as file:
        file.write(data)


def sweep(var_dir: Path) -> int:
    """Delete the staged files older than TTL; how many."""
    cut = (clock.now() - TTL).timestamp()
    gone = 0
    for path in _folder(var_dir).iterdir():
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_mtime < cut:
                path.unlink()
                gone += 1
    return gone


def stage(
    var_dir: Path, *, raw: bytes, file_name: str, owner: str, expected: dict[str, int]
) -> str:
    """Keep ``raw`` for its commit; the id to send back with it."""
    sweep(var_dir)
    folder = _folder(var_dir)
    upload_id = secrets.token_urlsafe(24)
    now = clock.now()
    _write(folder / f"{upload_id}.csv", raw)
    meta = {
        "owner": owner,
        "file_name": file_name,
        "staged_at": now.isoformat(),
        "expected": expected,
    }
    _write(folder / f"{upload_id}.json", json.dumps(meta).encode())
    for suffix in (".csv", ".json"):
        # The file's time is the service clock's, so TTL holds under a test's clock too.
        os.utime(folder / f"{upload_id}{suffix}", (now.timestamp(), now.timestamp()))
    return upload_id


def take(var_dir: Path, upload_id: str, *, owner: str) -> Staged:
    """The staged file, if ``owner`` staged it less than TTL ago; NotFound
    otherwise (a wrong, tampered, expired or used id all read the same)."""
    gone = NotFound(
        "this upload is no longer available (it expired, was already imported, or "
        "belongs to another session): upload the file again"
    )
    if not isinstance(upload_id, str) or not _ID.match(upload_id):
        raise gone
    sweep(var_dir)
    folder = _folder(var_dir)
    try:
        meta: dict[str, Any] = json.loads((folder / f"{upload_id}.json").read_bytes())
        raw = (folder / f"{upload_id}.csv").read_bytes()
    except (FileNotFoundError, ValueError):
        raise gone from None
    staged_at = datetime.fromisoformat(str(meta.get("staged_at")))
    if not hmac.compare_digest(str(meta.get("owner")), owner) or clock.now() - staged_at > TTL:
        raise gone
    return Staged(
        raw=raw,
        file_name=str(meta.get("file_name") or "upload.csv"),
        staged_at=staged_at,
        expected={str(k): int(v) for k, v in dict(meta.get("expected") or {}).items()},
    )


def discard(var_dir: Path, upload_id: str) -> None:
    if not _ID.match(upload_id):
        return
    folder = _folder(var_dir)
    for suffix in (".csv", ".json"):
        with contextlib.suppress(FileNotFoundError):
            (folder / f"{upload_id}{suffix}").unlink()
