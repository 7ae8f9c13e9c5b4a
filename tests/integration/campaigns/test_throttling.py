"""Throttling per receiving domain (issue 15 item 7), through the real queue
jobs to a real SMTP server that answers by the recipient's domain.

One domain held back (slow to answer, or deferring with 451) never slows the
others: the assertions are about order and counts measured in the server,
never about how long anything took."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlmodel import select

from service.campaigns import sending
from service.db import SessionMaker
from service.delivery import batch
from service.models import CampaignRecipient
from service.settings import Settings, load_settings
from tests.integration.campaigns.test_campaigns import Client, campaign
from tests.support.domains_smtp import DomainSink
from tests.support.factories import add_campaign, add_recipient
from tests.support.worker import drain, worker_context


@pytest.fixture
def sink() -> Iterator[DomainSink]:
    with DomainSink() as server:
        yield server


@pytest.fixture
def settings(settings: Settings, settings_env: dict[str, str], sink: DomainSink) -> Settings:
    return load_settings(
        {
            **settings_env,
            "CONSENTRY_DATABASE_URL": settings.database_url,
            "CONSENTRY_REDIS_URL": settings.redis_url or "",
            "CONSENTRY_SMTP_HOST": "127.0.0.1",
            "CONSENTRY_SMTP_PORT": str(sink.port),
            "CONSENTRY_MAIL_FROM": "news@example.fi",
            "CONSENTRY_PUBLIC_URL": "https://consentry.example.fi",
            "CONSENTRY_CONTROLLER_NAME": "Esimerkki Oy",
            "CONSENTRY_SEND_CONNECTIONS": "4",
            "CONSENTRY_SEND_BATCH_SIZE": "100",
            "CONSENTRY_DOMAIN_THROTTLE": "slow.example=1/1000, defer.example=4/50",
        }
    )


@pytest.fixture
async def ctx(settings: Settings, sessionmaker: SessionMaker) -> AsyncIterator[dict[str, Any]]:
    async with worker_context(settings, sessionmaker) as context:
        await context["redis"].flushdb()
        yield context


async def test_a_slow_domain_is_held_back_while_the_others_flow(
    admin: Client, ctx: dict[str, Any], sink: DomainSink
) -> None:
    # The slow domain's recipients come first in the send list: a loop that
    # waited for the domain would tie up every connection behind them.
    for index in range(3):
        await add_recipient(admin, f"slow{index}@slow.example")
    others = [f"r{index}@fast{index % 3}.example" for index in range(9)]
    for address in others:
        await add_recipient(admin, address)
    sink.handler.held["slow.example"] = len(others)
    campaign_id = await add_campaign(admin)
    assert (await admin.post(f"/api/v1/campaigns/{campaign_id}/send")).status_code == 202
    await drain(ctx)

    handler = sink.handler
    assert (await campaign(admin, campaign_id))["status"] == "done"
    assert handler.accepted("slow.example") == 3
    assert sum(handler.accepted(f"fast{i}.example") for i in range(3)) == 9
    # Never more than its one connection in flight (counted in the server).
    assert handler.most["slow.example"] == 1
    # Every other message was accepted while the slow domain's first one was
    # still out: its second started only after all of them.
    slow_rcpts = [
        i for i, (kind, d) in enumerate(handler.events) if (kind, d) == ("rcpt", "slow.example")
    ]
    last_other = max(
        i
        for i, (kind, d) in enumerate(handler.events)
        if kind == "accepted" and d != "slow.example"
    )
    assert last_other < slow_rcpts[1]
    assert ctx["sender"].throttle.limits("slow.example").in_flight == 0


async def test_deferrals_slow_their_domain_and_are_sent_on_a_later_try(
    admin: Client, ctx: dict[str, Any], sink: DomainSink, caplog: pytest.LogCaptureFixture
) -> None:
    for index in range(4):
        await add_recipient(admin, f"d{index}@defer.example")
    for index in range(4):
        await add_recipient(admin, f"k{index}@ok.example")
    sink.handler.deferrals["defer.example"] = 3
    campaign_id = await add_campaign(admin)
    await admin.post(f"/api/v1/campaigns/{campaign_id}/send")
    await sending.start(ctx["sender"], campaign_id)
    async with ctx["sessionmaker"]() as db:
        ids = sorted(r.id or 0 for r in (await db.exec(select(CampaignRecipient))).all())

    with (
        caplog.at_level(logging.INFO, "service.delivery.throttle"),
        pytest.raises(batch.TemporaryFailures) as caught,
    ):
        await sending.send_batch(ctx["sender"], campaign_id, ids[0], ids[-1])
    assert caught.value.count == 3
    async with ctx["sessionmaker"]() as db:
        rows = {r.id: r for r in (await db.exec(select(CampaignRecipient))).all()}
    deferred = [rows[i] for i in ids[:4] if rows[i].status == "queued"]
    assert len(deferred) == 3
    assert all(r.smtp_code == 451 and r.attempts == 1 for r in deferred)
    assert all(rows[i].status == "sent" for i in ids[4:])
    assert sink.handler.accepted("ok.example") == 4

    throttle = ctx["sender"].throttle
    slowed = throttle.limits("defer.example")
    assert slowed.level >= 1 and slowed.concurrency <= 2 and (slowed.rate or 0) <= 25.0
    assert throttle.limits("ok.example").level == 0
    assert throttle.limits("ok.example").concurrency == 4
    # The log names the domain, never a recipient.
    slow_downs = [r.getMessage() for r in caplog.records if "deferred mail" in r.getMessage()]
    assert slow_downs and all("defer.example" in m and "@" not in m for m in slow_downs)

    # The next try of the batch: the domain takes them now.
    result = await sending.send_batch(ctx["sender"], campaign_id, ids[0], ids[-1])
    assert result == "sent 3"
    assert sink.handler.accepted("defer.example") == 4
    done = await campaign(admin, campaign_id)
    assert done["status"] == "done"
    assert done["counts"] == {"queued": 0, "sent": 8, "failed": 0, "skipped": 0}
