"""Carrying the plan out: each action done once, recorded with it, and a
failure in one item leaving the others done and itself undone."""

from __future__ import annotations

import asyncio
import stat
from dataclasses import replace
from datetime import date, time, timedelta
from pathlib import Path

import pyrage
import pytest
from sqlalchemy import func, select, update
from sqlmodel import col

from service.db import SessionMaker, run, session_scope
from service.models import (
    CallList,
    CallListEntry,
    Contact,
    DataSubjectRequest,
    Disclosure,
    EngagementEvent,
    Erasure,
    Profile,
    RequestAction,
)
from service.models.enums import CallListStatus, ProfileState
from service.retention.actions import carry_out
from service.retention.plan import plan
from service.retention.runner import Tools, run_retention
from tests.integration.retention.conftest import (
    ENGAGEMENT_DAYS,
    REQUEST_DAYS,
    VENDOR,
    Client,
    NewContact,
    NewProfile,
    actions,
    add_call_list,
    add_events,
    add_request,
    helsinki,
    hold,
    mode_of,
    opened_package,
    package_files,
    profile,
    restrict,
    run_on,
)
from tests.support.clock import FrozenClock


async def test_due_contacts_are_erased_recorded_and_only_once(
    new_contact: NewContact, sessionmaker: SessionMaker, tools: Tools, frozen_clock: FrozenClock
) -> None:
    due = await new_contact(last_service_contact_at="2021-06-14")
    not_yet = await new_contact(last_service_contact_at="2021-06-15")
    held = await new_contact(last_service_contact_at="2020-01-01")
    restricted = await new_contact(last_service_contact_at="2020-01-01")
    await hold(sessionmaker, held)
    await restrict(sessionmaker, restricted)

    report = await run_on(sessionmaker, tools, frozen_clock, date(2026, 6, 15))
    assert (report.done, report.skipped, report.failed) == (1, 2, 0)
    assert await actions(sessionmaker) == [
        ("contact_5_years", "erase", f"contact {due}", date(2026, 6, 15))
    ]
    async with sessionmaker() as session:
        remaining = set((await run(session, select(col(Contact.id)))).scalars().all())
        erasures = (await run(session, select(Erasure))).scalars().all()
    assert remaining == {not_yet, held, restricted}
    assert [(e.contact_id, e.cause) for e in erasures] == [(due, "retention:contact_5_years")]

    again = await run_on(sessionmaker, tools, frozen_clock, date(2026, 6, 15))
    assert (again.done, again.failed) == (0, 0)
    assert len(await actions(sessionmaker)) == 1


async def test_a_transfer_writes_one_private_package_and_destroys_our_copy(
    new_contact: NewContact,
    new_profile: NewProfile,
    sessionmaker: SessionMaker,
    tools: Tools,
    frozen_clock: FrozenClock,
    transfer_dir: Path,
    vendor_identity: pyrage.x25519.Identity,
) -> None:
    contact_id = await new_contact(full_name="Aino Virtanen", email="aino@example.fi")
    content = {"D": 71, "I": 40, "S": 22, "C": 55}
    profile_id = await new_profile(
        contact_id,
        date(2024, 3, 10),
        content=content,
        transfer_notice_sent_at=helsinki(date(2026, 2, 8)),
    )
    # The day before: nothing.
    assert (await run_on(sessionmaker, tools, frozen_clock, date(2026, 3, 9))).items == []
    assert package_files(transfer_dir) == []

    report = await run_on(sessionmaker, tools, frozen_clock, date(2026, 3, 10))
    assert [(i.action, i.outcome) for i in report.items] == [("transfer", "done")]
    files = package_files(transfer_dir)
    assert [path.name for path in files] == [f"profile-{profile_id}.json.age"]
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert mode_of(transfer_dir) == 0o700
    # Encrypted: nothing of the person or the report readable on disk.
    raw = files[0].read_bytes()
    assert raw.startswith(b"age-encryption.org/v1\n")
    for plain in (b"Aino", b"aino@example.fi", b"profile-transfer", b'"D"'):
        assert plain not in raw
    # Only the vendor's identity opens it.
    with pytest.raises(pyrage.DecryptError):
        pyrage.decrypt(raw, [pyrage.x25519.Identity.generate()])
    package = opened_package(files[0], vendor_identity)
    assert package["profile_id"] == profile_id
    assert package["completed_on"] == "2024-03-10"
    assert package["content"] == content
    assert package["person"] == {"full_name": "Aino Virtanen", "email": "aino@example.fi"}
    assert package["format"] == "consentry/profile-transfer/1"

    kept = await profile(sessionmaker, profile_id)
    assert kept.state is ProfileState.TRANSFERRED
    assert kept.content_encrypted is None and kept.transferred_at is not None
    assert await actions(sessionmaker) == [
        ("profile_transfer_2_years", "transfer", f"profile {profile_id}", date(2026, 3, 10))
    ]
    # The hand-over is in the disclosures log, with the vendor's country.
    async with sessionmaker() as session:
        [disclosure] = (await run(session, select(Disclosure))).scalars().all()
    assert disclosure.contact_id == contact_id
    assert (disclosure.recipient_name, disclosure.country, disclosure.outside_eea) == (
        VENDOR,
        "FI",
        False,
    )
    assert disclosure.disclosed_on == date(2026, 3, 10) and disclosure.safeguard is None
    assert set(disclosure.data_categories) == {"profile", "full_name", "email"}
    written = files[0].stat().st_mtime_ns
    again = await run_on(sessionmaker, tools, frozen_clock, date(2026, 3, 10))
    assert again.items == []
    assert files[0].stat().st_mtime_ns == written
    assert package_files(transfer_dir) == files


