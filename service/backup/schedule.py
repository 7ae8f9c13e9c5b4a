"""Scheduled backups: their names, their age, and the run the worker starts.

A scheduled backup is ``CONSENTRY_BACKUP_DIR/consentry-YYYYMMDDTHHMMSSZ.backup``
(the snapshot's time, UTC). Pruning reads the age from that name, not from
the file's mtime (a copy or a restore from tape changes that), deletes only
files named so, and always keeps the newest: if backups have been failing
for longer than the keep time, the last good one is still there.

``run_scheduled`` is what the worker's nightly job starts as a process of
its own (``python -m service.backup``; see workers/backup.py): a lock file
in the backup directory keeps two runs from overlapping.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from service import clock
from service.backup.fileformat import BackupError, Header, read_header
from service.backup.service import create_backup
from service.private import open_private
from service.settings import Settings

NAME = re.compile(r"^consentry-(\d{8}T\d{6}Z)\.backup$")
STAMP = "%Y%m%dT%H%M%SZ"
LOCK_FILE = ".consentry-backup.lock"


def file_name(created_at: datetime) -> str:
    return f"consentry-{created_at.astimezone(UTC).strftime(STAMP)}.backup"


def _stamp(path: Path) -> datetime | None:
    match = NAME.match(path.name)
    if match is None or not path.is_file():
        return None
    try:
        return datetime.strptime(match.group(1), STAMP).replace(tzinfo=UTC)
    except ValueError:  # matches the pattern, but no real time ("20261399T…")
        return None


def scheduled_backups(directory: Path) -> list[tuple[datetime, Path]]:
    """Files named as scheduled backups, oldest first."""
    if not directory.is_dir():
        return []
    found = [(stamp, path) for path in directory.iterdir() if (stamp := _stamp(path))]
    return sorted(found)


def prune(directory: Path, *, keep_days: int, now: datetime) -> list[Path]:
    """Delete scheduled backups older than ``keep_days``, except the newest; the deleted."""
    cutoff = now - timedelta(days=keep_days)
    doomed = [path for stamp, path in scheduled_backups(directory)[:-1] if stamp < cutoff]
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed


@dataclass(frozen=True, slots=True)
class Listed:
    path: Path
    size: int
    header: Header | None
    problem: str | None


def list_backups(directory: Path) -> list[Listed]:
    listed = []
    for _, path in scheduled_backups(directory):
        try:
            listed.append(Listed(path, path.stat().st_size, read_header(path), None))
        except (BackupError, OSError) as exc:
            listed.append(Listed(path, 0, None, str(exc)))
    return listed


@contextlib.contextmanager
def _exclusive(directory: Path) -> Iterator[bool]:
    with os.fdopen(open_private(directory / LOCK_FILE, os.O_WRONLY | os.O_APPEND), "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass(frozen=True, slots=True)
class ScheduledRun:
    path: Path | None  # None: another run held the lock
    pruned: tuple[Path, ...] = ()


def run_scheduled(settings: Settings) -> ScheduledRun:
    """Make a backup into the backup directory, then prune old ones (blocking)."""
    directory = settings.backup_dir
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _exclusive(directory) as mine:
        if not mine:
            return ScheduledRun(None)
        target = directory / file_name(clock.now())
        asyncio.run(create_backup(settings, target))
        # Only after a backup succeeded: a failing one never costs an old one.
        pruned = prune(directory, keep_days=settings.backup_keep_days, now=clock.now())
        return ScheduledRun(target, tuple(pruned))
