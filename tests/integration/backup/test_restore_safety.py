"""Restore is safe (issue 13 item 10), on real SQLite and real PostgreSQL:
refused while an API or worker of the installation runs (a real process
holding its file in the var dir; for PostgreSQL also a connection announcing
itself), unless forced; and no audit event is lost — the events recorded
after the snapshot are carried into the restored trail, marked, and
`audit verify` walks them."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from service import clock, running
from service.audit import cut as cuts
from service.audit.chain import row_hash
from service.audit.verify import verify
from service.backup.carry import MARK
from service.backup.fileformat import BackupError
from service.backup.service import create_backup, restore_backup
from service.db import SessionMaker, create_engine, create_sessionmaker, session_scope
from service.models.enums import Role
from service.settings import Settings
from tests.conftest import TokenFactory
from tests.integration.backup.conftest import Client, all_rows
from tests.support.factories import MARKETING, add_contact

HOLDER = """
import sys, time
from pathlib import Path
from service import clock, running
from service.audit import cut as cuts
with running.registered(Path(sys.argv[1]), sys.argv[2]):
    print("ready", flush=True)
    time.sleep(120)
"""


@contextmanager
def process_holding(var_dir: Path, role: str) -> Iterator[subprocess.Popen[str]]:
    """A real process announcing itself as `role` of the installation in `var_dir`."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(var_dir), role], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "ready\n"
        yield holder
    finally:
        holder.kill()
        holder.wait()


@pytest.fixture
def own_var(backup_settings: Settings, tmp_path: Path) -> Settings:
    """A var dir of the test's own: the session's is shared."""
    return dataclasses.replace(backup_settings, var_dir=tmp_path / "var")


async def forget_connections(sessionmaker: SessionMaker) -> None:
    await sessionmaker.kw["bind"].dispose()


async def trail(database_url: str) -> tuple[bool, int, list[dict[str, Any]]]:
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            result = await verify(session)
        rows = (await all_rows(database_url))["audit_events"]
    finally:
        await engine.dispose()
    return result.intact, result.events, sorted(rows, key=lambda row: row["id"])


async def test_a_restore_is_refused_while_a_worker_or_an_api_runs_unless_forced(
    own_var: Settings, sessionmaker: SessionMaker, tmp_path: Path
) -> None:
    backup = tmp_path / "b.backup"
    await create_backup(own_var, backup)
    with process_holding(own_var.var_dir, "worker") as worker:
        with pytest.raises(BackupError) as refused:
            await restore_backup(own_var, backup)
        assert str(refused.value) == (
            f"a worker (pid {worker.pid}) is running on this installation; "
            "stop it before restoring (or pass --force)"
        )
        with process_holding(own_var.var_dir, "api") as api:
            with pytest.raises(BackupError) as both:
                await restore_backup(own_var, backup)
            assert str(both.value).startswith(
                f"an API (pid {api.pid}) and a worker (pid {worker.pid}) are running"
            )
        await forget_connections(sessionmaker)
        forced = await restore_backup(own_var, backup, force=True)
        assert forced.replay is not None
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    # A process that died (even by SIGKILL) no longer counts; its file is gone.
    await forget_connections(sessionmaker)
    await restore_backup(own_var, backup)
    assert list(running.run_dir(own_var.var_dir).glob("*.lock")) == []


