"""Engagement rows name the consent they were stored under (GDPR 7(1),
demonstrable consent): an open or click the email-tracking grant in force
when the batch was stored, a page view also the website analytics grant it
was accepted under; the access and portability exports show both ids."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis
from sqlmodel import col, select

from service.db import SessionMaker
from service.models import EngagementEvent, SiteConsentEvent
from service.models.engagement import EngagementKind
from service.tracking import events
from tests.integration.tracking.test_visits import (
    VISITS,
    beacon,
    cookie_of,
    granted,
    view,
    visits_stored,
)
from tests.integration.tracking.test_visits import ctx as ctx
from tests.integration.tracking.test_visits import settings as settings
from tests.support.factories import add_campaign, add_contact, add_recipient, record_consent

Client = AsyncTestClient[Litestar]
REDIS_DB = 12
TRACKING = {
    "purpose": "email_tracking",
    "evidence": {"text": "Track my opens", "notice_version": "2026-01"},
}


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(f"{redis_url.rsplit('/', 1)[0]}/{REDIS_DB}")
    await client.flushdb()
    try:
        yield client
    finally:
        await client.flushdb()
        await client.aclose()


async def tracking(admin: Client, contact_id: int, action: str) -> int:
    """Record an email-tracking decision; the id of the ledger event it made."""
    ledger = await record_consent(admin, contact_id, action=action, **TRACKING)
    event_id: int = ledger["history"][-1]["id"]
    return event_id


async def opened(redis: Redis, sessionmaker: SessionMaker, contact_id: int) -> int:
    """One open of the contact's, queued and stored; how many rows were stored."""
    await events.publish(redis, kind=EngagementKind.OPEN, contact_id=contact_id, campaign_id=None)
    return await events.drain(redis, sessionmaker, consumer="relied-on")


async def rows(sessionmaker: SessionMaker) -> list[EngagementEvent]:
    async with sessionmaker() as session:
        query = select(EngagementEvent).order_by(col(EngagementEvent.id))
        return list((await session.exec(query)).all())


async def test_an_open_names_the_grant_it_was_stored_under_and_a_new_grant_after_withdrawal(
    redis: Redis, sessionmaker: SessionMaker, admin: Client
) -> None:
    contact_id = await add_contact(admin, email="open@example.fi")
    first = await tracking(admin, contact_id, "grant")
    other = await add_contact(admin, email="other@example.fi")
    others_grant = await tracking(admin, other, "grant")

    assert await opened(redis, sessionmaker, contact_id) == 1
    assert await opened(redis, sessionmaker, other) == 1
    await tracking(admin, contact_id, "withdraw")
    assert await opened(redis, sessionmaker, contact_id) == 0  # not stored at all
    second = await tracking(admin, contact_id, "grant")
    assert await opened(redis, sessionmaker, contact_id) == 1

    stored = await rows(sessionmaker)
    assert [(row.contact_id, row.consent_event_id) for row in stored] == [
        (contact_id, first),
        (other, others_grant),
        (contact_id, second),
    ]
    assert first != second
    # An aggregate event relied on no one's consent.
    await events.publish(redis, kind=EngagementKind.OPEN, contact_id=None, campaign_id=None)
    await events.drain(redis, sessionmaker, consumer="relied-on")
    assert (await rows(sessionmaker))[-1].consent_event_id is None

    # The person's access export names the grant behind each row.
    export = (await admin.get(f"/api/v1/contacts/{contact_id}/export")).json()
    assert [row["consent_event_id"] for row in export["engagement"]] == [first, second]


async def test_a_page_view_names_the_analytics_grant_and_the_tracking_grant(
    client: Client,
    admin: Client,
    ctx: dict[str, Any],
    sessionmaker: SessionMaker,
) -> None:
    tracked = await add_recipient(admin, "v@example.fi", consent=("direct_marketing",))
    tracking_grant = await tracking(admin, tracked, "grant")
    campaign_id = await add_campaign(admin, **VISITS)
    browser = await granted(sessionmaker)
    async with sessionmaker() as session:
        query = select(SiteConsentEvent).where(col(SiteConsentEvent.visitor) == browser)
        [decision] = (await session.exec(query)).all()

    response = await beacon(client, view(), cookie_of(tracked, campaign_id), browser)
    assert response.status_code == 202

    [stored] = await visits_stored(ctx, sessionmaker)
    assert stored.site_consent_event_id == decision.id
    assert stored.consent_event_id == tracking_grant
    response = await admin.get(f"/api/v1/contacts/{tracked}/export.zip")
    assert response.status_code == 200, response.text
    with zipfile.ZipFile(io.BytesIO(response.content)) as package:
        [row] = list(csv.DictReader(io.StringIO(package.read("engagement.csv").decode())))
    assert row["site_consent_event_id"] == str(decision.id)
    assert row["consent_event_id"] == str(tracking_grant)
