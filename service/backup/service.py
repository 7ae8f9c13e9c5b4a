"""Making and restoring backups (docs/backup.md).

``create_backup`` takes a consistent snapshot while the service runs — the
SQLite online backup API, or ``pg_dump`` (one repeatable-read transaction) —
into a private temporary directory, encrypts it into the named file and
deletes the plaintext, whatever happens.

``restore_backup`` decrypts and verifies the whole file before it touches
anything, reads from the current database what a restore must not undo
(service.backup.replay), then builds the restored database *beside* the live
one — a staging file for SQLite, a fresh ``public`` schema with the old one
set aside for PostgreSQL — migrates it, replays erasures and suppressions,
and only then makes it the live one. A failure at any step leaves the
database as it was.
"""

from __future__ import annotations

import asyncio
import dataclasses
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock, running
from service.audit.chain import TABLE as AUDIT
from service.audit.chain import Event, append
from service.backup import postgres, sqlite
from service.backup.carry import carry_audit
from service.backup.fileformat import BackupError, Header, decrypt, encrypt, new_header
from service.backup.replay import ReplayLog, ReplayReport, apply_log, read_log
from service.db import create_engine, create_sessionmaker, run, session_scope
from service.migrate import alembic_config, upgrade_async
from service.models.audit import AuditActor
from service.settings import Settings

NO_REPLAY_HINT = (
    "if it is lost, restore with --no-replay and redo the erasures made since the backup "
    "from other records"
)


@dataclass(frozen=True, slots=True)
class Restored:
    header: Header
    revision: str  # the database's revision now (the backup's, migrated)
    replay: ReplayReport | None  # None: restored with --no-replay


def backend(database_url: str) -> str:
    return "sqlite" if make_url(database_url).get_backend_name() == "sqlite" else "postgresql"


def _workdir() -> tempfile.TemporaryDirectory[str]:
    # Mode 0700, under TMPDIR; the plaintext dump lives only in here, and
    # the directory goes when the block ends, also on an error.
    return tempfile.TemporaryDirectory(prefix="consentry-backup-")


def _unreadable(exc: Exception) -> BackupError:
    if "no such table" in str(exc) or "does not exist" in str(exc):
        return BackupError("the database has no tables yet; run `consentry migrate`")
    return BackupError(f"cannot read the database ({type(exc).__name__})")


async def _revision(database_url: str) -> str:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return str(
                (
                    await connection.execute(text("SELECT version_num FROM alembic_version"))
                ).scalar_one()
            )
    except (OSError, SQLAlchemyError) as exc:
        raise _unreadable(exc) from None
    finally:
        await engine.dispose()


async def _pg_tools(settings: Settings) -> postgres.Tools:
    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as connection:
            major = await postgres.server_major(connection)
    except (OSError, SQLAlchemyError) as exc:
        raise _unreadable(exc) from None
    finally:
        await engine.dispose()
    return postgres.find_tools(major, settings.pg_bin_dir)


async def _pg_dump(settings: Settings, target: Path) -> str:
    revision = await _revision(settings.database_url)
    tools = await _pg_tools(settings)
    await asyncio.to_thread(postgres.dump, tools, postgres.libpq_env(settings.database_url), target)
    # pg_dump's snapshot began after the first read: a migration in between
    # would make the header lie about the dump.
    if await _revision(settings.database_url) != revision:
        raise BackupError("the database was migrated during the backup; make it again")
    return revision


def _check_target(target: Path) -> None:
    if target.exists():
        raise BackupError(f"{target} exists; name a new file")
    if not target.parent.is_dir():
        raise BackupError(f"{target.parent}: no such directory")


def _check_source(source: Path) -> None:
    if not source.is_file():
        raise BackupError(f"{source}: no such file")


def _check_live_file(database_url: str) -> None:
    if backend(database_url) == "sqlite" and not sqlite.database_path(database_url).is_file():
        raise BackupError(
            "the current database file does not exist, so the erasures and suppressions "
            f"recorded since the backup cannot be re-applied; {NO_REPLAY_HINT}"
        )


