"""Withdrawing the profiling_report consent ends the profiles made under it
(issue 17 item 2): by any path the ledger writer serves, the local copy is
destroyed at once and recorded, the plan never plans its transfer, and the
content answers 410. And a hand-over happens only to a fully configured
recipient: without the vendor's key, or outside the EU/EEA without a
safeguard, the profile stays kept and the plan says why."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlmodel import col

from service.crypto import DataCipher
from service.db import SessionMaker, run, session_scope
from service.imports.runner import run_import
from service.models import Disclosure, LegalHold
from service.models.enums import ProfileState
from service.retention.runner import Tools
from service.settings_vendor import VendorSettings
from tests.integration.retention.conftest import (
    START,
    Client,
    NewContact,
    NewProfile,
    actions,
    helsinki,
    hold,
    items_on,
    package_files,
    plan_on,
    profile,
    restrict,
    run_on,
)
from tests.support.clock import FrozenClock
from tests.support.factories import EVIDENCE, record_consent

TODAY = START.date()
# Completed two years and some days ago, its notice out a month ago: the
# transfer is due today.
COMPLETED = date(2024, 6, 1)
NOTICE_SENT = helsinki(date(2026, 5, 1))


async def due_for_transfer(new_contact: NewContact, new_profile: NewProfile) -> tuple[int, int]:
    contact_id = await new_contact()
    profile_id = await new_profile(
        contact_id, COMPLETED, content={"D": 80}, transfer_notice_sent_at=NOTICE_SENT
    )
    return contact_id, profile_id


async def withdraw_profiling(admin: Client, contact_id: int, channel: str = "email") -> None:
    await record_consent(
        admin, contact_id, action="withdraw", channel=channel, purpose="profiling_report"
    )


async def test_a_staff_recorded_withdrawal_destroys_the_profile_and_it_is_never_transferred(
    admin: Client,
    new_contact: NewContact,
    new_profile: NewProfile,
    sessionmaker: SessionMaker,
    tools: Tools,
    frozen_clock: FrozenClock,
    transfer_dir: Path,
) -> None:
    contact_id, profile_id = await due_for_transfer(new_contact, new_profile)
    other_id, other_profile = await due_for_transfer(new_contact, new_profile)
    planned = await items_on(sessionmaker, tools.settings, TODAY, "profile_transfer_2_years")
    assert {(i.subject.id, i.action) for i in planned} == {
        (profile_id, "transfer"),
        (other_profile, "transfer"),
    }

    # Withdrawn on the phone channel: any channel's withdrawal ends profiling.
    await withdraw_profiling(admin, contact_id, channel="phone")

    gone = await profile(sessionmaker, profile_id)
    assert gone.state is ProfileState.DESTROYED
    assert gone.content_encrypted is None and gone.destroyed_at is not None
    assert gone.transferred_at is None
    assert await actions(sessionmaker) == [
        ("profile_consent_withdrawn", "destroy", f"profile {profile_id}", TODAY)
    ]
    assert (await admin.get(f"/api/v1/profiles/{profile_id}/content")).status_code == 410
    # The plan, on the API too, no longer plans its transfer; the other still is.
    listed = (await admin.get("/api/v1/retention/plan", params={"as_of": str(TODAY)})).json()
    profile_items = [i for i in listed["items"] if i["subject"]["kind"] == "profile"]
    assert [(i["subject"]["id"], i["action"]) for i in profile_items] == [
        (other_profile, "transfer")
    ]
    report = await run_on(sessionmaker, tools, frozen_clock, TODAY)
    assert [(i.reference, i.outcome) for i in report.items] == [
        (f"profile {other_profile}", "done")
    ]
    assert [p.name for p in package_files(transfer_dir)] == [f"profile-{other_profile}.json.age"]
    async with sessionmaker() as session:
        disclosed = (await run(session, select(col(Disclosure.contact_id)))).scalars().all()
    assert disclosed == [other_id]
    assert (await profile(sessionmaker, profile_id)).state is ProfileState.DESTROYED


async def test_a_withdrawal_in_an_import_destroys_the_profile(
    admin: Client,
    new_contact: NewContact,
    new_profile: NewProfile,
    sessionmaker: SessionMaker,
    tools: Tools,
) -> None:
    contact_id = await new_contact(email="import.person@example.fi")
    profile_id = await new_profile(contact_id, COMPLETED, transfer_notice_sent_at=NOTICE_SENT)
    raw = (
        b"full_name,email,legal_basis,consent_email_profiling_report\n"
        b"Import Person,import.person@example.fi,consent,withdraw\n"
    )
    report = await run_import(
        sessionmaker,
        raw=raw,
        file_name="people.csv",
        cipher=DataCipher(tools.settings.data_key),
    )
    assert report.consents_recorded == 1, report
    assert (await profile(sessionmaker, profile_id)).state is ProfileState.DESTROYED
    assert await actions(sessionmaker) == [
        ("profile_consent_withdrawn", "destroy", f"profile {profile_id}", TODAY)
    ]


async def test_a_profile_made_after_a_renewed_grant_is_kept(
    admin: Client, new_contact: NewContact, new_profile: NewProfile, sessionmaker: SessionMaker
) -> None:
    contact_id = await new_contact()
    await withdraw_profiling(admin, contact_id)
    await record_consent(
        admin, contact_id, action="grant", purpose="profiling_report", evidence=EVIDENCE
    )
    later = await new_profile(contact_id, TODAY)
    await record_consent(
        admin, contact_id, action="grant", purpose="direct_marketing", evidence=EVIDENCE
    )
    assert (await profile(sessionmaker, later)).state is ProfileState.KEPT
    assert await actions(sessionmaker) == []


async def test_a_held_or_restricted_profile_waits_listed_then_is_destroyed(
    admin: Client,
    new_contact: NewContact,
    new_profile: NewProfile,
    sessionmaker: SessionMaker,
    tools: Tools,
    frozen_clock: FrozenClock,
    transfer_dir: Path,
) -> None:
    held_contact, held = await due_for_transfer(new_contact, new_profile)
    restricted_contact, restricted = await due_for_transfer(new_contact, new_profile)
    await hold(sessionmaker, held_contact)
    await restrict(sessionmaker, restricted_contact)
    await withdraw_profiling(admin, held_contact)
    await withdraw_profiling(admin, restricted_contact)
    assert (await profile(sessionmaker, held)).state is ProfileState.KEPT
    assert (await profile(sessionmaker, restricted)).state is ProfileState.KEPT

    plan = await plan_on(sessionmaker, tools.settings, TODAY)
    assert [(i.rule, i.action, i.subject.id, i.skipped_because) for i in plan.items] == [
        ("profile_consent_withdrawn", "destroy", held, "legal_hold"),
        ("profile_consent_withdrawn", "destroy", restricted, "restricted"),
    ]
    # Held: neither transferred nor destroyed.
    await run_on(sessionmaker, tools, frozen_clock, TODAY)
    assert package_files(transfer_dir) == []

    async with session_scope(sessionmaker) as session:
        await run(
            session,
            update(LegalHold)
            .where(col(LegalHold.contact_id) == held_contact)
            .values(lifted_at=START),
        )
    tomorrow = TODAY + timedelta(days=1)
    report = await run_on(sessionmaker, tools, frozen_clock, tomorrow)
    assert [(i.reference, i.outcome) for i in report.items] == [
        (f"profile {held}", "done"),
        (f"profile {restricted}", "skipped"),
    ]
    assert (await profile(sessionmaker, held)).state is ProfileState.DESTROYED
    assert ("profile_consent_withdrawn", "destroy", f"profile {held}", TODAY) in await actions(
        sessionmaker
    )
    assert package_files(transfer_dir) == []


async def test_without_the_vendors_key_nothing_is_handed_over_and_the_plan_says_why(
    new_contact: NewContact,
    new_profile: NewProfile,
    sessionmaker: SessionMaker,
    tools: Tools,
    frozen_clock: FrozenClock,
    transfer_dir: Path,
) -> None:
    _, profile_id = await due_for_transfer(new_contact, new_profile)
    unkeyed = dataclasses.replace(
        tools, settings=dataclasses.replace(tools.settings, profile_vendor=VendorSettings())
    )
    [item] = await items_on(sessionmaker, unkeyed.settings, TODAY, "profile_transfer_2_years")
    assert (item.action, item.skipped_because) == ("transfer", "handover_not_configured")
    assert item.note is not None and "CONSENTRY_PROFILE_VENDOR_AGE_RECIPIENT" in item.note

    report = await run_on(sessionmaker, unkeyed, frozen_clock, TODAY)
    assert [(i.outcome, i.detail) for i in report.items] == [("skipped", "handover_not_configured")]
    kept = await profile(sessionmaker, profile_id)
    assert kept.state is ProfileState.KEPT and kept.content_encrypted is not None
    assert package_files(transfer_dir) == []
    assert await actions(sessionmaker) == []


async def test_outside_the_eea_a_safeguard_is_needed_and_then_recorded(
    new_contact: NewContact,
    new_profile: NewProfile,
    sessionmaker: SessionMaker,
    tools: Tools,
    frozen_clock: FrozenClock,
    transfer_dir: Path,
) -> None:
    _, profile_id = await due_for_transfer(new_contact, new_profile)
    abroad = dataclasses.replace(tools.settings.profile_vendor, country="US")
    unsafe = dataclasses.replace(
        tools, settings=dataclasses.replace(tools.settings, profile_vendor=abroad)
    )
    [item] = await items_on(sessionmaker, unsafe.settings, TODAY, "profile_transfer_2_years")
    assert item.skipped_because == "handover_not_configured"
    assert item.note is not None and "SAFEGUARD" in item.note
    await run_on(sessionmaker, unsafe, frozen_clock, TODAY)
    assert (await profile(sessionmaker, profile_id)).state is ProfileState.KEPT
    assert package_files(transfer_dir) == []

    safeguard = "EU standard contractual clauses 2021/914, module 1"
    safe = dataclasses.replace(
        tools,
        settings=dataclasses.replace(
            tools.settings, profile_vendor=dataclasses.replace(abroad, safeguard=safeguard)
        ),
    )
    report = await run_on(sessionmaker, safe, frozen_clock, TODAY)
    assert [i.outcome for i in report.items] == ["done"]
    async with sessionmaker() as session:
        [disclosure] = (await run(session, select(Disclosure))).scalars().all()
    assert (disclosure.country, disclosure.outside_eea, disclosure.safeguard) == (
        "US",
        True,
        safeguard,
    )
