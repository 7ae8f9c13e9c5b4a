"""Run the real queue jobs in-process, against the real Redis of the test session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from arq.worker import Worker

from service import queue
from service.db import SessionMaker
from service.settings import Settings
from workers.settings import functions, sender_for


@asynccontextmanager
async def worker_context(
    settings: Settings, sessionmaker: SessionMaker
) -> AsyncIterator[dict[str, Any]]:
    redis = await queue.connect(settings.redis_url or "")
    ctx: dict[str, Any] = {"settings": settings, "sessionmaker": sessionmaker, "redis": redis}
    ctx["sender"] = sender_for(settings, ctx)
    ctx["lease"] = queue.WorkerLease(redis)
    await ctx["lease"].start()
    try:
        yield ctx
    finally:
        await ctx["lease"].stop()
        if ctx["sender"].smtp is not None:
            await ctx["sender"].smtp.close()
        if ctx["sender"].sms is not None:
            await ctx["sender"].sms.close()
        await redis.aclose()


async def drain(ctx: dict[str, Any]) -> Worker:
    """Run every queued job (and the jobs they queue) until the queue is empty."""
    worker = Worker(
        functions=functions(),
        queue_name=queue.QUEUE_NAME,
        redis_pool=ctx["redis"],
        burst=True,
        poll_delay=0,
        handle_signals=False,
        ctx=dict(ctx),
        max_jobs=4,
    )
    await worker.main()
    # The pool is ours; close only the worker's own bookkeeping.
    return worker
