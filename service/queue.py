"""The queue client: how the API and jobs ask workers to do something.

Job functions are named here as strings, so ``service`` never imports
``workers``. Every job has a deterministic id: queueing the same work twice
is a no-op while the first is pending (arq refuses a duplicate id).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
import time
from collections.abc import AsyncIterator, Awaitable
from datetime import datetime
from typing import Any, cast

from arq.connections import ArqRedis, RedisSettings, create_pool
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

QUEUE_NAME = "consentry:queue"

START_CAMPAIGN = "start_campaign"
SEND_BATCH = "send_batch"
BUILD_CALL_LIST = "build_call_list"


async def connect(redis_url: str) -> ArqRedis:
    return await create_pool(RedisSettings.from_dsn(redis_url), default_queue_name=QUEUE_NAME)


async def enqueue(
    redis: ArqRedis,
    function: str,
    *args: Any,
    job_id: str,
    defer_until: datetime | None = None,
) -> bool:
    """Queue a job; False when a job with this id is already queued or kept,
    or is still held by a worker (leased jobs: see below)."""
    if job_id.startswith(LEASED_JOB_PREFIXES) and await redis.exists(_OWNER_PREFIX + job_id):
        # Running: arq's own keys for it may be gone already (its first
        # worker's lease expired and that worker finished it), but a copy
        # queued now would run beside the one that holds it.
        return False
    job = await redis.enqueue_job(
        function, *args, _job_id=job_id, _queue_name=QUEUE_NAME, _defer_until=defer_until
    )
    return job is not None


def start_campaign_job_id(campaign_id: int, send_at: datetime | None = None) -> str:
    """One start job per campaign at a time; a scheduled start is its own job,
    so moving the time does not collide with the pending one."""
    suffix = f":{int(send_at.timestamp())}" if send_at is not None else ""
    return f"campaign:{campaign_id}:start{suffix}"


def send_batch_job_id(campaign_id: int, batch_index: int) -> str:
    return f"campaign:{campaign_id}:batch:{batch_index}"


def call_list_job_id(call_list_id: int) -> str:
    return f"call-list:{call_list_id}:build"


# -- worker leases ---------------------------------------------------------------
#
# arq marks a running job "in progress" for the longest job timeout + 10 s and
# keeps it in the queue until it finishes. A worker killed with SIGKILL (or
# lost with its machine) therefore holds its job for minutes: nobody else may
# start it until the mark expires. Leases shorten that to seconds:
#
# * every worker holds a lease, a key that lives LEASE_SECONDS unless renewed,
#   and renews it every RENEW_SECONDS;
# * a leased job (`WorkerLease.hold`) records its owner, the lease, when it
#   starts, and drops the record when it ends;
# * every worker, every RENEW_SECONDS, reclaims the jobs whose owner's lease
#   has expired: it deletes their in-progress mark (one Lua script, so a job
#   that a live worker holds is never touched), and arq, in whichever worker
#   polls first, starts the job again;
# * a job sends only while its worker's lease is fresh: if the worker has not
#   renewed for FRESH_SECONDS (a stalled process, a lost Redis), the job waits
#   before its next message, and if the lease expired meanwhile the job gives
#   up, since another worker may have taken it over. The margin between
#   FRESH_SECONDS and LEASE_SECONDS covers a message already being sent.
#
# A worker killed at T has its jobs running again by about T + LEASE_SECONDS +
# RENEW_SECONDS + arq's poll delay: 6 to 7 s.
#
# Redis itself may lose the last second of writes when it crashes (its AOF is
# written every second): a job's in-progress mark can come back without the
# owner record written just after it. Such a mark of a leased job that stays
# without an owner for UNOWNED_GRACE_SECONDS is freed too (a job records its
# owner within milliseconds of arq's mark), checked every SWEEP_SECONDS.

LEASE_SECONDS = 5.0
RENEW_SECONDS = 1.0
FRESH_SECONDS = 3.0
_LEASE_PREFIX = "consentry:worker-lease:"
_OWNER_PREFIX = "consentry:job-owner:"
_HELD = "consentry:leased-jobs"
# arq's own mark of a running job (arq.constants.in_progress_key_prefix).
_IN_PROGRESS_PREFIX = "arq:in-progress:"
# An owner record outlives any job: the longest job timeout is a day.
_OWNER_TTL_SECONDS = 2 * 86_400
UNOWNED_GRACE_SECONDS = 10.0
SWEEP_SECONDS = 5.0
# The ids of the jobs that hold a lease (see the *_job_id functions above).
LEASED_JOB_PREFIXES = ("campaign:", "call-list:")

# Atomically: every leased job whose owner's lease is gone loses its
# in-progress mark and its owner record. A job in the set without an owner
# record has finished.
_RECLAIM = """
local reclaimed = {}
for _, job in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local owner = redis.call('GET', ARGV[1] .. job)
  if not owner then
    redis.call('SREM', KEYS[1], job)
  elseif redis.call('EXISTS', ARGV[2] .. owner) == 0 then
    redis.call('DEL', ARGV[3] .. job, ARGV[1] .. job)
    redis.call('SREM', KEYS[1], job)
    table.insert(reclaimed, job)
  end
