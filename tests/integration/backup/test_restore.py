"""Backups that restore (issue 6, item 6), on real SQLite and real PostgreSQL:
the data comes back, and nobody erased after the snapshot comes back with it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from service import clock
from service.audit.verify import verify
from service.backup.replay import ReplayReport
from service.backup.service import create_backup, restore_backup
from service.db import SessionMaker, create_engine, create_sessionmaker, run, session_scope
from service.settings import Settings
from service.suppressions.service import TABLE as SUPPRESSIONS
from tests.integration.backup.conftest import (
    Client,
    all_rows,
    comparable,
    leftovers,
    table_in_dump,
)
from tests.support.factories import EVIDENCE, MARKETING, add_contact, ban, withdraw

# What a restore adds to the backup's data besides the replay: its own audit row.
REPLAYED = {"erasures", "suppressions", "audit_events"}


def without(rows: list[dict[str, Any]], *names: str) -> list[str]:
    return comparable([{k: v for k, v in row.items() if k not in names} for row in rows])


async def forget_connections(sessionmaker: SessionMaker) -> None:
    # A PostgreSQL restore recreates every table; pooled connections would
    # still hold statements prepared for the old ones.
    await sessionmaker.kw["bind"].dispose()


async def audit_trail(database_url: str) -> tuple[bool, int]:
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            result = await verify(session)
    finally:
        await engine.dispose()
    return result.intact, result.events


async def test_a_restore_brings_the_data_back_but_not_an_erased_person(
    admin: Client,
    sessionmaker: SessionMaker,
    backup_settings: Settings,
    tmp_path: Path,
    private_tmp: Path,
) -> None:
    settings = backup_settings
    kept = await add_contact(
        admin,
        consent=MARKETING,
        full_name="Kalle Kept",
        email="kalle.kept@example.fi",
        phone="040 111 2222",
    )
    erased = await add_contact(
        admin,
        consent=MARKETING,
        full_name="Eero Erased",
        email="eero.erased@example.fi",
        phone="040 333 4444",
    )
    at_backup = await all_rows(settings.database_url)
    backup = tmp_path / "nightly.backup"
    await create_backup(settings, backup)

    # After the snapshot: a person in it is erased, a newer one is added and
    # erased too, and the kept one changes (the restore takes that back).
    assert (await admin.delete(f"/api/v1/contacts/{erased}")).status_code == 204
    later = await add_contact(
        admin, consent=MARKETING, full_name="Liisa Later", email="liisa.later@example.fi"
    )
    assert (await admin.delete(f"/api/v1/contacts/{later}")).status_code == 204
    changed = await admin.patch(f"/api/v1/contacts/{kept}", json={"city": "Elsewhere"})
    assert changed.status_code == 200, changed.text
    before_restore = await all_rows(settings.database_url)
    assert len(before_restore["erasures"]) == 2 and len(before_restore["suppressions"]) == 3

    await forget_connections(sessionmaker)
    restored = await restore_backup(settings, backup)
    now = await all_rows(settings.database_url)

    # Everything else is as it was in the backup …
    for table, rows in at_backup.items():
        if table in REPLAYED:
            continue
        expected = [
            row
            for row in rows
            if row.get("contact_id") != erased and not (table == "contacts" and row["id"] == erased)
        ]
        assert comparable(now[table]) == comparable(expected), table
    assert [c["id"] for c in now["contacts"]] == [kept]
    assert now["contacts"][0]["city"] == at_backup["contacts"][0]["city"] != "Elsewhere"
    # … the erased person is not back, anywhere …
    assert "eero.erased" not in repr(now) and "Eero Erased" not in repr(now)
    # … their suppression entries and the erasure records are there, as they
    # were written when the erasures happened.
    assert without(now["suppressions"], "id") == without(before_restore["suppressions"], "id")
    assert without(now["erasures"], "id") == without(before_restore["erasures"], "id")
    # The audit events recorded after the snapshot are carried over (issue 13 item 10).
    later_events = len(before_restore["audit_events"]) - len(at_backup["audit_events"])
    assert later_events > 0
    assert restored.replay == ReplayReport(
        erasures_reapplied=1,
        erasures_recorded=2,
        suppressions_added=3,
        audit_events_carried=later_events,
    )
    # The restore is in the audit trail, and the trail still verifies.
    assert now["audit_events"][-1]["action"] == "backup.restore"
    assert await audit_trail(settings.database_url) == (True, len(now["audit_events"]))
    assert leftovers(private_tmp) == []


async def test_a_restore_does_not_undo_an_unsubscribe_a_ban_or_an_objection(
    admin: Client, sessionmaker: SessionMaker, backup_settings: Settings, tmp_path: Path
) -> None:
    left = await add_contact(
        admin, consent=MARKETING, full_name="Ulla Unsubscribed", email="ulla@example.fi"
    )
    banned = await add_contact(
        admin, consent=MARKETING, full_name="Bertta Banned", email="bertta@example.fi"
    )
    objecting = await add_contact(
        admin, consent=MARKETING, full_name="Olli Objecting", email="olli@example.fi"
    )
    backup = tmp_path / "choices.backup"
    await create_backup(backup_settings, backup)

    # After the snapshot, each says no in their own way.
    await withdraw(admin, left, method="web_form", evidence=EVIDENCE)
    await ban(admin, banned, channel="all", note="by phone")
    objection = {"scope": "direct_marketing"}
    assert (
        await admin.post(f"/api/v1/contacts/{objecting}/objections", json=objection)
    ).status_code == 201

    await forget_connections(sessionmaker)
    restored = await restore_backup(backup_settings, backup)

    assert restored.replay is not None
    assert (
        restored.replay.withdrawals_replayed,
        restored.replay.bans_replayed,
        restored.replay.objections_replayed,
    ) == (1, 2, 1)  # the objection's ban, too
    await forget_connections(sessionmaker)
    for contact_id, reason in (
        (left, "consent_withdrawn"),
        (banned, "direct_marketing_ban"),
        (objecting, "objected"),
    ):
        eligibility = (await admin.get(f"/api/v1/contacts/{contact_id}/eligibility")).json()
        assert eligibility["eligible"] is False and reason in eligibility["reasons"], contact_id


async def test_a_legal_hold_in_the_backup_does_not_keep_an_erased_person(
    admin: Client, sessionmaker: SessionMaker, backup_settings: Settings, tmp_path: Path
) -> None:
    contact = await add_contact(
        admin, consent=MARKETING, full_name="Hilla Held", email="hilla.held@example.fi"
    )
    url = f"/api/v1/contacts/{contact}/legal-holds"
    hold = await admin.post(url, json={"reason": "A dispute"})
    assert hold.status_code == 201, hold.text
    backup = tmp_path / "held.backup"
    await create_backup(backup_settings, backup)
    lifted = await admin.request("DELETE", f"{url}/{hold.json()['id']}", json={"note": "Settled"})
    assert lifted.status_code == 200, lifted.text
    assert (await admin.delete(f"/api/v1/contacts/{contact}")).status_code == 204

    await forget_connections(sessionmaker)
    restored = await restore_backup(backup_settings, backup)

    now = await all_rows(backup_settings.database_url)
    assert now["contacts"] == [] and now["legal_holds"] == []
    assert restored.replay is not None and restored.replay.erasures_reapplied == 1


async def test_a_backup_taken_during_writes_is_consistent(
    sessionmaker: SessionMaker, backup_settings: Settings, tmp_path: Path, opened: Any
) -> None:
    """A writer adds suppressions two at a time, in one transaction each: a
    consistent snapshot holds whole pairs only, and not the pairs written after it."""
    committed: list[int] = []
    stop, first, backed_up, wrote_after = (asyncio.Event() for _ in range(4))

    async def writer() -> None:
        number = 0
        while not stop.is_set():
            async with session_scope(sessionmaker) as session:
                values = [
                    {"value_hash": f"pair-{number}-{side}", "kind": "email", "reason": "test"}
                    for side in "ab"
                ]
                now = clock.now()
                await run(session, insert(SUPPRESSIONS), [v | {"created_at": now} for v in values])
            committed.append(number)
            first.set()
            if backed_up.is_set():
                wrote_after.set()
            number += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(writer())
    await first.wait()
    backup = tmp_path / "busy.backup"
    await create_backup(backup_settings, backup)
    backed_up.set()
    await wrote_after.wait()  # a pair committed after the snapshot, too
    stop.set()
    await task

    hashes = table_in_dump(
        backup_settings, opened(backup_settings, backup), "suppressions", "value_hash"
    )
    pairs = {h.rsplit("-", 1)[0] for h in hashes}
    assert pairs and len(hashes) == 2 * len(pairs)
    assert len(pairs) < len(committed)
    assert pairs == {f"pair-{n}" for n in range(len(pairs))}
