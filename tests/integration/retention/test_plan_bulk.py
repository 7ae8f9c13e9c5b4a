"""The retention plan for the rows kept a number of days, the plan as a
whole (it changes nothing, holds no personal data) and its API."""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import SQLModel

from service import clock
from service.db import SessionMaker, run
from service.settings import Settings
from tests.integration.retention.conftest import (
    ENGAGEMENT_DAYS,
    REQUEST_DAYS,
    Client,
    NewContact,
    NewProfile,
    add_call_list,
    add_events,
    add_request,
    helsinki,
    items_on,
    plan_on,
)

# -- engagement_events, call_lists, closed_requests --------------------------------------


async def test_engagement_events_older_than_the_configured_days(
    sessionmaker: SessionMaker, settings: Settings
) -> None:
    day = date(2025, 1, 1)
    # 00:30 in Helsinki is the previous day in UTC: the Helsinki day counts.
    await add_events(sessionmaker, helsinki(day, time(0, 30)), helsinki(day, time(23, 59)))
    await add_events(sessionmaker, helsinki(day + timedelta(days=1), time(0, 0)))
    due_on = day + timedelta(days=ENGAGEMENT_DAYS + 1)

    async def counts(as_of: date) -> list[tuple[int | None, date, bool]]:
        return [
            (item.subject.count, item.due_on, item.overdue)
            for item in await items_on(sessionmaker, settings, as_of, "engagement_events")
        ]

    assert await counts(due_on - timedelta(days=1)) == []
    assert await counts(due_on) == [(2, due_on, False)]
    assert await counts(due_on + timedelta(days=1)) == [(3, due_on, True)]
    [item] = await items_on(sessionmaker, settings, due_on, "engagement_events")
    assert (item.action, item.subject.kind, item.reference) == (
        "delete",
        "engagement_events",
        "2 engagement events",
    )


async def test_call_list_entries_are_due_the_day_after_expiry(
    new_contact: NewContact, sessionmaker: SessionMaker, settings: Settings
) -> None:
    contacts = [await new_contact(), await new_contact()]
    await add_call_list(
        sessionmaker, contacts, expires_at=helsinki(date(2026, 6, 20), time(23, 30))
    )
    await add_call_list(sessionmaker, contacts[:1], expires_at=helsinki(date(2026, 6, 22)))
    assert await items_on(sessionmaker, settings, date(2026, 6, 20), "call_lists") == []
    [item] = await items_on(sessionmaker, settings, date(2026, 6, 21), "call_lists")
    assert (item.subject.kind, item.subject.count, item.due_on, item.overdue) == (
        "call_list_entries",
        2,
        date(2026, 6, 21),
        False,
    )
    assert item.reference == "2 call-list entries of 1 expired call list"
    [both] = await items_on(sessionmaker, settings, date(2026, 6, 23), "call_lists")
    assert (both.subject.count, both.due_on, both.overdue) == (3, date(2026, 6, 21), True)


async def test_closed_requests_older_than_the_configured_days(
    sessionmaker: SessionMaker, settings: Settings
) -> None:
    closed_on = date(2023, 1, 10)
    await add_request(sessionmaker, closed_at=helsinki(closed_on))
    await add_request(sessionmaker, closed_at=None)  # open: never due
    due_on = closed_on + timedelta(days=REQUEST_DAYS + 1)
    assert (
        await items_on(sessionmaker, settings, due_on - timedelta(days=1), "closed_requests") == []
    )
    [item] = await items_on(sessionmaker, settings, due_on, "closed_requests")
    assert (item.subject.count, item.due_on, item.reference) == (1, due_on, "1 closed request")


# -- the plan as a whole -----------------------------------------------------------------


async def _snapshot(sessionmaker: SessionMaker) -> dict[str, list[Any]]:
    async with sessionmaker() as session:
        return {
            table.name: sorted(map(repr, (await run(session, select(table))).all()))
            for table in SQLModel.metadata.sorted_tables
        }


async def test_making_a_plan_changes_nothing(
    new_contact: NewContact,
    new_profile: NewProfile,
    sessionmaker: SessionMaker,
    settings: Settings,
) -> None:
    old = await new_contact(last_service_contact_at="2019-01-01")
    await new_profile(old, date(2020, 1, 1))
    await new_profile(old, date(2020, 1, 1), vendor_account=False)
    await add_events(sessionmaker, helsinki(date(2020, 1, 1)))
    await add_call_list(sessionmaker, [old], expires_at=helsinki(date(2020, 1, 1)))
    await add_request(sessionmaker, closed_at=helsinki(date(2020, 1, 1)))
    before = await _snapshot(sessionmaker)
    current = await plan_on(sessionmaker, settings, date(2026, 6, 15))
    assert {item.rule.value for item in current.items} == {
        "contact_5_years",
        "profile_transfer_notice",
        "profile_no_account",
        "engagement_events",
        "call_lists",
        "closed_requests",
    }
    assert await _snapshot(sessionmaker) == before


async def test_the_api_serves_the_same_plan(
    admin: Client, new_contact: NewContact, sessionmaker: SessionMaker, settings: Settings
) -> None:
    await new_contact(last_service_contact_at="2024-02-29")
    response = await admin.get("/api/v1/retention/plan", params={"as_of": "2029-03-01"})
    assert response.status_code == 200, response.text
    expected = await plan_on(sessionmaker, settings, date(2029, 3, 1))
    assert response.json() == expected.model_dump(mode="json")
    assert response.json()["items"][0]["due_on"] == "2029-03-01"
    # Without as_of: today in Helsinki.
    today = await admin.get("/api/v1/retention/plan")
    assert today.status_code == 200
    assert today.json()["as_of"] == clock.today().isoformat()


@pytest.mark.parametrize("bad", ["2029-02-30", "yesterday", "2029-3-1x"])
async def test_the_api_refuses_a_bad_date(admin: Client, bad: str) -> None:
    response = await admin.get("/api/v1/retention/plan", params={"as_of": bad})
    assert response.status_code == 422
    assert "as_of" in response.json()["fields"]


async def test_the_plan_holds_no_personal_data(
    new_contact: NewContact, new_profile: NewProfile, admin: Client
) -> None:
    contact_id = await new_contact(
        full_name="Salainen Henkilö",
        email="salainen@example.fi",
        last_service_contact_at="2019-01-01",
    )
    await new_profile(contact_id, date(2020, 1, 1))
    body = (await admin.get("/api/v1/retention/plan", params={"as_of": "2026-06-15"})).text
    assert "Salainen" not in body and "salainen@" not in body
    assert f"contact {contact_id}" in body


@pytest.mark.parametrize("far", ["0001-01-01", "9999-12-31"])
async def test_the_api_refuses_a_date_outside_the_calendar_it_plans(
    admin: Client, far: str
) -> None:
    response = await admin.get("/api/v1/retention/plan", params={"as_of": far})
    assert response.status_code == 422
    assert response.json()["fields"] == {"as_of": "must be a date from 1970-01-01 to 2999-12-31"}
