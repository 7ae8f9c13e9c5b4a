"""A restore replays the person's later limits on processing (issue 17 item
2), on real SQLite and real PostgreSQL through the real backup and restore:
a profile's "transfer forbidden", a restriction placed since, a profile
destroyed since by a withdrawal of the profiling consent; and it never lifts
a restriction lifted since (a restore makes nobody more processed)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlmodel import col

from service import clock
from service.backup.service import create_backup, restore_backup
from service.db import SessionMaker, run, session_scope
from service.models import Contact, Profile, Restriction, RetentionAction
from service.models.enums import ProfileState
from service.settings import Settings
from tests.integration.backup.conftest import Client
from tests.integration.backup.test_restore import forget_connections
from tests.support.factories import EVIDENCE, add_contact, record_consent, unique_email


async def profiled(admin: Client) -> tuple[int, int]:
    """A contact who consented to profiling, with one profile."""
    contact_id = await add_contact(admin, email=unique_email("profiled"))
    await record_consent(
        admin, contact_id, action="grant", purpose="profiling_report", evidence=EVIDENCE
    )
    created = await admin.post(
        f"/api/v1/contacts/{contact_id}/profiles",
        json={"completed_on": "2025-05-05", "has_vendor_account": True, "content": "D: high"},
    )
    assert created.status_code == 201, created.text
    return contact_id, created.json()["id"]


async def rows(sessionmaker: SessionMaker, model: Any, *where: Any) -> list[Any]:
    async with sessionmaker() as session:
        query = select(model).where(*where).order_by(col(model.id))
        return list((await run(session, query)).scalars().all())


async def test_a_restore_keeps_later_transfer_bans_restrictions_and_ended_profiles(
    admin: Client, sessionmaker: SessionMaker, backup_settings: Settings, tmp_path: Any
) -> None:
    _, forbidden = await profiled(admin)
    withdrawing, withdrawn = await profiled(admin)
    restricted = await add_contact(admin, email=unique_email("restricted"))
    lifted = await add_contact(admin, email=unique_email("lifted"))
    placed = await admin.post(
        f"/api/v1/contacts/{lifted}/restriction", json={"reason": "accuracy contested"}
    )
    assert placed.status_code == 200, placed.text
    backup = tmp_path / "limits.backup"
    await create_backup(backup_settings, backup)

    # After the snapshot: each limits processing in their own way.
    forbid = await admin.patch(f"/api/v1/profiles/{forbidden}", json={"transfer_forbidden": True})
    assert forbid.status_code == 200, forbid.text
    await record_consent(admin, withdrawing, action="withdraw", purpose="profiling_report")
    assert (await rows(sessionmaker, Profile, col(Profile.id) == withdrawn))[
        0
    ].state is ProfileState.DESTROYED
    restriction = await admin.post(
        f"/api/v1/contacts/{restricted}/restriction", json={"reason": "objection being assessed"}
    )
    assert restriction.status_code == 200, restriction.text
    # …and one restriction is lifted (as the lift does it: both rows).
    async with session_scope(sessionmaker) as session:
        await run(
            session,
            update(Restriction)
            .where(col(Restriction.contact_id) == lifted)
            .values(lifted_at=clock.now(), lift_note="checked"),
        )
        await run(
            session, update(Contact).where(col(Contact.id) == lifted).values(restricted_at=None)
        )

    await forget_connections(sessionmaker)
    restored = await restore_backup(backup_settings, backup)
    await forget_connections(sessionmaker)

    replay = restored.replay
    assert replay is not None
    assert (
        replay.transfers_forbidden_replayed,
        replay.restrictions_replayed,
        replay.restrictions_kept_in_force,
        replay.withdrawals_replayed,
    ) == (1, 1, 1, 1)
    [kept] = await rows(sessionmaker, Profile, col(Profile.id) == forbidden)
    assert kept.transfer_forbidden_at is not None and kept.state is ProfileState.KEPT
    # Destroyed again by the replayed withdrawal, and recorded again.
    [gone] = await rows(sessionmaker, Profile, col(Profile.id) == withdrawn)
    assert gone.state is ProfileState.DESTROYED and gone.content_encrypted is None
    assert [(r.rule, r.reference) for r in await rows(sessionmaker, RetentionAction)] == [
        ("profile_consent_withdrawn", f"profile {withdrawn}")
    ]
    assert (await admin.get(f"/api/v1/profiles/{withdrawn}/content")).status_code == 410
    # The later restriction is back, in force for the gate; the lifted one stays.
    [again] = await rows(sessionmaker, Restriction, col(Restriction.contact_id) == restricted)
    assert again.reason == "objection being assessed" and again.lifted_at is None
    for contact_id in (restricted, lifted):
        eligibility = (await admin.get(f"/api/v1/contacts/{contact_id}/eligibility")).json()
        assert "restricted" in eligibility["reasons"], contact_id


async def test_a_profile_ended_since_the_snapshot_is_not_kept_again(
    admin: Client, sessionmaker: SessionMaker, backup_settings: Settings, tmp_path: Any
) -> None:
    _, handed = await profiled(admin)
    backup = tmp_path / "ended.backup"
    await create_backup(backup_settings, backup)
    # As the retention run ends one (service.retention.actions._transfer).
    async with session_scope(sessionmaker) as session:
        await run(
            session,
            update(Profile)
            .where(col(Profile.id) == handed)
            .values(
                state=ProfileState.TRANSFERRED.value,
                transferred_at=clock.now(),
                content_encrypted=None,
            ),
        )

    await forget_connections(sessionmaker)
    restored = await restore_backup(backup_settings, backup)
    await forget_connections(sessionmaker)

    assert restored.replay is not None and restored.replay.profiles_ended_replayed == 1
    [profile] = await rows(sessionmaker, Profile, col(Profile.id) == handed)
    assert profile.state is ProfileState.TRANSFERRED and profile.content_encrypted is None
    assert profile.transferred_at is not None
