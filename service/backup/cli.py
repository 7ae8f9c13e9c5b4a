"""``consentry backup …``: the commands, registered on service.cli's parser by ``add_commands``.

As every command: a problem prints one line, ``consentry: …``, and exits 1
(bad settings exit 2, in service.cli). Nothing printed names a person: only
files, times, revisions and counts.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import NoReturn

from sqlalchemy.exc import SQLAlchemyError

from service import clock
from service.backup import schedule
from service.backup.fileformat import BackupError
from service.backup.service import create_backup, describe, restore_backup
from service.settings import Settings

EXIT_FAILED = 1


def _fail(message: str) -> NoReturn:
    print(f"consentry: {message}", file=sys.stderr)
    raise SystemExit(EXIT_FAILED)


def _size(number: int) -> str:
    if number < 1024:
        return f"{number} bytes"
    value = number / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def cmd_create(settings: Settings, args: argparse.Namespace) -> None:
    target: Path = args.file
    try:
        header = asyncio.run(create_backup(settings, target))
    except BackupError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot write the backup: {exc.strerror or exc}")
    print(
        f"consentry: encrypted backup of the {header.database} database (revision "
        f"{header.revision}, taken {describe(header.created_at)}) written to {target} "
        f"({_size(target.stat().st_size)})"
    )


def cmd_restore(settings: Settings, args: argparse.Namespace) -> None:
    try:
        restored = asyncio.run(
            restore_backup(settings, args.file, replay=not args.no_replay, force=args.force)
        )
    except BackupError as exc:
        _fail(str(exc))
    except SQLAlchemyError as exc:
        # The message of a database error can quote row values: its kind only.
        _fail(f"the restore failed ({type(exc).__name__}); the database is as it was")
    except OSError as exc:
        _fail(f"cannot read the backup: {exc.strerror or exc}")
    header = restored.header
    migrated = "" if restored.revision == header.revision else f", migrated to {restored.revision}"
    print(
        f"consentry: restored the {header.database} backup taken {describe(header.created_at)} "
        f"(revision {header.revision}{migrated})"
    )
    replay = restored.replay
    if replay is None:
        print(
            "consentry: erasures and suppressions recorded since the backup were NOT "
            "re-applied (--no-replay), nor later audit events carried over: redo them from "
            "other records now",
            file=sys.stderr,
        )
        return
    print(
        f"consentry: re-applied erasures: {replay.erasures_reapplied} contact(s) in the backup "
        f"erased again, {replay.erasures_recorded} erasure record(s) put back; "
        f"{replay.suppressions_added} suppression(s) added; "
        f"{replay.withdrawals_replayed} withdrawal(s), {replay.bans_replayed} ban(s), "
        f"{replay.objections_replayed} objection(s), "
        f"{replay.restrictions_replayed} restriction(s) and "
        f"{replay.transfers_forbidden_replayed} profile transfer ban(s) recorded since the "
        f"backup put back; {replay.profiles_ended_replayed} profile(s) handed over or "
        "destroyed since ended again"
    )
    if replay.restrictions_kept_in_force:
        print(
            f"consentry: {replay.restrictions_kept_in_force} restriction(s) lifted since the "
            "backup are in force again (a restore never lifts one): lift them again if that "
            "still holds, after telling the person"
        )
    print(
        f"consentry: {replay.audit_events_carried} audit event(s) recorded since the backup "
        "carried into the restored trail (marked carried_over_from_restore)"
    )


def cmd_list(settings: Settings, _: argparse.Namespace) -> None:
    listed = schedule.list_backups(settings.backup_dir)
    if not listed:
        print(f"consentry: no scheduled backups in {settings.backup_dir}")
        return
    for item in listed:
        if item.header is None:
            print(f"{item.path.name}  unreadable: {item.problem}")
            continue
        print(
            f"{item.path.name}  {item.header.database}  revision {item.header.revision}  "
            f"taken {describe(item.header.created_at)}  {_size(item.size)}"
        )


def cmd_prune(settings: Settings, _: argparse.Namespace) -> None:
    try:
        pruned = schedule.prune(
            settings.backup_dir, keep_days=settings.backup_keep_days, now=clock.now()
        )
    except OSError as exc:
        _fail(f"cannot prune {settings.backup_dir}: {exc.strerror or exc}")
    print(
        f"consentry: deleted {len(pruned)} backup(s) older than {settings.backup_keep_days} "
        f"days from {settings.backup_dir}"
    )


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``backup create|restore|list|prune`` on the ``consentry`` parser."""
    backup = commands.add_parser(
        "backup", help="encrypted backups of the database, and restoring them"
    ).add_subparsers(dest="backup_command", required=True, metavar="ACTION")

    create = backup.add_parser(
        "create", help="write an encrypted snapshot of the database; the service may run"
    )
    create.add_argument("file", type=Path, metavar="FILE", help="a new file")
    create.set_defaults(handler=cmd_create)

    restore = backup.add_parser(
        "restore",
        help="replace the database with a backup, then re-apply later erasures and "
        "suppressions and carry later audit events over; refused while an API or worker runs",
    )
    restore.add_argument("file", type=Path, metavar="FILE")
    restore.add_argument(
        "--no-replay",
        action="store_true",
        help="the current database is lost: restore without re-applying what it recorded "
        "since the backup",
    )
    restore.add_argument(
        "--force",
        action="store_true",
        help="restore even though an API, worker or inbound listener of this installation "
        "seems to be running (what it writes meanwhile may be lost)",
    )
    restore.set_defaults(handler=cmd_restore)

    backup.add_parser("list", help="the scheduled backups in CONSENTRY_BACKUP_DIR").set_defaults(
        handler=cmd_list
    )
    backup.add_parser(
        "prune", help="delete scheduled backups older than CONSENTRY_BACKUP_KEEP_DAYS"
    ).set_defaults(handler=cmd_prune)
