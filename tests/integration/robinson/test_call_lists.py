"""Phone call lists honour the Robinson extract, on both databases: listed
numbers are out with the reason ``robinson_listed`` (whatever the person's
consent), and no list is built without a fresh extract."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlmodel import select

from service.campaigns import call_lists
from service.db import SessionMaker, session_scope
from service.errors import Conflict
from service.models import CallListEntry, Campaign
from service.settings import Settings
from tests.integration.robinson.support import load_extract
from tests.support.clock import FrozenClock
from tests.support.factories import add_phone_contact, grant
from tests.support.worker import drain, worker_context

Client = AsyncTestClient[Litestar]
PHONE_CAMPAIGN = {"name": "Call round", "channel": "phone"}


@pytest.fixture
async def ctx(settings: Settings, sessionmaker: SessionMaker) -> AsyncIterator[dict[str, Any]]:
    async with worker_context(settings, sessionmaker) as context:
        await context["redis"].flushdb()
        yield context


async def build(admin: Client, ctx: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    campaign = (await admin.post("/api/v1/campaigns", json=PHONE_CAMPAIGN)).json()
    url = f"/api/v1/campaigns/{campaign['id']}"
    assert (await admin.post(f"{url}/call-list")).status_code == 202
    await drain(ctx)
    return url, (await admin.get(f"{url}/call-list")).json()


async def test_listed_numbers_are_left_out_with_their_reason(
    admin: Client, ctx: dict[str, Any], sessionmaker: SessionMaker, settings: Settings
) -> None:
    await add_phone_contact(admin, "Aino Callable", "0401111111")
    listed = await add_phone_contact(
        admin, "Robin Listed", "+358402222222", email="robin@example.fi"
    )
    consenting = await add_phone_contact(admin, "Consenting Listed", "0403333333")
    await grant(
        admin,
        consenting,
        channel="phone",
        method="phone_call",
        evidence={"text": "Saa soittaa", "notice_version": "2026-1"},
    )
    await load_extract(
        sessionmaker, settings, "040 222 2222", "040 333 3333", extract_date=date(2026, 11, 1)
    )

    url, status = await build(admin, ctx)
    assert status["status"] == "ready" and status["entry_count"] == 1
    assert status["audience_at_build"]["excluded"] == {"robinson_listed": 2}
    # The marketer's audience preview says the same.
    audience = (await admin.get(f"{url}/audience")).json()
    assert audience["eligible"] == 1 and audience["excluded"] == {"robinson_listed": 2}
    csv_text = (await admin.get(f"{url}/call-list.csv")).text
    assert "Aino Callable" in csv_text
    assert "Listed" not in csv_text

    # One contact's eligibility names the reason on the phone, not on email.
    phone = await admin.get(f"/api/v1/contacts/{listed}/eligibility?channel=phone")
    assert phone.json() == {"eligible": False, "reasons": ["robinson_listed"]}
    email = await admin.get(f"/api/v1/contacts/{listed}/eligibility?channel=email")
    assert "robinson_listed" not in email.json()["reasons"]


async def test_email_campaigns_ignore_the_register(
    admin: Client, sessionmaker: SessionMaker, settings: Settings
) -> None:
    listed = await add_phone_contact(admin, "Robin Listed", "0402222222", email="robin@example.fi")
    await grant(admin, listed)
    await load_extract(sessionmaker, settings, "0402222222")
    body = {"name": "E", "channel": "email", "subject": "s", "body_html": "h", "body_text": "t"}
    campaign = (await admin.post("/api/v1/campaigns", json=body)).json()
    audience = (await admin.get(f"/api/v1/campaigns/{campaign['id']}/audience")).json()
    assert audience == {"total": 1, "eligible": 1, "excluded": {}}


async def _request(sessionmaker: SessionMaker, settings: Settings, campaign_id: int) -> None:
    async with session_scope(sessionmaker) as session:
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None
        await call_lists.request(session, campaign=campaign, user_id=None, settings=settings)


async def refusal(admin: Client, ctx: dict[str, Any]) -> dict[str, Any]:
    """The 409 a call-list request ends in: at the request when the route
    checks the extract, else at the download of the list the worker refused."""
    campaign = (await admin.post("/api/v1/campaigns", json=PHONE_CAMPAIGN)).json()
    url = f"/api/v1/campaigns/{campaign['id']}"
    requested = await admin.post(f"{url}/call-list")
    if requested.status_code == 409:
        body: dict[str, Any] = requested.json()
        return body
    assert requested.status_code == 202, requested.text
    await drain(ctx)
    status = (await admin.get(f"{url}/call-list")).json()
    assert status["status"] == "refused" and status["entry_count"] == 0
    download = await admin.get(f"{url}/call-list.csv")
    assert download.status_code == 409
    body = download.json()
    assert status["audience_at_build"]["refused"] == body["reason"]
    return body


async def test_no_list_without_an_extract(
    admin: Client, ctx: dict[str, Any], sessionmaker: SessionMaker, settings: Settings
) -> None:
    await add_phone_contact(admin, "Aino Callable", "0401111111")
    body = await refusal(admin, ctx)
    assert body["reason"] == "robinson_extract_missing"
    assert "consentry import robinson" in body["detail"]
    async with sessionmaker() as session:
        assert (await session.exec(select(CallListEntry))).all() == []
    campaign = (await admin.post("/api/v1/campaigns", json=PHONE_CAMPAIGN)).json()
    with pytest.raises(Conflict) as caught:
        await _request(sessionmaker, settings, campaign["id"])
    assert caught.value.reason == "robinson_extract_missing"


@pytest.mark.parametrize(("age", "allowed"), [(31, True), (32, False)])
async def test_a_stale_extract_refuses_the_list_naming_its_date_and_the_limit(
    admin: Client,
    ctx: dict[str, Any],
    sessionmaker: SessionMaker,
    settings: Settings,
    age: int,
    allowed: bool,
) -> None:
    await add_phone_contact(admin, "Aino Callable", "0401111111")
    extract_date = date(2026, 11, 25) - timedelta(days=age)
    await load_extract(sessionmaker, settings, extract_date=extract_date)
    if allowed:
        url, status = await build(admin, ctx)
        assert status["status"] == "ready" and status["entry_count"] == 1
        await _request(sessionmaker, settings, int(url.rsplit("/", 1)[1]))
        return
    body = await refusal(admin, ctx)
    assert body["reason"] == "robinson_extract_stale"
    assert extract_date.isoformat() in body["detail"] and "31 days" in body["detail"]
    campaign = (await admin.post("/api/v1/campaigns", json=PHONE_CAMPAIGN)).json()
    with pytest.raises(Conflict) as caught:
        await _request(sessionmaker, settings, campaign["id"])
    assert caught.value.reason == "robinson_extract_stale"
    assert extract_date.isoformat() in caught.value.detail


async def test_the_worker_checks_again_when_it_builds(
    admin: Client,
    ctx: dict[str, Any],
    sessionmaker: SessionMaker,
    settings: Settings,
    frozen_clock: FrozenClock,
) -> None:
    await add_phone_contact(admin, "Aino Callable", "0401111111")
    await load_extract(sessionmaker, settings, extract_date=date(2026, 10, 25))  # 31 days old
    campaign = (await admin.post("/api/v1/campaigns", json=PHONE_CAMPAIGN)).json()
    url = f"/api/v1/campaigns/{campaign['id']}"
    assert (await admin.post(f"{url}/call-list")).status_code == 202
    # The list waits in the queue past midnight: the extract is 32 days old.
    frozen_clock.advance(days=1)
    await drain(ctx)
    status = (await admin.get(f"{url}/call-list")).json()
    assert status["status"] == "refused" and status["entry_count"] == 0
    assert status["audience_at_build"]["refused"] == "robinson_extract_stale"
    async with sessionmaker() as session:
        assert (await session.exec(select(CallListEntry))).all() == []


async def test_the_limit_is_the_setting_and_the_day_turns_in_helsinki(
    admin: Client, sessionmaker: SessionMaker, settings: Settings, frozen_clock: FrozenClock
) -> None:
    campaign = (await admin.post("/api/v1/campaigns", json=PHONE_CAMPAIGN)).json()
    await load_extract(sessionmaker, settings, extract_date=date(2026, 11, 20))
    strict = dataclasses.replace(settings, robinson_max_age_days=5)
    await _request(sessionmaker, strict, campaign["id"])  # 5 days old: allowed
    # 22:30 UTC on the 25th is already the 26th in Helsinki: 6 days old.
    frozen_clock.set(datetime(2026, 11, 25, 22, 30, tzinfo=UTC))
    with pytest.raises(Conflict) as caught:
        await _request(sessionmaker, strict, campaign["id"])
    assert "at most 5 days old" in caught.value.detail


async def test_a_new_extract_lets_lists_be_built_again(
    admin: Client, ctx: dict[str, Any], sessionmaker: SessionMaker, settings: Settings
) -> None:
    await add_phone_contact(admin, "Aino Callable", "0401111111")
    await load_extract(sessionmaker, settings, "0401111111", extract_date=date(2026, 9, 1))
    assert (await refusal(admin, ctx))["reason"] == "robinson_extract_stale"
    await load_extract(sessionmaker, settings, "0409999999", extract_date=date(2026, 11, 24))
    _, built = await build(admin, ctx)
    # The old extract's listing went with it.
    assert built["status"] == "ready" and built["entry_count"] == 1
    assert built["audience_at_build"]["excluded"] == {}