async def test_forbidden_via_the_public_page_then_destroyed_without_a_package(
    client: Client,
    new_contact: NewContact,
    new_profile: NewProfile,
    sessionmaker: SessionMaker,
    tools: Tools,
    frozen_clock: FrozenClock,
    transfer_dir: Path,
) -> None:
    profile_id = await new_profile(
        await new_contact(),
        date(2024, 3, 10),
        transfer_notice_sent_at=helsinki(date(2026, 2, 8)),
    )
    token = tools.signer.sign("profile_transfer", profile_id)
    frozen_clock.set(date(2026, 2, 10))
    response = await client.post(f"/f/{token}")
    assert response.status_code == 200, response.text

    report = await run_on(sessionmaker, tools, frozen_clock, date(2026, 3, 10))
    assert [(i.action, i.outcome) for i in report.items] == [("destroy", "done")]
    destroyed = await profile(sessionmaker, profile_id)
    assert destroyed.state is ProfileState.DESTROYED
    assert destroyed.content_encrypted is None and destroyed.transferred_at is None
    assert package_files(transfer_dir) == []
    assert await actions(sessionmaker) == [
        ("profile_transfer_2_years", "destroy", f"profile {profile_id}", date(2026, 3, 10))
    ]


async def test_a_profile_without_a_vendor_account_is_destroyed(
    new_contact: NewContact,
    new_profile: NewProfile,
    sessionmaker: SessionMaker,
    tools: Tools,
    frozen_clock: FrozenClock,
) -> None:
    profile_id = await new_profile(await new_contact(), date(2024, 3, 10), vendor_account=False)
    assert (await run_on(sessionmaker, tools, frozen_clock, date(2026, 12, 31))).items == []
    report = await run_on(sessionmaker, tools, frozen_clock, date(2027, 1, 1))
    assert report.done == 1
    destroyed = await profile(sessionmaker, profile_id)
    assert destroyed.state is ProfileState.DESTROYED and destroyed.content_encrypted is None
    assert await actions(sessionmaker) == [
        ("profile_no_account", "destroy", f"profile {profile_id}", date(2027, 6, 30))
    ]


async def test_a_failing_item_leaves_no_half_action_and_stops_no_other(
    new_contact: NewContact,
    new_profile: NewProfile,
    sessionmaker: SessionMaker,
    tools: Tools,
    frozen_clock: FrozenClock,
    transfer_dir: Path,
) -> None:
    contact_id = await new_contact(last_service_contact_at="2024-01-01")
    # Content that no longer opens (sealed under another key): the transfer fails.
    broken = await new_profile(
        contact_id, date(2024, 3, 10), transfer_notice_sent_at=helsinki(date(2026, 2, 8))
    )
    async with sessionmaker() as session:
        row = await session.get(Profile, broken)
        assert row is not None
        row.content_encrypted = "v1:" + "A" * 60
        session.add(row)
        await session.commit()
    # Due the same day, without a relay: the notice fails too.
    notice = await new_profile(await new_contact(), date(2024, 4, 9))
    fine = await new_profile(await new_contact(), date(2023, 5, 1), vendor_account=False)

    report = await run_on(sessionmaker, tools, frozen_clock, date(2026, 3, 10))
    outcomes = {item.reference: (item.outcome.value, item.detail) for item in report.items}
    assert outcomes[f"profile {fine}"] == ("done", None)
    assert outcomes[f"profile {broken}"][0] == "failed"
    assert outcomes[f"profile {notice}"] == (
        "failed",
        "no SMTP relay is configured (CONSENTRY_SMTP_HOST)",
    )
    assert report.failed == 2
    # The failed transfer is undone whole: kept, content there, no package, no record.
    still = await profile(sessionmaker, broken)
    assert still.state is ProfileState.KEPT and still.content_encrypted is not None
    assert still.transferred_at is None
    assert package_files(transfer_dir) == []
    assert await actions(sessionmaker) == [
        ("profile_no_account", "destroy", f"profile {fine}", date(2026, 6, 30))
    ]