async def create_backup(settings: Settings, target: Path) -> Header:
    """Write an encrypted snapshot of the database to ``target`` (a new file)."""
    _check_target(target)
    kind = backend(settings.database_url)
    # Taken before the snapshot starts: nothing in it is younger than this.
    created_at = clock.now()
    with _workdir() as workdir:
        dump = Path(workdir) / "dump"
        if kind == "sqlite":
            live = sqlite.database_path(settings.database_url)
            revision = await asyncio.to_thread(sqlite.snapshot, live, dump)
        else:
            revision = await _pg_dump(settings, dump)
        header = new_header(
            settings.data_key, database=kind, created_at=created_at, revision=revision
        )
        await asyncio.to_thread(encrypt, dump, target, header, settings.data_key)
    return header


def _check_revision(header: Header, database_url: str) -> None:
    scripts = ScriptDirectory.from_config(alembic_config(database_url))
    if header.revision not in {script.revision for script in scripts.walk_revisions()}:
        raise BackupError(
            f"the backup's database revision {header.revision} is unknown to this version "
            "of Consentry (a newer one made it)"
        )


async def _current_log(database_url: str) -> ReplayLog:
    _check_live_file(database_url)
    engine = create_engine(database_url)
    try:
        async with session_scope(create_sessionmaker(engine)) as session:
            return await read_log(session)
    except (OSError, SQLAlchemyError) as exc:
        raise BackupError(
            f"the current database cannot be read ({type(exc).__name__}), so the erasures "
            f"and suppressions recorded since the backup cannot be re-applied; {NO_REPLAY_HINT}"
        ) from None
    finally:
        await engine.dispose()


async def _carry(session: AsyncSession, live_url: str | None) -> tuple[int, int]:
    """Carry the current trail's later events into the restored one (in
    ``session``): read from the live SQLite file at ``live_url``, or from the
    schema PostgreSQL set aside (None). (events carried, newest id read)."""
    if live_url is None:
        side = AUDIT.to_metadata(MetaData(), schema=postgres.SIDE_SCHEMA)
        carried = await carry_audit(session, session, side)
        return carried.events, carried.source_newest_id
    engine = create_engine(live_url)
    try:
        async with create_sessionmaker(engine)() as live:
            carried = await carry_audit(session, live, AUDIT)
    finally:
        await engine.dispose()
    return carried.events, carried.source_newest_id


async def _finish(
    database_url: str,
    header: Header,
    log: ReplayLog | None,
    *,
    drop_side_schema: bool = False,
    live_url: str | None = None,
) -> tuple[ReplayReport | None, int]:
    """Carry the later audit events over and replay ``log`` on the restored
    (and migrated) database, and record the restore in the audit trail, in one
    transaction; the report and the newest id of the current trail read."""
    engine = create_engine(database_url)
    try:
        async with session_scope(create_sessionmaker(engine)) as session:
            # First, so they follow the backup's own events in the chain, in
            # their order; the replay and the restore's own event come after.
            carried, newest_read = (0, 0) if log is None else await _carry(session, live_url)
            report = None if log is None else await apply_log(session, log)
            if report is not None:
                report = dataclasses.replace(report, audit_events_carried=carried)
            details: dict[str, object] = {
                "backup_revision": header.revision,
                "replay": log is not None,
            }
            if report is not None:
                details |= {
                    "erasures_reapplied": report.erasures_reapplied,
                    "erasures_recorded": report.erasures_recorded,
                    "suppressions_added": report.suppressions_added,
                    "withdrawals_replayed": report.withdrawals_replayed,
                    "bans_replayed": report.bans_replayed,
                    "objections_replayed": report.objections_replayed,
                    "restrictions_replayed": report.restrictions_replayed,
                    "restrictions_kept_in_force": report.restrictions_kept_in_force,
                    "transfers_forbidden_replayed": report.transfers_forbidden_replayed,
                    "profiles_ended_replayed": report.profiles_ended_replayed,
                    "audit_events_carried": report.audit_events_carried,
                }
            await append(
                session,
                Event(
                    actor=AuditActor.SYSTEM,
                    action="backup.restore",
                    method="CLI",
                    route="consentry backup restore",
                    status_code=200,
                    details=details,
                ),
            )
            if drop_side_schema:
                await run(session, postgres.DROP_SIDE_SCHEMA)
            return report, newest_read
    finally:
        await engine.dispose()


