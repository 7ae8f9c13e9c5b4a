"""Counters that workers keep in Redis, for /metrics: one hash, one field each.

A number only a worker knows (how many engagement events a drain stored)
goes here with one HINCRBY; every API process reads the same totals, and
they survive a worker's restart (a Prometheus counter may still reset, when
Redis loses its data).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, cast

from arq.typing import WorkerCoroutine

COUNTERS_KEY = "consentry:metrics:counters"
ENGAGEMENT_STORED = "engagement_events_stored"


def counted(job: Callable[..., Coroutine[Any, Any, int]], counter: str) -> WorkerCoroutine:
    """The arq job ``job`` (which returns how many things it did), adding that
    number to ``counter``. Its name stays the job's own: arq names jobs, and
    cron entries, by the function's name."""

    @functools.wraps(job)
    async def wrapper(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> int:
        done = await job(ctx, *args, **kwargs)
        if done:
            await ctx["redis"].hincrby(COUNTERS_KEY, counter, done)
        return done

    return cast(WorkerCoroutine, wrapper)


def read_counters(raw: dict[Any, Any]) -> dict[str, int]:
    """HGETALL's answer (bytes or str) as names and whole numbers."""
    found = {}
    for name, value in raw.items():
        key = name.decode() if isinstance(name, bytes) else str(name)
        try:
            found[key] = int(value)
        except (TypeError, ValueError):
            continue
    return found
