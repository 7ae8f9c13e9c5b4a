"""Readings of the running service, shared by /metrics and ``consentry status``.

The send lists' counts come from the database (``campaign_recipients``); the
queue, the worker's heartbeat and the engagement stream from Redis. Names
of Redis keys the workers write are repeated here, not imported: ``service``
never imports ``workers`` (tests/integration/observability checks they agree).
"""

from __future__ import annotations

import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from arq.constants import result_key_prefix
from arq.jobs import DeserializationError, deserialize_result
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.backup.schedule import scheduled_backups
from service.contacts import queries as contact_queries
from service.models.enums import FailureReason, RecipientStatus
from service.observability import queries
from service.observability.counters import COUNTERS_KEY, read_counters
from service.observability.heartbeat import HEARTBEAT_KEY, worker_state
from service.observability.schemas import (
    BackupState,
    CampaignProgress,
    QueueState,
    RetentionState,
    Status,
    WorkerState,
)
from service.queue import QUEUE_NAME
from service.settings import Settings
from service.tracking.events import STREAM

# arq keeps the nightly run's result a day under this key (workers/settings.py).
RETENTION_RESULTS = f"{result_key_prefix}cron:daily_retention:*"
# Reason codes are short snake_case words; anything else is counted as "other"
# rather than become a label.
_REASON_CODE = re.compile(r"[a-z_]{1,40}")

Rows = list[tuple[str, str | None, int]]  # status, reason, rows