async def _restore_sqlite(
    settings: Settings, header: Header, dump: Path, log: ReplayLog | None
) -> ReplayReport | None:
    live = sqlite.database_path(settings.database_url)
    staging_url = f"sqlite+aiosqlite:///{dump}"
    await upgrade_async(staging_url)
    report, audit_read = await _finish(staging_url, header, log, live_url=settings.database_url)
    # Building the staging copy takes a while: an erasure or an audit event
    # recorded meanwhile (by a service that was not stopped) would be lost
    # with the old file.
    if log is not None and (
        await _current_log(settings.database_url) != log
        or await _newest_audit_id(settings.database_url) != audit_read
    ):
        raise BackupError(
            "the database changed during the restore (is the service still running?); "
            "stop it and restore again; nothing was changed"
        )
    await asyncio.to_thread(sqlite.replace, dump, live)
    return report


async def _restore_postgres(
    settings: Settings, header: Header, dump: Path, log: ReplayLog | None
) -> ReplayReport | None:
    url = settings.database_url
    tools = await _pg_tools(settings)
    env = postgres.libpq_env(url)
    creates_public = await asyncio.to_thread(postgres.creates_public_schema, tools, env, dump)
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await postgres.set_aside(connection, create_public=not creates_public)
    finally:
        await engine.dispose()
    try:
        await asyncio.to_thread(postgres.load, tools, env, dump)
        await upgrade_async(url)
        return (await _finish(url, header, log, drop_side_schema=True))[0]
    except BaseException:
        await _put_back(url)
        raise


async def _newest_audit_id(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return int((await connection.execute(select(func.max(AUDIT.c.id)))).scalar() or 0)
    finally:
        await engine.dispose()


async def running_processes(settings: Settings) -> list[running.Process]:
    """The API, worker and inbound processes of this installation that are
    running: on this host (their files in the var dir) and, for PostgreSQL,
    connected to the database from anywhere (application_name)."""
    found = running.running_here(settings.var_dir)
    if backend(settings.database_url) == "postgresql":
        engine = create_engine(settings.database_url)
        try:
            async with engine.connect() as connection:
                found += await running.running_on_database(connection)
        except (OSError, SQLAlchemyError):
            pass  # the restore itself says the database cannot be read
        finally:
            await engine.dispose()
    unique = {(p.role, p.pid, p.host): p for p in found}
    return sorted(unique.values(), key=lambda p: (running.ROLES.index(p.role), p.pid))


def _refusal(processes: list[running.Process]) -> str:
    described = [process.describe() for process in processes]
    which = described[-1]
    if len(described) > 1:
        which = ", ".join(described[:-1]) + f" and {which}"
    verb, them = ("is", "it") if len(described) == 1 else ("are", "them")
    return (
        f"{which} {verb} running on this installation; stop {them} before restoring "
        "(or pass --force)"
    )


async def _put_back(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await postgres.put_back(connection)
    except (OSError, SQLAlchemyError) as exc:
        raise BackupError(
            f"the restore failed, and so did putting the database back ({type(exc).__name__}): "
            f"the data as it was is in the schema {postgres.SIDE_SCHEMA}; see docs/backup.md"
        ) from None
    finally:
        await engine.dispose()


async def restore_backup(
    settings: Settings, source: Path, *, replay: bool = True, force: bool = False
) -> Restored:
    """Replace the database with the backup in ``source``, then re-apply the
    erasures and suppressions of the current database and carry its later
    audit events over (unless ``replay`` is False: for a current database
    that is lost). Refused while an API or worker runs, unless ``force``."""
    _check_source(source)
    if not force and (processes := await running_processes(settings)):
        raise BackupError(_refusal(processes))
    kind = backend(settings.database_url)
    with _workdir() as workdir:
        dump = Path(workdir) / "dump"
        header = await asyncio.to_thread(decrypt, source, dump, settings.data_key)
        if header.database != kind:
            raise BackupError(
                f"{source.name} is a backup of a {header.database} database; "
                f"CONSENTRY_DATABASE_URL is a {kind} one"
            )
        _check_revision(header, settings.database_url)
        log = await _current_log(settings.database_url) if replay else None
        if kind == "sqlite":
            report = await _restore_sqlite(settings, header, dump, log)
        else:
            report = await _restore_postgres(settings, header, dump, log)
    return Restored(header=header, revision=await _revision(settings.database_url), replay=report)


def describe(created_at: datetime) -> str:
    """A backup's time for people: minutes, in Helsinki."""
    return created_at.astimezone(clock.LOCAL_ZONE).strftime("%Y-%m-%d %H:%M %Z")