end
return reclaimed
"""


# Drop an owner record only if it is still this worker's: a worker whose lease
# expired must not drop the record of the worker that took its job over.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
# Free an in-progress mark only if its job still has no owner.
_FREE_UNOWNED = """
if redis.call('EXISTS', KEYS[2]) == 0 then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class LeaseLost(Exception):
    """The worker's lease expired while a job ran: the job may be running elsewhere."""


async def reclaim_orphans(redis: ArqRedis) -> list[str]:
    """Free the jobs of workers whose lease expired; return their ids."""
    reclaimed = await cast(
        Awaitable[list[Any]],
        redis.eval(_RECLAIM, 1, _HELD, _OWNER_PREFIX, _LEASE_PREFIX, _IN_PROGRESS_PREFIX),
    )
    return [job.decode() if isinstance(job, bytes) else str(job) for job in reclaimed]


class UnownedMarks:
    """In-progress marks of leased jobs seen without an owner, and since when."""

    def __init__(self) -> None:
        self._since: dict[str, float] = {}

    async def sweep(self, redis: ArqRedis) -> list[str]:
        """Free the marks that have had no owner for UNOWNED_GRACE_SECONDS."""
        now = time.monotonic()
        jobs = []
        async for key in redis.scan_iter(match=_IN_PROGRESS_PREFIX + "*", count=1000):
            job = (key.decode() if isinstance(key, bytes) else str(key))[len(_IN_PROGRESS_PREFIX) :]
            if job.startswith(LEASED_JOB_PREFIXES):
                jobs.append(job)
        owned = await redis.mget([_OWNER_PREFIX + job for job in jobs]) if jobs else []
        unowned = {job for job, owner in zip(jobs, owned, strict=True) if owner is None}
        self._since = {job: self._since.get(job, now) for job in unowned}
        freed = []
        for job, since in self._since.items():
            if now - since < UNOWNED_GRACE_SECONDS:
                continue
            removed = await cast(
                Awaitable[int],
                redis.eval(_FREE_UNOWNED, 2, _IN_PROGRESS_PREFIX + job, _OWNER_PREFIX + job),
            )
            if removed:
                freed.append(job)
        for job in freed:
            del self._since[job]
        return freed


class JobLease:
    """What a running job holds: its worker's lease as it was when the job started."""

    def __init__(self, worker: WorkerLease, lease_id: str) -> None:
        self._worker = worker
        self._id = lease_id

    @property
    def lease_id(self) -> str:
        return self._id

    def fresh(self) -> bool:
        return self._worker.id == self._id and self._worker.fresh()

    async def confirm(self) -> None:
        """Return once the job may send its next message; raise LeaseLost if never."""
        while not self.fresh():
            if self._worker.id != self._id:
                raise LeaseLost("the worker's lease expired; the job may run elsewhere")
            await asyncio.sleep(RENEW_SECONDS / 4)