async def test_bulk_rules_delete_and_record_the_counts(
    new_contact: NewContact, sessionmaker: SessionMaker, tools: Tools, frozen_clock: FrozenClock
) -> None:
    today = date(2026, 6, 15)
    old = today - timedelta(days=ENGAGEMENT_DAYS + 1)
    await add_events(sessionmaker, helsinki(old), helsinki(old, time(23, 0)))
    await add_events(sessionmaker, helsinki(old + timedelta(days=1)))
    contacts = [await new_contact(), await new_contact()]
    expired = await add_call_list(sessionmaker, contacts, expires_at=helsinki(date(2026, 6, 14)))
    current = await add_call_list(sessionmaker, contacts, expires_at=helsinki(date(2026, 6, 15)))
    closed = await add_request(
        sessionmaker, closed_at=helsinki(today - timedelta(days=REQUEST_DAYS + 1))
    )
    kept = await add_request(sessionmaker, closed_at=helsinki(today - timedelta(days=REQUEST_DAYS)))
    async with sessionmaker() as session:
        session.add(RequestAction(request_id=closed, action="export"))
        await session.commit()

    report = await run_on(sessionmaker, tools, frozen_clock, today)
    assert report.done == 3 and report.failed == 0
    assert await actions(sessionmaker) == [
        ("engagement_events", "delete", "2 engagement events", today),
        ("call_lists", "delete", "2 call-list entries of 1 expired call list", today),
        ("closed_requests", "delete", "1 closed request", today),
    ]
    async with sessionmaker() as session:
        events = (await run(session, select(func.count()).select_from(EngagementEvent))).scalar()
        entries = (
            (
                await run(
                    session,
                    select(col(CallListEntry.call_list_id)).distinct(),
                )
            )
            .scalars()
            .all()
        )
        lists = {
            row.id: row.status for row in (await run(session, select(CallList))).scalars().all()
        }
        requests = (await run(session, select(col(DataSubjectRequest.id)))).scalars().all()
        linked = (await run(session, select(func.count()).select_from(RequestAction))).scalar()
    assert events == 1
    assert entries == [current]
    assert lists == {expired: CallListStatus.EXPIRED, current: CallListStatus.READY}
    assert requests == [kept]
    assert linked == 0

    again = await run_on(sessionmaker, tools, frozen_clock, today)
    assert again.items == [] and len(await actions(sessionmaker)) == 3


async def test_run_carries_out_only_what_is_due_today(
    new_contact: NewContact, sessionmaker: SessionMaker, tools: Tools, frozen_clock: FrozenClock
) -> None:
    tomorrow = await new_contact(last_service_contact_at="2021-06-15")
    report = await run_on(sessionmaker, tools, frozen_clock, date(2026, 6, 15))
    assert report.items == []
    report = await run_on(sessionmaker, tools, frozen_clock, date(2026, 6, 16))
    assert [(i.reference, i.outcome) for i in report.items] == [(f"contact {tomorrow}", "done")]


async def test_settings_are_read_from_the_tools(
    new_contact: NewContact, sessionmaker: SessionMaker, tools: Tools, frozen_clock: FrozenClock
) -> None:
    """A shorter engagement period, set in the settings, is the one applied."""
    today = date(2026, 6, 15)
    await add_events(sessionmaker, helsinki(today - timedelta(days=11)))
    short = replace(tools, settings=replace(tools.settings, engagement_retention_days=10))
    assert (await run_on(sessionmaker, tools, frozen_clock, today)).items == []
    report = await run_on(sessionmaker, short, frozen_clock, today)
    assert [(i.reference, i.outcome) for i in report.items] == [("1 engagement event", "done")]


