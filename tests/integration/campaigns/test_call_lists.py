"""Phone campaigns: call lists of exactly the contacts who may be called."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlmodel import select

from service.db import SessionMaker
from service.models import CallListDownload, CallListEntry, Contact
from service.models.enums import Role
from service.settings import Settings
from tests.conftest import TokenFactory
from tests.integration.robinson.support import load_extract
from tests.support.clock import FrozenClock
from tests.support.factories import add_phone_contact, ban, withdraw
from tests.support.worker import drain, worker_context

Client = AsyncTestClient[Litestar]
PHONE_CAMPAIGN = {"name": "Call round", "channel": "phone"}


@pytest.fixture
async def ctx(settings: Settings, sessionmaker: SessionMaker) -> AsyncIterator[dict[str, Any]]:
    async with worker_context(settings, sessionmaker) as context:
        await context["redis"].flushdb()
        await load_extract(sessionmaker, settings)  # phone lists need a fresh Robinson extract
        yield context


async def test_call_list_holds_exactly_the_phone_eligible(
    admin: Client, ctx: dict[str, Any], make_token: TokenFactory, sessionmaker: SessionMaker
) -> None:
    await add_phone_contact(
        admin, "Aino Callable", "0401111111", personal_identity_code="131052-308T"
    )
    await add_phone_contact(admin, "=HYPERLINK(evil)", "0402222222", language="sv")
    banned = await add_phone_contact(admin, "Banned Bertta", "0403333333")
    await ban(admin, banned, channel="phone")
    withdrew = await add_phone_contact(admin, "Opted Out", "0404444444")
    await withdraw(admin, withdrew, channel="phone", method="phone_call")
    await add_phone_contact(admin, "No Phone", None)
    await add_phone_contact(
        admin, "Old Customer", "0405555555", last_service_contact_at="2015-01-01"
    )

    campaign = (await admin.post("/api/v1/campaigns", json=PHONE_CAMPAIGN)).json()
    url = f"/api/v1/campaigns/{campaign['id']}"
    assert (await admin.post(f"{url}/send")).status_code == 409
    requested = await admin.post(f"{url}/call-list")
    assert requested.status_code == 202 and requested.json()["status"] == "building"
    assert (await admin.get(f"{url}/call-list.csv")).status_code == 409
    await drain(ctx)
    status = (await admin.get(f"{url}/call-list")).json()
    assert status["status"] == "ready" and status["entry_count"] == 2
    assert status["audience_at_build"]["excluded"] == {
        "consent_withdrawn": 1,
        "channel_ban": 1,
        "no_address": 1,
        "retention_expired": 1,
    }

    caller = await make_token(Role.CALLER)
    response = await admin.get(
        f"{url}/call-list.csv", headers={"Authorization": f"Bearer {caller}"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["cache-control"] == "no-store"
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows == [
        ["name", "phone", "language"],
        ["'=HYPERLINK(evil)", "+358402222222", "sv"],
        ["Aino Callable", "+358401111111", "fi"],
    ]
    assert "131052" not in response.text and "@" not in response.text
    async with sessionmaker() as db:
        downloads = (await db.exec(select(CallListDownload))).all()
    assert [(d.entry_count, d.user_id is not None) for d in downloads] == [(2, True)]

    # A marketer may build lists but not take the personal data home.
    marketer = await make_token(Role.MARKETER)
    refused = await admin.get(
        f"{url}/call-list.csv", headers={"Authorization": f"Bearer {marketer}"}
    )
    assert refused.status_code == 403


async def test_call_lists_expire_and_are_deleted(
    admin: Client, ctx: dict[str, Any], sessionmaker: SessionMaker, frozen_clock: FrozenClock
) -> None:
    await add_phone_contact(admin, "Aino", "0401111111")
    campaign = (await admin.post("/api/v1/campaigns", json=PHONE_CAMPAIGN)).json()
    url = f"/api/v1/campaigns/{campaign['id']}"
    await admin.post(f"{url}/call-list")
    await drain(ctx)
    built = (await admin.get(f"{url}/call-list")).json()
    frozen_clock.advance(days=7, seconds=1)
    assert built["expires_at"] is not None
    expired = await admin.get(f"{url}/call-list.csv")
    assert expired.status_code == 409 and expired.json()["reason"] == "expired"
    # The nightly retention run deletes the entries the day after expiry.
    from service.retention.cli import run_today

    frozen_clock.advance(days=1)
    report = await run_today(sessionmaker, ctx["settings"])
    assert [item.reference for item in report.items] == ["1 call-list entry of 1 expired call list"]
    async with sessionmaker() as db:
        assert (await db.exec(select(CallListEntry))).all() == []
        assert len((await db.exec(select(Contact))).all()) == 1
    assert (await admin.get(f"{url}/call-list")).json()["status"] == "expired"


async def test_email_campaigns_have_no_call_list(admin: Client) -> None:
    body = {"name": "E", "channel": "email", "subject": "s", "body_html": "h", "body_text": "t"}
    campaign = (await admin.post("/api/v1/campaigns", json=body)).json()
    response = await admin.post(f"/api/v1/campaigns/{campaign['id']}/call-list")
    assert response.status_code == 409 and response.json()["reason"] == "not_phone"
    assert (await admin.get(f"/api/v1/campaigns/{campaign['id']}/call-list")).status_code == 404
