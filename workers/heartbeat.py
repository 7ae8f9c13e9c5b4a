"""The worker's sign of life: a timestamp in Redis that ``consentry status`` and
the readiness check read."""

from __future__ import annotations

from typing import Any

from service import clock
from service.observability.service import HEARTBEAT_KEY

__all__ = ["HEARTBEAT_KEY", "HEARTBEAT_TTL_SECONDS", "heartbeat"]
HEARTBEAT_TTL_SECONDS = 120


async def heartbeat(ctx: dict[str, Any]) -> str:
    stamp = clock.now().isoformat()
    await ctx["redis"].set(HEARTBEAT_KEY, stamp, ex=HEARTBEAT_TTL_SECONDS)
    return stamp
