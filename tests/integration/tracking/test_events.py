"""The engagement write path against real Redis and real databases: reduction
before the stream, the consent filter, and recovery from crashes and bursts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis
from sqlalchemy import func
from sqlmodel import col, select

from service.db import SessionMaker, session_scope
from service.models import Campaign, Contact, EngagementEvent
from service.models.engagement import EngagementKind
from service.models.enums import CampaignChannel, Purpose
from service.tracking import events
from tests.support.factories import add_contact, record_consent, unique_email
from workers import tracking
from workers.settings import WorkerSettings, functions

Client = AsyncTestClient[Litestar]
# A database of its own, so flushing it touches nobody else's keys.
REDIS_DB = 11
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(f"{redis_url.rsplit('/', 1)[0]}/{REDIS_DB}")
    await client.flushdb()
    try:
        yield client
    finally:
        await client.flushdb()
        await client.aclose()


NewContact = Callable[..., Awaitable[int]]
# How these tests record consent to tracking, given or withdrawn.
TRACKING = {
    "purpose": "email_tracking",
    "evidence": {"text": "Track my opens", "notice_version": "2026-01"},
}


@pytest.fixture
def new_contact(admin: Client) -> NewContact:
    """A contact, with an email-tracking consent in the given state (or none)."""

    async def create(*actions: str) -> int:
        contact_id = await add_contact(admin, email=unique_email())
        for action in actions:
            await record_consent(admin, contact_id, action=action, **TRACKING)
        return contact_id

    return create


async def click(redis: Redis, contact_id: int | None, **fields: Any) -> None:
    await events.publish(
        redis, kind=EngagementKind.CLICK, contact_id=contact_id, campaign_id=None, **fields
    )


async def stored(sessionmaker: SessionMaker) -> list[EngagementEvent]:
    async with sessionmaker() as session:
        query = select(EngagementEvent).order_by(col(EngagementEvent.id))
        return list((await session.exec(query)).all())


async def pending(redis: Redis) -> int:
    summary = await redis.xpending(events.STREAM, events.GROUP)
    return int(summary["pending"])


async def read_without_ack(redis: Redis, consumer: str) -> list[events.Entry]:
    """What a worker holds when it dies: entries read, not acknowledged."""
    await events.ensure_group(redis)
    [[_stream, raw]] = await redis.xreadgroup(
        events.GROUP, consumer, {events.STREAM: ">"}, count=100
    )
    return [
        (entry_id.decode(), {k.decode(): v.decode() for k, v in fields.items()})
        for entry_id, fields in raw
    ]


async def test_publish_reduces_everything_before_it_reaches_the_stream(redis: Redis) -> None:
    await events.publish(
        redis,
        kind=EngagementKind.VISIT,
        contact_id=7,
        campaign_id=3,
        link_index=2,
        page="https://example.fi/offer?email=maija@example.fi#x",
        referrer="https://mail.example.com/inbox/123?token=secret",
        next_page="https://example.fi/checkout/step-2?session=abc",
        ip="203.0.113.77",
        user_agent=CHROME,
    )
    await events.publish(
        redis, kind=EngagementKind.OPEN, contact_id=None, campaign_id=None, ip="2001:db8:1:2::1"
    )
    await events.publish(
        redis, kind=EngagementKind.OPEN, contact_id=None, campaign_id=None, ip="not-an-ip"
    )
    [(_, visit), (_, open_v6), (_, open_bad)] = [
        (entry_id, {k.decode(): v.decode() for k, v in fields.items()})
        for entry_id, fields in await redis.xrange(events.STREAM)
    ]
    occurred_at = visit.pop("occurred_at")
    assert datetime.fromisoformat(occurred_at).tzinfo is not None
    assert visit == {
        "kind": "visit",
        "contact_id": "7",
        "campaign_id": "3",
        "link_index": "2",
        "page": "https://example.fi/offer",
        "referrer": "https://mail.example.com/inbox/123",
        "next_page": "https://example.fi/checkout/step-2",
        "ip_network": "203.0.113.0/24",
        "browser_family": "Chrome",
        "browser_major": "120",
        "os_family": "Windows",
        "automated": "0",
    }
    assert open_v6["ip_network"] == "2001:db8:1::/48"
    # No user agent at all is a script or a scanner, not a person.
    assert open_v6["automated"] == "1"
    assert "ip_network" not in open_bad and "contact_id" not in open_bad
    raw = b" ".join(v for _, fields in await redis.xrange(events.STREAM) for v in fields.values())
    for secret in (b"203.0.113.77", b"AppleWebKit", b"secret", b"maija", b"2001:db8:1:2::1"):
        assert secret not in raw


async def test_drain_stores_consenting_and_aggregate_events_only(
    redis: Redis, sessionmaker: SessionMaker, new_contact: NewContact
) -> None:
    granted = await new_contact("grant")
    never_asked = await new_contact()
    withdrawn = await new_contact("grant", "withdraw")
    for contact_id in (granted, never_asked, withdrawn, None):
        await click(redis, contact_id, ip="198.51.100.9", user_agent=CHROME)

    assert await events.drain(redis, sessionmaker, consumer="w1") == 2

    rows = await stored(sessionmaker)
    assert [row.contact_id for row in rows] == [granted, None]
    assert rows[0].ip_network == "198.51.100.0/24"
    assert "isp" not in rows[0].model_dump()  # no ISP is derived, so none is claimed
    assert rows[0].browser_family == "Chrome" and rows[0].automated is False
    assert rows[0].occurred_at.tzinfo is not None
    # Dropped events are acknowledged and gone too: nothing waits to be retried.
    assert await redis.xlen(events.STREAM) == 0
    assert await pending(redis) == 0


async def test_a_withdrawn_consent_drops_later_events(
    redis: Redis, sessionmaker: SessionMaker, new_contact: NewContact, admin: Client
) -> None:
    contact_id = await new_contact("grant")
    await click(redis, contact_id)
    assert await events.drain(redis, sessionmaker, consumer="w1") == 1
    # Queued before the withdrawal, stored after it: the check is at storage.
    await click(redis, contact_id)
    await record_consent(admin, contact_id, action="withdraw", **TRACKING)
    await click(redis, contact_id)
    assert await events.drain(redis, sessionmaker, consumer="w1") == 0
    assert len(await stored(sessionmaker)) == 1


@pytest.mark.parametrize("flag", ["restricted_at", "objected_at"])
async def test_a_restricted_or_objecting_contact_is_not_tracked(
    redis: Redis, sessionmaker: SessionMaker, new_contact: NewContact, flag: str
) -> None:
    held = await new_contact("grant")
    free = await new_contact("grant")
    async with session_scope(sessionmaker) as session:
        contact = await session.get(Contact, held)
        assert contact is not None
        setattr(contact, flag, datetime.now(UTC))
    for contact_id in (held, free):
        await click(redis, contact_id)

    assert await events.drain(redis, sessionmaker, consumer="w1") == 1

    assert [row.contact_id for row in await stored(sessionmaker)] == [free]


async def test_a_crash_between_insert_and_ack_stores_nothing_twice(
    redis: Redis, sessionmaker: SessionMaker
) -> None:
    for _ in range(3):
        await click(redis, None)
    entries = await read_without_ack(redis, "w1")
    async with session_scope(sessionmaker) as session:
        assert await events.store(session, entries) == 3
    # The worker died here; restarted under the same name it re-reads them.
    assert await pending(redis) == 3

    assert await events.drain(redis, sessionmaker, consumer="w1") == 0
    assert sorted(row.stream_id for row in await stored(sessionmaker)) == sorted(
        entry_id for entry_id, _ in entries
    )
    assert await pending(redis) == 0
    assert await redis.xlen(events.STREAM) == 0


async def test_pending_entries_are_read_again_after_a_restart(
    redis: Redis, sessionmaker: SessionMaker
) -> None:
    for _ in range(3):
        await click(redis, None)
    await read_without_ack(redis, "w1")  # read, then the worker died

    # Far from idle long enough to be claimed: only the own-pending pass sees them.
    assert await events.drain(redis, sessionmaker, consumer="w1") == 3
    assert await pending(redis) == 0


async def test_a_dead_consumers_idle_entries_are_claimed(
    redis: Redis, sessionmaker: SessionMaker
) -> None:
    for _ in range(3):
        await click(redis, None)
    await read_without_ack(redis, "dead")

    # Not idle long enough yet: another consumer leaves them alone.
    assert await events.drain(redis, sessionmaker, consumer="alive") == 0
    assert await pending(redis) == 3

    await asyncio.sleep(0.05)
    assert await events.drain(redis, sessionmaker, consumer="alive", claim_idle_ms=20) == 3
    assert await pending(redis) == 0
    assert len(await stored(sessionmaker)) == 3


async def test_a_burst_of_5000_is_stored_completely(
    redis: Redis, sessionmaker: SessionMaker, new_contact: NewContact
) -> None:
    contact_id = await new_contact("grant")
    async with session_scope(sessionmaker) as session:
        campaign = Campaign(
            name="Burst", channel=CampaignChannel.EMAIL, purpose=Purpose.DIRECT_MARKETING
        )
        session.add(campaign)
    for start in range(0, 5000, 500):
        await asyncio.gather(
            *(
                events.publish(
                    redis,
                    kind=EngagementKind.OPEN if n % 2 else EngagementKind.CLICK,
                    contact_id=contact_id if n % 10 == 0 else None,
                    campaign_id=campaign.id,
                    ip=f"192.0.2.{n % 256}",
                    user_agent=CHROME,
                )
                for n in range(start, start + 500)
            )
        )

    assert await events.drain(redis, sessionmaker, batch=1000, consumer="w1") == 5000

    async with sessionmaker() as session:
        query = (
            select(col(EngagementEvent.kind), func.count())
            .where(col(EngagementEvent.campaign_id) == campaign.id)
            .group_by(col(EngagementEvent.kind))
        )
        counts = dict((await session.exec(query)).all())
    assert counts == {EngagementKind.OPEN.value: 2500, EngagementKind.CLICK.value: 2500}
    assert await redis.xlen(events.STREAM) == 0


async def test_an_event_of_a_deleted_campaign_is_stored_without_it(
    redis: Redis, sessionmaker: SessionMaker
) -> None:
    await events.publish(redis, kind=EngagementKind.CLICK, contact_id=None, campaign_id=999_999)
    assert await events.drain(redis, sessionmaker, consumer="w1") == 1
    [row] = await stored(sessionmaker)
    assert row.campaign_id is None


async def test_the_worker_job_drains_the_stream(redis: Redis, sessionmaker: SessionMaker) -> None:
    await click(redis, None)
    assert await tracking.drain_engagement({"redis": redis, "sessionmaker": sessionmaker}) == 1
    names = {getattr(f, "name", None) or f.__name__ for f in functions()}
    assert "drain_engagement" in names
    [job] = [job for job in WorkerSettings.cron_jobs if job.name == "cron:drain_engagement"]
    assert job.second == set(range(0, 60, 5)) and job.unique
