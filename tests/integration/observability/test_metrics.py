"""``GET /metrics``: who may read it, the format, and that the numbers are right."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from arq.connections import ArqRedis
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import update

from service import clock, queue
from service.app import create_app
from service.db import SessionMaker, session_scope
from service.models import CampaignRecipient
from service.models.engagement import EngagementKind
from service.models.enums import CampaignStatus, RecipientStatus
from service.settings import Settings, SettingsError, load_settings
from service.tracking import events
from tests.integration.observability.conftest import METRICS_TOKEN, add_campaign
from tests.support.clock import FrozenClock
from tests.support.worker import worker_context
from workers import heartbeat
from workers.settings import drain_engagement

Client = AsyncTestClient[Litestar]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
AUTH = {"Authorization": f"Bearer {METRICS_TOKEN}"}
_SAMPLE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=clock.now().tzinfo)


def parse(text: str) -> Samples:
    """Every sample of a text exposition; fails on a line of any other shape."""
    samples: Samples = {}
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        match = _SAMPLE.fullmatch(line)
        assert match, line
        name, labels, value = match.groups()
        samples[(name, frozenset(_LABEL.findall(labels or "")))] = float(value)
    return samples


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


async def scrape(client: Client) -> Samples:
    response = await client.get("/metrics", headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return parse(response.text)


# -- who may read it ------------------------------------------------------------


async def test_with_a_token_configured_only_that_token_is_let_in(
    client: Client, redis: ArqRedis
) -> None:
    assert (await client.get("/metrics")).status_code == 401
    wrong = await client.get("/metrics", headers={"Authorization": "Bearer " + "x" * 46})
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"].startswith("Bearer")
    assert (await client.get("/metrics", headers=AUTH)).status_code == 200


async def test_without_a_token_only_loopback_clients_are_served(
    settings: Settings, redis: ArqRedis
) -> None:
    # The test client's address is "testclient", not a loopback address; the
    # end-to-end test (tests/e2e) scrapes from 127.0.0.1 and is served.
    app = create_app(replace(settings, metrics_token=None))
    async with AsyncTestClient(app=app) as client:
        response = await client.get("/metrics", headers=AUTH)
    assert response.status_code == 403
    assert "CONSENTRY_METRICS_TOKEN" in response.json()["detail"]


# -- the numbers ------------------------------------------------------------------


async def test_messages_by_outcome_and_skip_reason(
    client: Client, sessionmaker: SessionMaker, redis: ArqRedis
) -> None:
    sent, failed, skipped, queued = (
        RecipientStatus.SENT,
        RecipientStatus.FAILED,
        RecipientStatus.SKIPPED,
        RecipientStatus.QUEUED,
    )
    await add_campaign(
        sessionmaker,
        CampaignStatus.DONE,
        [(sent, None)] * 3
        + [(failed, None), (skipped, "no_consent")]
        # A reason that is no code (never expected) must not become a label.
        + [(skipped, "no_consent,suppressed"), (skipped, "Maija <maija@example.fi>")],
    )
    going = await add_campaign(
        sessionmaker, CampaignStatus.SENDING, [(sent, None), (queued, None), (queued, None)]
    )
    await add_campaign(sessionmaker, CampaignStatus.DRAFT, [])

    samples = await scrape(client)
    assert value(samples, "consentry_messages_total", status="sent") == 4
    assert value(samples, "consentry_messages_total", status="failed") == 1
    assert value(samples, "consentry_messages_total", status="skipped") == 3
    reasons = "consentry_messages_skipped_reasons_total"
    assert value(samples, reasons, reason="no_consent") == 2
    assert value(samples, reasons, reason="suppressed") == 1
    assert value(samples, reasons, reason="other") == 1
    assert value(samples, "consentry_messages_queued") == 2
    assert value(samples, "consentry_campaigns", status="done") == 1
    assert value(samples, "consentry_campaigns", status="sending") == 1
    assert value(samples, "consentry_campaigns", status="draft") == 1
    per_campaign = "consentry_campaign_messages"
    assert value(samples, per_campaign, campaign_id=str(going), status="queued") == 2
    assert value(samples, per_campaign, campaign_id=str(going), status="sent") == 1
    assert value(samples, "consentry_database_up") == 1
    assert value(samples, "consentry_redis_up") == 1


async def test_a_finished_send_list_is_read_once_and_a_running_one_every_time(
    client: Client, sessionmaker: SessionMaker, redis: ArqRedis
) -> None:
    done = await add_campaign(sessionmaker, CampaignStatus.DONE, [(RecipientStatus.SENT, None)])
    going = await add_campaign(
        sessionmaker, CampaignStatus.SENDING, [(RecipientStatus.QUEUED, None)]
    )
    assert value(await scrape(client), "consentry_messages_total", status="sent") == 1

    async with session_scope(sessionmaker) as session:
        for campaign_id in (done, going):
            await session.exec(
                update(CampaignRecipient)
                .where(CampaignRecipient.campaign_id == campaign_id)  # type: ignore[arg-type]
                .values(status=RecipientStatus.FAILED.value)
            )
    samples = await scrape(client)
    # The done campaign's list cannot change, so it is not read again.
    assert value(samples, "consentry_messages_total", status="sent") == 1
    assert value(samples, "consentry_messages_total", status="failed") == 1
    assert value(samples, "consentry_messages_queued") == 0


async def test_queue_depth_and_due_jobs(client: Client, redis: ArqRedis) -> None:
    await queue.enqueue(redis, queue.SEND_BATCH, 1, 1, 10, job_id="test:now")
    later = datetime.now(clock.now().tzinfo) + timedelta(hours=1)
    await queue.enqueue(redis, queue.SEND_BATCH, 1, 11, 20, job_id="test:later", defer_until=later)
    samples = await scrape(client)
    assert value(samples, "consentry_queue_depth") == 2
    assert value(samples, "consentry_queue_ready_jobs") == 1


@pytest.mark.parametrize(("age", "up"), [(10, 1), (200, 0)])
async def test_worker_heartbeat_age(
    client: Client, redis: ArqRedis, frozen_clock: FrozenClock, age: int, up: int
) -> None:
    frozen_clock.set(NOW - timedelta(seconds=age))
    await heartbeat.heartbeat({"redis": redis})
    frozen_clock.set(NOW)
    samples = await scrape(client)
    assert value(samples, "consentry_worker_heartbeat_age_seconds") == age
    assert value(samples, "consentry_worker_up") == up


async def test_no_heartbeat_means_no_worker(client: Client, redis: ArqRedis) -> None:
    samples = await scrape(client)
    assert value(samples, "consentry_worker_up") == 0
    assert value(samples, "consentry_worker_heartbeat_age_seconds") is None


async def test_engagement_waiting_and_stored(
    client: Client,
    redis: ArqRedis,
    settings: Settings,
    sessionmaker: SessionMaker,
) -> None:
    for kind in (EngagementKind.OPEN, EngagementKind.CLICK, EngagementKind.OPEN):
        # Unattributed events (no contact): always stored, no consent to look up.
        await events.publish(redis, kind=kind, contact_id=None, campaign_id=None)
    samples = await scrape(client)
    assert value(samples, "consentry_engagement_stream_length") == 3
    assert value(samples, "consentry_engagement_events_stored_total") == 0

    async with worker_context(settings, sessionmaker) as ctx:
        assert await drain_engagement(ctx) == 3
    samples = await scrape(client)
    assert value(samples, "consentry_engagement_stream_length") == 0
    assert value(samples, "consentry_engagement_events_stored_total") == 3


async def test_without_redis_the_database_part_is_still_served(
    settings: Settings, sessionmaker: SessionMaker
) -> None:
    app = create_app(replace(settings, redis_url=None))
    async with AsyncTestClient(app=app) as client:
        samples = await scrape(client)
    assert value(samples, "consentry_messages_total", status="sent") == 0
    assert value(samples, "consentry_redis_up") is None
    assert value(samples, "consentry_queue_depth") is None


# -- request latency ------------------------------------------------------------


async def test_latency_is_labelled_by_route_template_never_by_path(
    client: Client, redis: ArqRedis
) -> None:
    for path in (
        "/api/v1/contacts/123",
        "/api/v1/contacts/456",
        "/u/some.signed-token",
        "/nowhere/maija@example.fi",
        "/nowhere/else?email=maija@example.fi",
    ):
        await client.get(path)
    await client.request("BREW", "/health/live")

    response = await client.get("/metrics", headers=AUTH)
    # The names and labels of every sample, without its value (a duration
    # such as 0.001238 may hold any digits).
    labelled = "\n".join(line.rsplit(" ", 1)[0] for line in response.text.splitlines())
    for private in ("123", "456", "some.signed-token", "maija", "nowhere", "BREW"):
        assert private not in labelled
    samples = parse(response.text)
    count = "consentry_http_request_duration_seconds_count"
    contact = {"method": "GET", "route": "/api/v1/contacts/{contact_id}", "status": "401"}
    assert value(samples, count, **contact) == 2
    assert value(samples, count, method="GET", route="/u/{token}", status="400") == 1
    assert value(samples, count, method="GET", route="(unmatched)", status="404") == 2
    assert value(samples, count, method="OTHER", route="(unmatched)", status="405") == 1
    bucket = "consentry_http_request_duration_seconds_bucket"
    assert value(samples, bucket, **contact, le="+Inf") == 2
    buckets = [v for (name, labels), v in samples.items() if name == bucket]
    assert buckets and all(v >= 0 for v in buckets)


def test_a_short_metrics_token_is_refused(tmp_path: Path) -> None:
    base = {"CONSENTRY_VAR_DIR": str(tmp_path)}
    assert load_settings(base).metrics_token is None
    assert load_settings({**base, "CONSENTRY_METRICS_TOKEN": " "}).metrics_token is None
    with pytest.raises(SettingsError, match=r"^CONSENTRY_METRICS_TOKEN: must be at least 32"):
        load_settings({**base, "CONSENTRY_METRICS_TOKEN": "short"})
