"""The retention plan, rule by rule, right to the day: the day before a rule
falls due, the day, the day after; leap days and year ends; skips."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from sqlalchemy import select, update
from sqlmodel import col

from service import clock
from service.consent.queries import Gate, GateContext
from service.db import SessionMaker, run, session_scope
from service.models import Contact, LegalHold
from service.models.enums import Channel, Purpose, Reason
from service.settings import Settings
from tests.integration.retention.conftest import (
    NOTICE_DAYS,
    NewContact,
    NewProfile,
    helsinki,
    hold,
    items_on,
    plan_on,
    restrict,
)
from tests.support.clock import FrozenClock

# -- contact_5_years ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("last_contact", "due_on"),
    [
        (date(2021, 3, 10), date(2026, 3, 11)),
        # A last contact on a leap day: kept through 28 Feb five years on.
        (date(2024, 2, 29), date(2029, 3, 1)),
        (date(2020, 2, 29), date(2025, 3, 1)),
        # Year end: kept through 31 Dec, erased on New Year's Day.
        (date(2020, 12, 31), date(2026, 1, 1)),
        (date(2021, 1, 1), date(2026, 1, 2)),
    ],
)
async def test_contact_is_due_the_day_after_five_years(
    new_contact: NewContact,
    sessionmaker: SessionMaker,
    settings: Settings,
    last_contact: date,
    due_on: date,
) -> None:
    contact_id = await new_contact(last_service_contact_at=last_contact.isoformat())
    assert (
        await items_on(sessionmaker, settings, due_on - timedelta(days=1), "contact_5_years") == []
    )

    [item] = await items_on(sessionmaker, settings, due_on, "contact_5_years")
    assert item.action == "erase"
    assert item.subject.kind == "contact" and item.subject.id == contact_id
    assert item.subject.count is None
    assert item.reference == f"contact {contact_id}"
    assert (item.due_on, item.deadline, item.overdue) == (due_on, due_on, False)
    assert item.skipped_because is None

    [later] = await items_on(sessionmaker, settings, due_on + timedelta(days=1), "contact_5_years")
    assert (later.due_on, later.overdue) == (due_on, True)


async def test_without_a_service_contact_the_helsinki_record_day_counts(
    new_contact: NewContact,
    sessionmaker: SessionMaker,
    settings: Settings,
    frozen_clock: FrozenClock,
) -> None:
    # 01:30 in Helsinki on 10 May is still 9 May in UTC: the Helsinki day counts.
    frozen_clock.set(date(2021, 5, 10), at=time(1, 30))
    contact_id = await new_contact()
    assert await items_on(sessionmaker, settings, date(2026, 5, 10), "contact_5_years") == []
    [item] = await items_on(sessionmaker, settings, date(2026, 5, 11), "contact_5_years")
    assert (item.subject.id, item.due_on) == (contact_id, date(2026, 5, 11))
    assert item.note is not None and "recorded" in item.note


async def test_the_plan_and_the_consent_gate_agree_to_the_day(
    new_contact: NewContact,
    sessionmaker: SessionMaker,
    settings: Settings,
    frozen_clock: FrozenClock,
) -> None:
    lasts = [date(2020, 2, 28), date(2020, 2, 29), date(2020, 3, 1), date(2020, 12, 31)]
    ids = [await new_contact(last_service_contact_at=last.isoformat()) for last in lasts]
    frozen_clock.set(date(2020, 6, 1))  # recorded at noon: no UTC/Helsinki ambiguity
    ids.append(await new_contact())
    days = [date(2025, 2, 27) + timedelta(days=n) for n in range(5)]
    days += [date(2025, 5, 31) + timedelta(days=n) for n in range(4)]
    days += [date(2025, 12, 31) + timedelta(days=n) for n in range(3)]
    for as_of in days:
        gate = Gate(
            GateContext(channel=Channel.PHONE, purpose=Purpose.DIRECT_MARKETING, today=as_of)
        )
        async with sessionmaker() as session:
            expired = set(
                (
                    await run(
                        session,
                        select(col(Contact.id))
                        .select_from(gate.source)
                        .where(gate.reasons[Reason.RETENTION_EXPIRED]),
                    )
                )
                .scalars()
                .all()
            )
        planned = {
            item.subject.id
            for item in await items_on(sessionmaker, settings, as_of, "contact_5_years")
        }
        assert planned == expired, as_of
    assert ids


# -- skips ---------------------------------------------------------------------------


async def test_held_and_restricted_contacts_are_listed_but_skipped(
    new_contact: NewContact, sessionmaker: SessionMaker, settings: Settings
) -> None:
    held = await new_contact(last_service_contact_at="2020-01-10")
    restricted = await new_contact(last_service_contact_at="2020-01-10")
    both = await new_contact(last_service_contact_at="2020-01-10")
    lifted = await new_contact(last_service_contact_at="2020-01-10")
    await hold(sessionmaker, held)
    await restrict(sessionmaker, restricted)
    await hold(sessionmaker, both)
    await restrict(sessionmaker, both)
    await hold(sessionmaker, lifted)
    async with session_scope(sessionmaker) as session:
        await run(
            session,
            update(LegalHold)
            .where(col(LegalHold.contact_id) == lifted)
            .values(lifted_at=clock.now()),
        )
    current = await plan_on(sessionmaker, settings, date(2026, 6, 15))
    skips = {item.subject.id: item.skipped_because for item in current.items}
    assert skips == {held: "legal_hold", restricted: "restricted", both: "legal_hold", lifted: None}
    assert {item.action for item in current.items} == {"erase"}
    assert (current.summary.due, current.summary.skipped) == (1, 3)


async def test_profiles_of_held_or_restricted_contacts_are_skipped(
    new_contact: NewContact, new_profile: NewProfile, sessionmaker: SessionMaker, settings: Settings
) -> None:
    held, restricted = await new_contact(), await new_contact()
    await hold(sessionmaker, held)
    await restrict(sessionmaker, restricted)
    transfer = await new_profile(held, date(2024, 3, 10))
    destroy = await new_profile(restricted, date(2023, 5, 5), vendor_account=False)
    current = await plan_on(sessionmaker, settings, date(2026, 6, 15))
    found = {(item.subject.id, item.action, item.skipped_because) for item in current.items}
    assert found == {
        (transfer, "send_transfer_notice", "legal_hold"),
        (destroy, "destroy", "restricted"),
    }


# -- profile_transfer_notice and profile_transfer_2_years -----------------------------


async def vendor_items(
    sessionmaker: SessionMaker, settings: Settings, as_of: date
) -> list[tuple[str, str, date, bool]]:
    current = await plan_on(sessionmaker, settings, as_of)
    return [
        (item.rule.value, item.action.value, item.due_on, item.overdue)
        for item in current.items
        if item.rule.value.startswith("profile_transfer")
    ]


@pytest.mark.parametrize(
    ("completed_on", "transfer_on"),
    [
        (date(2024, 3, 10), date(2026, 3, 10)),
        # A report completed on a leap day: two years on is 28 February.
        (date(2024, 2, 29), date(2026, 2, 28)),
        (date(2023, 12, 31), date(2025, 12, 31)),
    ],
)
async def test_the_notice_is_due_notice_days_before_the_transfer(
    new_contact: NewContact,
    new_profile: NewProfile,
    sessionmaker: SessionMaker,
    settings: Settings,
    completed_on: date,
    transfer_on: date,
) -> None:
    profile_id = await new_profile(await new_contact(), completed_on)
    notice_on = transfer_on - timedelta(days=NOTICE_DAYS)
    assert await vendor_items(sessionmaker, settings, notice_on - timedelta(days=1)) == []
    notice = ("profile_transfer_notice", "send_transfer_notice", notice_on)
    assert await vendor_items(sessionmaker, settings, notice_on) == [(*notice, False)]
    assert await vendor_items(sessionmaker, settings, notice_on + timedelta(days=1)) == [
        (*notice, True)
    ]
    # Never sent: no transfer, ever; the notice stays due, and overdue.
    [item] = (await plan_on(sessionmaker, settings, transfer_on + timedelta(days=5))).items
    assert (item.action, item.subject.id, item.overdue) == (
        "send_transfer_notice",
        profile_id,
        True,
    )
    assert item.note is not None and "late" in item.note


async def test_the_transfer_is_due_on_the_day_after_a_timely_notice(
    new_contact: NewContact,
    new_profile: NewProfile,
    sessionmaker: SessionMaker,
    settings: Settings,
) -> None:
    profile_id = await new_profile(
        await new_contact(),
        date(2024, 3, 10),
        transfer_notice_sent_at=helsinki(date(2026, 2, 8)),  # exactly 30 days before
    )
    assert await vendor_items(sessionmaker, settings, date(2026, 3, 9)) == []
    transfer = ("profile_transfer_2_years", "transfer", date(2026, 3, 10))
    assert await vendor_items(sessionmaker, settings, date(2026, 3, 10)) == [(*transfer, False)]
    assert await vendor_items(sessionmaker, settings, date(2026, 3, 11)) == [(*transfer, True)]
    [item] = (await plan_on(sessionmaker, settings, date(2026, 3, 10))).items
    assert item.reference == f"profile {profile_id}" and item.note is None


async def test_a_late_notice_moves_the_transfer(
    new_contact: NewContact,
    new_profile: NewProfile,
    sessionmaker: SessionMaker,
    settings: Settings,
) -> None:
    # Sent just after midnight in Helsinki on 20 Feb (still 19 Feb in UTC).
    await new_profile(
        await new_contact(),
        date(2024, 3, 10),
        transfer_notice_sent_at=helsinki(date(2026, 2, 20), time(0, 30)),
    )
    moved_to = date(2026, 2, 20) + timedelta(days=NOTICE_DAYS)
    assert moved_to == date(2026, 3, 22)
    assert await vendor_items(sessionmaker, settings, date(2026, 3, 10)) == []
    assert await vendor_items(sessionmaker, settings, moved_to - timedelta(days=1)) == []
    [item] = (await plan_on(sessionmaker, settings, moved_to)).items
    assert (item.action, item.due_on, item.deadline, item.overdue) == (
        "transfer",
        moved_to,
        moved_to,
        False,
    )
    assert item.note is not None and "2026-02-20" in item.note


async def test_a_forbidden_transfer_is_a_destruction_on_the_transfer_day(
    new_contact: NewContact,
    new_profile: NewProfile,
    sessionmaker: SessionMaker,
    settings: Settings,
) -> None:
    await new_profile(
        await new_contact(), date(2024, 3, 10), transfer_forbidden_at=helsinki(date(2025, 1, 1))
    )
    # No notice is needed once the person has forbidden it.
    assert await vendor_items(sessionmaker, settings, date(2026, 2, 8)) == []
    assert await vendor_items(sessionmaker, settings, date(2026, 3, 9)) == []
    destroy = ("profile_transfer_2_years", "destroy", date(2026, 3, 10))
    assert await vendor_items(sessionmaker, settings, date(2026, 3, 10)) == [(*destroy, False)]


async def test_without_a_reachable_address_the_profile_is_destroyed_not_handed_over(
    new_contact: NewContact,
    new_profile: NewProfile,
    sessionmaker: SessionMaker,
    settings: Settings,
) -> None:
    await new_profile(await new_contact(email=None, phone="0401234567"), date(2024, 3, 10))
    [notice] = (await plan_on(sessionmaker, settings, date(2026, 2, 8))).items
    assert (notice.action, notice.skipped_because) == ("send_transfer_notice", "no_reachable_email")
    assert notice.note is not None and "2026-03-10" in notice.note
    assert await vendor_items(sessionmaker, settings, date(2026, 3, 9)) == [
        ("profile_transfer_notice", "send_transfer_notice", date(2026, 2, 8), True)
    ]
    [destroy] = (await plan_on(sessionmaker, settings, date(2026, 3, 10))).items
    assert (destroy.rule, destroy.action, destroy.skipped_because) == (
        "profile_transfer_2_years",
        "destroy",
        None,
    )
    assert destroy.note is not None and "not handed over" in destroy.note


# -- profile_no_account ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("completed_on", "due_on", "deadline"),
    [
        (date(2024, 3, 10), date(2027, 1, 1), date(2027, 6, 30)),
        (date(2023, 12, 31), date(2026, 1, 1), date(2026, 6, 30)),
        (date(2024, 1, 1), date(2027, 1, 1), date(2027, 6, 30)),
        (date(2024, 2, 29), date(2027, 1, 1), date(2027, 6, 30)),
    ],
)
async def test_without_a_vendor_account_kept_two_calendar_years_then_by_june(
    new_contact: NewContact,
    new_profile: NewProfile,
    sessionmaker: SessionMaker,
    settings: Settings,
    completed_on: date,
    due_on: date,
    deadline: date,
) -> None:
    profile_id = await new_profile(await new_contact(), completed_on, vendor_account=False)

    async def no_account(as_of: date) -> list[tuple[date, date, bool]]:
        return [
            (item.due_on, item.deadline, item.overdue)
            for item in await items_on(sessionmaker, settings, as_of, "profile_no_account")
        ]

    assert await no_account(due_on - timedelta(days=1)) == []
    assert await no_account(due_on) == [(due_on, deadline, False)]
    assert await no_account(due_on + timedelta(days=1)) == [(due_on, deadline, False)]
    assert await no_account(deadline) == [(due_on, deadline, False)]
    assert await no_account(deadline + timedelta(days=1)) == [(due_on, deadline, True)]
    [item] = await items_on(sessionmaker, settings, due_on, "profile_no_account")
    assert (item.action, item.reference) == ("destroy", f"profile {profile_id}")


async def test_profiles_no_longer_kept_are_not_planned(
    new_contact: NewContact, new_profile: NewProfile, sessionmaker: SessionMaker, settings: Settings
) -> None:
    contact_id = await new_contact()
    for state in ("transferred", "destroyed"):
        await new_profile(contact_id, date(2020, 1, 1), state=state)
        await new_profile(contact_id, date(2020, 1, 1), state=state, vendor_account=False)
    assert (await plan_on(sessionmaker, settings, date(2026, 6, 15))).items == []