async def test_postgresql_sees_a_worker_connected_from_anywhere(
    own_var: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not own_var.database_url.startswith("postgresql"):
        pytest.skip("application_name is PostgreSQL's")
    backup = tmp_path / "b.backup"
    await create_backup(own_var, backup)
    # A worker on another host has no file here: only its connection tells.
    monkeypatch.setenv(running.ROLE_ENV, "worker")
    engine = create_engine(own_var.database_url)
    monkeypatch.delenv(running.ROLE_ENV)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            with pytest.raises(BackupError, match=rf"^a worker \(pid {os.getpid()}\) is running"):
                await restore_backup(own_var, backup)
    finally:
        await engine.dispose()


async def test_audit_events_after_the_snapshot_are_carried_over_and_verified(
    admin: Client,
    make_token: TokenFactory,
    sessionmaker: SessionMaker,
    own_var: Settings,
    tmp_path: Path,
) -> None:
    settings = own_var
    contact = await add_contact(
        admin, consent=MARKETING, full_name="Aino Audited", email="aino.audited@example.fi"
    )
    backup = tmp_path / "audit.backup"
    await create_backup(settings, backup)
    _, at_backup, _ = await trail(settings.database_url)

    # After the snapshot: a new staff member (not in the backup) reads and
    # changes a person; an admin reads too.
    newcomer = await make_token(Role.ADMIN)
    headers = {"Authorization": f"Bearer {newcomer}"}
    assert (await admin.get(f"/api/v1/contacts/{contact}", headers=headers)).status_code == 200
    patched = await admin.patch(
        f"/api/v1/contacts/{contact}", json={"city": "Oulu"}, headers=headers
    )
    assert patched.status_code == 200
    assert (await admin.get(f"/api/v1/contacts/{contact}")).status_code == 200
    intact, count, before = await trail(settings.database_url)
    assert intact
    later = [row for row in before if row["id"] > at_backup]
    assert len(later) >= 3

    await forget_connections(sessionmaker)
    restored = await restore_backup(settings, backup)

    assert restored.replay is not None
    assert restored.replay.audit_events_carried == len(later)
    intact, total, after = await trail(settings.database_url)
    assert intact and total == count + 1  # and the restore's own event
    carried = after[at_backup : at_backup + len(later)]
    for original, copy in zip(later, carried, strict=True):
        mark = copy["details"][MARK]
        assert mark["id"] == original["id"] and mark["hash"] == original["row_hash"]
        assert row_hash(original) == original["row_hash"]
        same = ("action", "route", "method", "contact_id", "status_code", "occurred_at")
        assert {k: copy[k] for k in same} == {k: original[k] for k in same}
        if original["actor_user_id"] is not None and copy["actor_user_id"] is None:
            # The newcomer is not in the backup: the id is kept in the mark.
            assert mark["actor_user_id"] == original["actor_user_id"]
    assert any("actor_user_id" in row["details"][MARK] for row in carried)
    restore_event = after[-1]
    assert restore_event["action"] == "backup.restore"
    assert restore_event["details"]["audit_events_carried"] == len(later)

    # Restoring the same backup again carries every event once, not twice,
    # and loses none (the first restore's own event included).
    await forget_connections(sessionmaker)
    again = await restore_backup(settings, backup)
    assert again.replay is not None
    assert again.replay.audit_events_carried == len(later) + 1
    intact, _, final = await trail(settings.database_url)
    assert intact
    originals = [
        row["details"].get(MARK, {}).get("hash", row["row_hash"]) for row in final[at_backup:]
    ]
    assert len(originals) == len(set(originals))
    assert {row["row_hash"] for row in later} <= set(originals)


async def test_audit_events_are_carried_over_after_a_retention_cut(
    admin: Client, sessionmaker: SessionMaker, own_var: Settings, tmp_path: Path
) -> None:
    """The live trail was cut (service.audit.cut) after the snapshot, past the
    snapshot's newest event: its oldest ids are gone, and the events it still
    has are carried into the restored trail all the same."""
    settings = own_var
    contact = await add_contact(admin, consent=MARKETING, email="cut.before@example.fi")
    backup = tmp_path / "cut.backup"
    await create_backup(settings, backup)
    _, at_backup, _ = await trail(settings.database_url)
    for _read in range(2):
        assert (await admin.get(f"/api/v1/contacts/{contact}")).status_code == 200
    engine = create_engine(settings.database_url)
    try:
        async with session_scope(create_sessionmaker(engine)) as session:
            # Everything but the newest event is past this retention.
            made = await cuts.cut(
                session, before=clock.now() + timedelta(days=1), retention_days=365
            )
    finally:
        await engine.dispose()
    assert made is not None and made.removed_through_id > at_backup
    assert (await admin.get(f"/api/v1/contacts/{contact}")).status_code == 200
    intact, _, live = await trail(settings.database_url)
    assert intact and live[0]["id"] == made.removed_through_id + 1

    await forget_connections(sessionmaker)
    restored = await restore_backup(settings, backup)

    assert restored.replay is not None
    # The live trail's events, the cut's own among them, each carried once.
    assert restored.replay.audit_events_carried == len(live)
    intact, _, after = await trail(settings.database_url)
    assert intact
    carried = [row["details"][MARK]["hash"] for row in after if MARK in row["details"]]
    assert carried == [row["row_hash"] for row in live]
    assert any(row["action"] == "audit.cut" for row in after)
