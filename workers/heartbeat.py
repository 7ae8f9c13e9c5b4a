"""The worker's sign of life: the time, in Redis, every ``HEARTBEAT_SECONDS``.

It beats from a task of its own, started in ``on_startup``, not from a cron
job: cron runs are queued behind every due job, and a campaign queues all of
its batches at once, so a busy worker would look dead for the whole campaign.
The task shares the worker's event loop, so a loop that is blocked or a
process that is stopped stops beating too, which is what readiness must see
(service/observability/heartbeat.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from service import clock
from service.observability.heartbeat import (
    HEARTBEAT_KEY,
    HEARTBEAT_SECONDS,
    HEARTBEAT_TTL_SECONDS,
)

__all__ = ["HEARTBEAT_KEY", "HEARTBEAT_SECONDS", "HEARTBEAT_TTL_SECONDS", "heartbeat"]
TASK = "heartbeat_task"
logger = logging.getLogger(__name__)


async def beat(redis: Redis) -> str:
    stamp = clock.now().isoformat()
    await redis.set(HEARTBEAT_KEY, stamp, ex=HEARTBEAT_TTL_SECONDS)
    return stamp


async def heartbeat(ctx: dict[str, Any]) -> str:
    """One beat, as a job (kept so that one can be queued by hand)."""
    return await beat(ctx["redis"])


async def _beat_forever(redis: Redis, interval: float) -> None:
    failing = False
    while True:
        await asyncio.sleep(interval)
        try:
            await beat(redis)
        except (OSError, RedisError) as exc:
            # Redis is away (restarting, say): readiness already reports it;
            # one line when it starts, and the next beat tries again.
            if not failing:
                logger.warning("heartbeat: Redis not reachable (%s)", type(exc).__name__)
            failing = True
        else:
            failing = False


async def start(ctx: dict[str, Any], interval: float = HEARTBEAT_SECONDS) -> None:
    """Beat once now (the worker is ready at once), then every ``interval``."""
    await beat(ctx["redis"])
    ctx[TASK] = asyncio.create_task(_beat_forever(ctx["redis"], interval))


async def stop(ctx: dict[str, Any]) -> None:
    task: asyncio.Task[None] | None = ctx.pop(TASK, None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
