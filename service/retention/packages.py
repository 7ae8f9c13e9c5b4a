"""Export packages handed to the profile vendor (the notice §6).

One JSON file per profile in ``CONSENTRY_PROFILE_TRANSFER_DIR``, named by the
profile's id only (no personal data in a file name), readable by the owner
only (0600). It is written to a hidden temporary file beside its final name
and renamed into place once the database change is ready to commit, so
whatever collects the packages never sees a half-written one, and a
transfer whose commit failed is simply written again, whole, by the next run.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PACKAGE_FORMAT = "consentry/profile-transfer/1"


def package_name(profile_id: int) -> str:
    return f"profile-{int(profile_id)}.json"


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


def stage_package(directory: Path, *, profile_id: int, payload: dict[str, Any]) -> StagedPackage:
    """Write ``payload`` to a private temporary file in ``directory`` (created,
    mode 0700, if missing)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    final = directory / package_name(profile_id)
    temporary = directory / f".{final.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    data = json.dumps({"format": PACKAGE_FORMAT, **payload}, ensure_ascii=False, indent=2)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            # The umask can only take bits away; this makes the mode exact.
            os.fchmod(handle.fileno(), 0o600)
            handle.write(data.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return StagedPackage(temporary, final)
