"""SQLite: the online backup API, in both directions.

One step of the backup API (all pages at once) runs in one read transaction
of the source: the copy is the database as of one moment, while the
service's writers go on writing (WAL mode lets them). In the other
direction the copy is one write transaction of the live database, through
its own WAL, so it replaces the data all at once or not at all.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from sqlalchemy.engine import make_url

from service.backup.fileformat import BackupError
from service.private import private_dir, private_file

BUSY_TIMEOUT_SECONDS = 15


def database_path(database_url: str) -> Path:
    name = make_url(database_url).database
    if not name or name == ":memory:":
        raise BackupError("CONSENTRY_DATABASE_URL names no SQLite file to back up or restore")
    return Path(name)


def snapshot(live: Path, copy: Path) -> str:
    """Copy the live database to ``copy``; the copy's Alembic revision."""
    if not live.is_file():
        raise BackupError(f"the database file {live} does not exist")
    try:
        return _snapshot(live, copy)
    except sqlite3.Error as exc:
        # SQLite's messages name the problem ("database is locked"), never data.
        raise BackupError(f"SQLite: {exc}") from None


def _snapshot(live: Path, copy: Path) -> str:
    with (
        closing(sqlite3.connect(live, timeout=BUSY_TIMEOUT_SECONDS)) as source,
        closing(sqlite3.connect(copy)) as target,
    ):
        source.backup(target)
        # A file of its own, without a WAL beside it to be forgotten.
        target.execute("PRAGMA journal_mode=DELETE")
        try:
            row = target.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.OperationalError:
            row = None
    if row is None:
        raise BackupError("the database has no tables yet; run `consentry migrate`")
    return str(row[0])


def replace(staging: Path, live: Path) -> None:
    """Make the live database a copy of ``staging``."""
    private_dir(live.parent)
    private_file(live)
    try:
        with (
            closing(sqlite3.connect(staging)) as source,
            closing(sqlite3.connect(live, timeout=BUSY_TIMEOUT_SECONDS)) as target,
        ):
            source.backup(target)
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite: {exc}; the database is as it was") from None