class WorkerLease:
    """A worker's claim to be alive, renewed in the background while it runs."""

    def __init__(self, redis: ArqRedis) -> None:
        self._redis = redis
        self.id = secrets.token_hex(8)
        self._renewed_at = -math.inf
        self._task: asyncio.Task[None] | None = None
        self._unreleased: set[tuple[str, str]] = set()

    async def start(self) -> None:
        await self.take()
        self._task = asyncio.create_task(self._keep(), name="consentry-worker-lease")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        # A clean stop frees whatever this worker still held at once.
        with contextlib.suppress(RedisError, OSError):
            await self._redis.delete(_LEASE_PREFIX + self.id)
            await reclaim_orphans(self._redis)
        # Jobs still running under this lease (arq gave up on them when Redis
        # went away) stop before their next message: LeaseLost.
        self.id = secrets.token_hex(8)

    def fresh(self) -> bool:
        return time.monotonic() - self._renewed_at < FRESH_SECONDS

    @contextlib.asynccontextmanager
    async def hold(self, job_id: str) -> AsyncIterator[JobLease]:
        """Record this worker as the job's owner while the job runs."""
        held = JobLease(self, self.id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(_OWNER_PREFIX + job_id, self.id, ex=_OWNER_TTL_SECONDS)
            pipe.sadd(_HELD, job_id)
            await pipe.execute()
        try:
            yield held
        finally:
            # If Redis is gone, the record stays; the owner's lease then
            # expires and the job, if still queued, is reclaimed.
            try:
                await self._release(job_id, held.lease_id)
            except (RedisError, OSError):
                # Tried again each round: a job id left held would be refused
                # by `enqueue` for as long as this worker lives.
                self._unreleased.add((job_id, held.lease_id))

    async def _release(self, job_id: str, lease_id: str) -> None:
        await cast(Awaitable[int], self._redis.eval(_RELEASE, 1, _OWNER_PREFIX + job_id, lease_id))

    async def take(self) -> None:
        """Set the lease once; ``start`` also keeps it renewed."""
        started = time.monotonic()
        await self._redis.set(_LEASE_PREFIX + self.id, "1", px=int(LEASE_SECONDS * 1000))
        self._renewed_at = started

    async def renew(self) -> None:
        started = time.monotonic()
        # XX: renew only a lease that still exists. One that expired may have
        # had its jobs reclaimed by another worker already.
        renewed = await self._redis.set(
            _LEASE_PREFIX + self.id, "1", px=int(LEASE_SECONDS * 1000), xx=True
        )
        if renewed:
            self._renewed_at = started
            return
        logger.warning(
            "worker lease expired (the worker stalled or lost Redis); "
            "its running jobs give up and may run elsewhere"
        )
        # Jobs holding the old id raise LeaseLost; new jobs use the new lease.
        self.id = secrets.token_hex(8)
        await self.take()

    async def _keep(self) -> None:
        unowned = UnownedMarks()
        swept_at = time.monotonic()
        while True:
            try:
                await self.renew()
                for job_id, lease_id in list(self._unreleased):
                    await self._release(job_id, lease_id)
                    self._unreleased.discard((job_id, lease_id))
                reclaimed = await reclaim_orphans(self._redis)
                if reclaimed:
                    logger.info("reclaimed %d job(s) of a worker that died", len(reclaimed))
                if time.monotonic() - swept_at >= SWEEP_SECONDS:
                    swept_at = time.monotonic()
                    freed = await unowned.sweep(self._redis)
                    if freed:
                        logger.info("freed %d job(s) left without an owner by Redis", len(freed))
            except (RedisError, OSError):
                pass  # not renewed: fresh() turns False and sends wait
            await asyncio.sleep(RENEW_SECONDS)
