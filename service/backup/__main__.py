"""``python -m service.backup``: one scheduled backup, as the worker's nightly job runs it.

A process of its own, so that a backup of a big database is not bound by
the worker's job timeout (workers/backup.py). Its output goes to the
worker's log: the file written and the number of old ones deleted, or one
line saying why it failed.
"""

from __future__ import annotations

import sys

from service.backup.fileformat import BackupError
from service.backup.schedule import run_scheduled
from service.private import restrict_umask
from service.settings import SettingsError, get_settings


def main() -> None:
    restrict_umask()  # the SQLite snapshot is written by SQLite itself
    try:
        settings = get_settings()
    except SettingsError as exc:
        print(f"consentry: scheduled backup: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    try:
        result = run_scheduled(settings)
    except (BackupError, OSError) as exc:
        print(f"consentry: scheduled backup failed: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    if result.path is None:
        print("consentry: scheduled backup skipped: another one is running", flush=True)
        return
    print(
        f"consentry: scheduled backup written to {result.path}; deleted "
        f"{len(result.pruned)} older than {settings.backup_keep_days} days",
        flush=True,
    )


if __name__ == "__main__":
    main()
