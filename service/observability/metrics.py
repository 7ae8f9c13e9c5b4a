"""``GET /metrics``: the Prometheus text exposition format (version 0.0.4).

Numbers only. Labels are closed sets (statuses, reason codes, HTTP methods,
route templates, campaign ids): never an address, a name or a path a client
sent. A part that cannot be read (Redis or the database down) is left out and
its ``consentry_*_up`` gauge says 0; the rest is still served.
"""

from __future__ import annotations

import asyncio
import hmac
import math

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from service.db import SessionMaker
from service.models.enums import RecipientStatus
from service.observability import queries
from service.observability.counters import ENGAGEMENT_STORED
from service.observability.heartbeat import STALE_AFTER_SECONDS
from service.observability.latency import BUCKETS, LatencyHistogram
from service.observability.service import (
    MessageCounter,
    MessageTotals,
    RedisReadings,
    as_utc,
    backup_state,
    redis_readings,
)
from service.settings import Settings

# Litestar adds "; charset=utf-8" to a text/* type.
CONTENT_TYPE = "text/plain; version=0.0.4"
# A scrape waits at most this long for each of the database and Redis.
READ_TIMEOUT = 5.0
OUTCOMES = (RecipientStatus.SENT, RecipientStatus.FAILED, RecipientStatus.SKIPPED)

Labels = dict[str, str]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class Exposition:
    """Writes metric families: a HELP and a TYPE line, then the samples."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")

    def sample(self, name: str, value: float, labels: Labels | None = None) -> None:
        if labels:
            pairs = ",".join(f'{key}="{_escape(text)}"' for key, text in labels.items())
            name = f"{name}{{{pairs}}}"
        self.lines.append(f"{name} {_number(value)}")

    def one(self, name: str, kind: str, help_text: str, value: float) -> None:
        self.family(name, kind, help_text)
        self.sample(name, value)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def write_messages(out: Exposition, totals: MessageTotals) -> None:
    out.family(
        "consentry_messages_total",
        "counter",
        "Campaign messages by outcome (sent, failed, skipped), over every send list.",
    )
    for outcome in OUTCOMES:
        out.sample("consentry_messages_total", totals.by_status[outcome.value], {"status": outcome})
    out.family(
        "consentry_messages_skipped_reasons_total",
        "counter",
        "Skipped messages by reason code; a message skipped for several reasons counts under each.",
    )
    for reason, n in sorted(totals.skipped_by_reason.items()):
        out.sample("consentry_messages_skipped_reasons_total", n, {"reason": reason})
    out.one(
        "consentry_messages_queued",
        "gauge",
        "Messages on send lists still waiting to be sent or skipped.",
        totals.by_status[RecipientStatus.QUEUED.value],
    )
    out.family("consentry_campaigns", "gauge", "Campaigns by status.")
    for state, n in sorted(totals.campaigns_by_status.items()):
        out.sample("consentry_campaigns", n, {"status": state})
    out.family(
        "consentry_campaign_messages",
        "gauge",
        "Send-list rows by status of each campaign sending, paused or scheduled.",
    )
    for campaign, counts in sorted(totals.active.items()):
        for state in RecipientStatus:
            out.sample(
                "consentry_campaign_messages",
                counts[state.value],
                {"campaign_id": str(campaign), "status": state.value},
            )


def write_redis(out: Exposition, readings: RedisReadings) -> None:
    queue, worker = readings.queue, readings.worker
    out.one("consentry_queue_depth", "gauge", "Jobs in the queue.", queue.depth or 0)
    out.one(
        "consentry_queue_ready_jobs",
        "gauge",
        "Jobs in the queue that are due now (the rest are deferred).",
        queue.ready or 0,
    )
    out.one(
        "consentry_engagement_stream_length",
        "gauge",
        "Opens, clicks and visits queued in Redis, not yet stored by a worker.",
        queue.engagement_waiting or 0,
    )
    out.one(
        "consentry_engagement_events_stored_total",
        "counter",
        "Engagement events workers stored in the database (kept in Redis).",
        readings.counters.get(ENGAGEMENT_STORED, 0),
    )
    out.one(
        "consentry_worker_up",
        "gauge",
        f"1 while a worker's heartbeat is at most {STALE_AFTER_SECONDS:.0f} seconds old.",
        1 if worker.alive else 0,
    )
    if worker.age_seconds is not None:
        out.one(
            "consentry_worker_heartbeat_age_seconds",
            "gauge",
            "Seconds since a worker's last heartbeat.",
            round(worker.age_seconds, 3),
        )


def write_latency(out: Exposition, histogram: LatencyHistogram) -> None:
    name = "consentry_http_request_duration_seconds"
    out.family(name, "histogram", "API request durations of this process, by route template.")
    for (method, route, status), series in sorted(histogram.series.items()):
        labels = {"method": method, "route": route, "status": status}
        cumulative = 0
        for bound, n in zip(BUCKETS, series.buckets, strict=True):
            cumulative += n
            out.sample(f"{name}_bucket", cumulative, {**labels, "le": _number(bound)})
        out.sample(f"{name}_bucket", series.count, {**labels, "le": "+Inf"})
        out.sample(f"{name}_sum", round(series.total, 6), labels)
        out.sample(f"{name}_count", series.count, labels)


def _up(out: Exposition, part: str, up: bool) -> None:
    out.one(f"consentry_{part}_up", "gauge", f"1 when the {part} answered this scrape.", int(up))


async def collect(
    *,
    settings: Settings,
    sessionmaker: SessionMaker,
    redis: Redis | None,
    counter: MessageCounter,
    histogram: LatencyHistogram,
) -> str:
    out = Exposition()
    try:
        async with asyncio.timeout(READ_TIMEOUT), sessionmaker() as session:
            totals = await counter.totals(session)
            last_action = await queries.last_retention_action(session)
    except (TimeoutError, OSError, SQLAlchemyError):
        _up(out, "database", False)
    else:
        _up(out, "database", True)
        write_messages(out, totals)
        if last_action is not None:
            out.one(
                "consentry_retention_last_action_timestamp_seconds",
                "gauge",
                "When a retention rule last deleted, transferred or notified (Unix time).",
                as_utc(last_action[0]).timestamp(),
            )
    if redis is not None:
        try:
            async with asyncio.timeout(READ_TIMEOUT):
                readings = await redis_readings(redis)
        except (TimeoutError, OSError, RedisError):
            _up(out, "redis", False)
        else:
            _up(out, "redis", True)
            write_redis(out, readings)
    backup = backup_state(settings)
    if backup.last_at is not None:
        out.one(
            "consentry_backup_last_timestamp_seconds",
            "gauge",
            "When the newest scheduled backup in CONSENTRY_BACKUP_DIR was made (Unix time).",
            backup.last_at.timestamp(),
        )
    write_latency(out, histogram)
    return out.text()


def token_matches(header: str | None, expected: str) -> bool:
    """A constant-time comparison of ``Authorization: Bearer <token>``."""
    scheme, _, token = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        token.strip().encode(), expected.encode()
    )