async def test_two_runs_at_once_do_each_action_once(
    new_contact: NewContact,
    new_profile: NewProfile,
    sessionmaker: SessionMaker,
    tools: Tools,
    frozen_clock: FrozenClock,
    transfer_dir: Path,
) -> None:
    contacts = [await new_contact(last_service_contact_at="2020-01-01") for _ in range(3)]
    keeper = await new_contact()
    transfer = await new_profile(
        keeper, date(2024, 3, 10), transfer_notice_sent_at=helsinki(date(2026, 2, 8))
    )
    destroy = await new_profile(keeper, date(2023, 1, 1), vendor_account=False)
    await add_events(sessionmaker, helsinki(date(2020, 1, 1)))
    await add_call_list(sessionmaker, [keeper], expires_at=helsinki(date(2026, 1, 1)))
    frozen_clock.set(date(2026, 3, 10), at=time(2, 30))
    first, second = await asyncio.gather(
        run_retention(sessionmaker, today=date(2026, 3, 10), tools=tools),
        run_retention(sessionmaker, today=date(2026, 3, 10), tools=tools),
    )
    assert first.failed == second.failed == 0
    assert first.done + second.done == 7
    assert sorted(reference for _, _, reference, _ in await actions(sessionmaker)) == sorted(
        [
            *(f"contact {contact}" for contact in contacts),
            f"profile {transfer}",
            f"profile {destroy}",
            "1 engagement event",
            "1 call-list entry of 1 expired call list",
        ]
    )
    async with sessionmaker() as session:
        erasures = (await run(session, select(col(Erasure.contact_id)))).scalars().all()
    assert sorted(erasures) == contacts
    assert [path.name for path in package_files(transfer_dir)] == [f"profile-{transfer}.json.age"]


async def test_an_item_that_changed_since_the_plan_is_not_carried_out(
    new_contact: NewContact, sessionmaker: SessionMaker, tools: Tools, frozen_clock: FrozenClock
) -> None:
    today = date(2026, 6, 15)
    renewed = await new_contact(last_service_contact_at="2020-01-01")
    held = await new_contact(last_service_contact_at="2020-01-01")
    frozen_clock.set(today, at=time(2, 30))
    async with sessionmaker() as session:
        stale = {
            item.subject.id: item
            for item in (await plan(session, as_of=today, settings=tools.settings)).items
        }
    # Since the plan was made: a new service contact, and a legal hold.
    assert await set_last_contact(sessionmaker, renewed, date(2026, 6, 1)) == 1
    await hold(sessionmaker, held)
    async with session_scope(sessionmaker) as session:
        renewed_result = await carry_out(session, stale[renewed], today=today, tools=tools)
    async with session_scope(sessionmaker) as session:
        held_result = await carry_out(session, stale[held], today=today, tools=tools)
    assert renewed_result.outcome == "no_longer_due"
    assert (held_result.outcome, held_result.detail) == ("skipped", "legal_hold")
    assert await actions(sessionmaker) == []
    async with sessionmaker() as session:
        left = (await run(session, select(col(Contact.id)))).scalars().all()
    assert sorted(left) == [renewed, held]


async def set_last_contact(sessionmaker: SessionMaker, contact_id: int, last: date) -> int:
    async with session_scope(sessionmaker) as session:
        result = await run(
            session,
            update(Contact)
            .where(col(Contact.id) == contact_id)
            .values(last_service_contact_at=last),
        )
        return int(result.rowcount)


async def test_a_run_out_of_time_postpones_the_rest_and_does_nothing_twice(
    sessionmaker: SessionMaker, tools: Tools, new_contact: NewContact
) -> None:
    first = await new_contact(last_service_contact_at="2020-01-01")
    second = await new_contact(last_service_contact_at="2020-01-02")

    spent = await run_retention(
        sessionmaker, today=date(2026, 3, 10), tools=tools, budget_seconds=0.0
    )
    assert (spent.done, spent.postponed) == (1, 1)

    rest = await run_retention(sessionmaker, today=date(2026, 3, 10), tools=tools)
    assert (rest.done, rest.postponed) == (1, 0)
    references = [reference for _rule, _action, reference, _day in await actions(sessionmaker)]
    assert sorted(references) == sorted([f"contact {first}", f"contact {second}"])
