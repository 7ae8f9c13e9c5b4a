"""The queue worker against a real Redis: settings load, jobs run, the heartbeat lands."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from arq import create_pool
from arq.worker import Worker
from redis.asyncio import Redis

from workers import heartbeat
from workers.settings import QUEUE_NAME, WorkerSettings, redis_settings


async def test_a_queued_heartbeat_runs_and_is_visible(redis_url: str) -> None:
    pool = await create_pool(redis_settings(redis_url))
    # Jobs other tests of this process left queued would run in this burst too
    # (each test process has a Redis of its own: tests/conftest.py).
    await pool.flushdb()
    job = await pool.enqueue_job("heartbeat", _queue_name=QUEUE_NAME)
    assert job is not None
    worker = Worker(
        functions=WorkerSettings.functions,
        queue_name=QUEUE_NAME,
        redis_pool=pool,
        burst=True,
        poll_delay=0,
        handle_signals=False,
    )
    try:
        await worker.main()
    finally:
        await worker.close()
    assert worker.jobs_complete == 1 and worker.jobs_failed == 0
    client = Redis.from_url(redis_url)
    try:
        stamp = await client.get(heartbeat.HEARTBEAT_KEY)
        ttl = await client.ttl(heartbeat.HEARTBEAT_KEY)
    finally:
        await client.aclose()
    assert stamp is not None and stamp.decode().startswith("20")
    assert 0 < ttl <= heartbeat.HEARTBEAT_TTL_SECONDS


async def test_the_heartbeat_task_beats_at_once_and_every_interval(redis_url: str) -> None:
    client = Redis.from_url(redis_url)
    ctx: dict[str, Any] = {"redis": client}
    try:
        await client.delete(heartbeat.HEARTBEAT_KEY)
        await heartbeat.start(ctx, interval=0.2)
        first = await client.get(heartbeat.HEARTBEAT_KEY)
        assert first is not None
        deadline = time.monotonic() + 5
        while await client.get(heartbeat.HEARTBEAT_KEY) == first:
            assert time.monotonic() < deadline, "no second beat"
            await asyncio.sleep(0.05)
        await heartbeat.stop(ctx)
        assert heartbeat.TASK not in ctx
        await client.delete(heartbeat.HEARTBEAT_KEY)
        await asyncio.sleep(0.5)
        # Stopped: nothing beats any more.
        assert await client.get(heartbeat.HEARTBEAT_KEY) is None
    finally:
        await heartbeat.stop(ctx)
        await client.aclose()


def test_worker_settings_name_every_job_and_cron() -> None:
    from service import queue

    names = {getattr(f, "name", None) or f.__name__ for f in WorkerSettings.functions}
    # Every job the service queues by name has a function behind it.
    assert {queue.START_CAMPAIGN, queue.SEND_BATCH, queue.BUILD_CALL_LIST} <= names
    assert WorkerSettings.queue_name == QUEUE_NAME
    # The heartbeat is no cron job: it beats from a task of its own.
    assert [job.name for job in WorkerSettings.cron_jobs] == [
        "cron:sweep_campaigns",
        "cron:drain_engagement",
        "cron:daily_retention",
        "cron:scheduled_backup",
    ]


def test_no_job_outlasts_a_send_batch() -> None:
    # arq keeps every job's in-progress mark for the longest timeout of any
    # function: a long one anywhere would hold back the retry of a killed
    # worker's send batch just as long.
    worker = Worker(
        functions=WorkerSettings.functions,
        cron_jobs=WorkerSettings.cron_jobs,
        redis_pool=None,
        job_timeout=WorkerSettings.job_timeout,
        handle_signals=False,
    )
    assert worker.in_progress_timeout_s == WorkerSettings.job_timeout + 10
