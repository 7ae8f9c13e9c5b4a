"""The queue client: how the API and jobs ask workers to do something.

Job functions are named here as strings, so ``service`` never imports
``workers``. Every job has a deterministic id: queueing the same work twice
is a no-op while the first is pending (arq refuses a duplicate id).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from arq.connections import ArqRedis, RedisSettings, create_pool

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
    """Queue a job; False when a job with this id is already queued or kept."""
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