def as_utc(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes; every time stored is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass
class MessageTotals:
    by_status: Counter[str] = field(default_factory=Counter)
    skipped_by_reason: Counter[str] = field(default_factory=Counter)
    campaigns_by_status: Counter[str] = field(default_factory=Counter)
    # Send-list rows by status, of each campaign not yet done or cancelled.
    active: dict[int, Counter[str]] = field(default_factory=dict)

    def add(self, rows: Rows) -> Counter[str]:
        counts: Counter[str] = Counter()
        for status, reason, n in rows:
            counts[status] += n
            if status == RecipientStatus.SKIPPED.value:
                for code in (reason or "unknown").split(","):
                    code = code.strip()
                    self.skipped_by_reason[code if _REASON_CODE.fullmatch(code) else "other"] += n
        self.by_status.update(counts)
        return counts


class MessageCounter:
    """Messages sent, failed and skipped over every send list.

    A done or cancelled campaign's list changes no more, so its counts are
    read once per process and kept; each scrape reads only the lists of
    campaigns still going. The totals only grow while the process lives, as
    Prometheus counters must.
    """

    def __init__(self) -> None:
        self._finished: dict[int, Rows] = {}

    async def totals(self, session: AsyncSession) -> MessageTotals:
        states = await queries.campaign_states(session)
        wanted = [
            campaign
            for campaign, status in states
            if status not in queries.FINISHED or campaign not in self._finished
        ]
        rows: defaultdict[int, Rows] = defaultdict(list)
        for campaign, status, reason, n in await queries.recipient_counts(session, wanted):
            rows[campaign].append((status, reason, n))
        totals = MessageTotals()
        for campaign, status in states:
            totals.campaigns_by_status[status.value] += 1
            if status in queries.FINISHED:
                self._finished.setdefault(campaign, rows.get(campaign, []))
            else:
                totals.active[campaign] = totals.add(rows.get(campaign, []))
        for finished in self._finished.values():
            totals.add(finished)
        return totals


@dataclass(frozen=True)
class RedisReadings:
    queue: QueueState
    worker: WorkerState
    counters: dict[str, int]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


async def redis_readings(redis: Redis) -> RedisReadings:
    """The queue, the heartbeat, the engagement stream and the counters: one round trip."""
    # arq scores a job with the real time it is due at, not service.clock's.
    due_by = int(time.time() * 1000)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zcard(QUEUE_NAME)
        pipe.zcount(QUEUE_NAME, "-inf", due_by)
        pipe.xlen(STREAM)
        pipe.get(HEARTBEAT_KEY)
        pipe.hgetall(COUNTERS_KEY)
        depth, ready, waiting, beat, counters = await pipe.execute()
    queue = QueueState(
        reachable=True,
        depth=int(depth),
        ready=int(ready),
        deferred=int(depth) - int(ready),
        engagement_waiting=int(waiting),
    )
    return RedisReadings(queue, worker_state(_text(beat), clock.now()), read_counters(counters))


async def last_retention_run(redis: Redis) -> tuple[datetime, dict[str, int | str]] | None:
    """The newest nightly retention run arq still keeps a result of (a day)."""
    keys = [key async for key in redis.scan_iter(match=RETENTION_RESULTS, count=1000)]
    newest: tuple[datetime, dict[str, int | str]] | None = None
    for raw in await redis.mget(keys) if keys else []:
        if raw is None:
            continue
        try:
            result = deserialize_result(raw)
        except DeserializationError:
            continue
        if newest is not None and result.finish_time <= newest[0]:
            continue
        if result.success and isinstance(result.result, dict):
            outcome = {str(k): v for k, v in result.result.items() if isinstance(v, int | str)}
        else:
            outcome = {"failed": type(result.result).__name__}
        newest = (as_utc(result.finish_time), outcome)
    return newest


def backup_state(settings: Settings) -> BackupState:
    """The newest scheduled backup in the backup directory (docs/backup.md)."""
    state = BackupState(directory=str(settings.backup_dir))
    try:
        found = scheduled_backups(settings.backup_dir)
        if found:
            stamp, path = found[-1]
            state = state.model_copy(
                update={"last_at": stamp, "file": path.name, "size_bytes": path.stat().st_size}
            )
    except OSError:
        pass  # unreadable here (another host's disk): shown as none
    return state


def _progress(
    campaign: Any, counts: Counter[str], failures: dict[str, int] | None = None
) -> CampaignProgress:
    return CampaignProgress(
        id=campaign.id,
        name=campaign.name,
        status=campaign.status,
        send_at=as_utc(campaign.send_at) if campaign.send_at else None,
        started_at=as_utc(campaign.started_at) if campaign.started_at else None,
        total=sum(counts.values()),
        queued=counts[RecipientStatus.QUEUED.value],
        sent=counts[RecipientStatus.SENT.value],
        skipped=counts[RecipientStatus.SKIPPED.value],
        failed=counts[RecipientStatus.FAILED.value],
        failures=failures or {},
        pause_reason=campaign.pause_reason,
    )


async def status(
    session: AsyncSession, *, settings: Settings, redis: Redis | None, redis_error: str | None
) -> Status:
    """Everything ``consentry status`` shows. Without ``redis`` (not configured
    or not reachable: ``redis_error`` says which) the database part is whole."""
    campaigns = await queries.active_campaigns(session)
    counts: defaultdict[int, Counter[str]] = defaultdict(Counter)
    failures: defaultdict[int, dict[str, int]] = defaultdict(dict)
    for campaign_id, state, reason, n in await queries.recipient_counts(
        session, [c.id for c in campaigns if c.id is not None]
    ):
        counts[campaign_id][state] += n
        if state == RecipientStatus.FAILED.value:
            # Rows failed before reasons were kept were all refused by the relay.
            why = reason or FailureReason.REJECTED.value
            failures[campaign_id][why] = failures[campaign_id].get(why, 0) + n
    retention = RetentionState()
    last_action = await queries.last_retention_action(session)
    if last_action is not None:
        retention.last_action_at = as_utc(last_action[0])
        retention.last_action_rule = last_action[1]
    queue, worker = QueueState(reachable=False, error=redis_error), WorkerState()
    if redis is not None:
        try:
            readings = await redis_readings(redis)
            queue, worker = readings.queue, readings.worker
            run = await last_retention_run(redis)
            if run is not None:
                retention.last_run_at, retention.last_run = run
        except (OSError, RedisError) as exc:
            queue = QueueState(reachable=False, error=f"Redis not reachable ({type(exc).__name__})")
    return Status(
        as_of=clock.now(),
        campaigns=[_progress(c, counts[c.id or 0], failures[c.id or 0]) for c in campaigns],
        queue=queue,
        worker=worker,
        retention=retention,
        backup=backup_state(settings),
        register_problems=await contact_queries.register_problems(session),
    )
