"""The exactly-once journal: a Redis hash of the recipients whose message a
relay has accepted, written the moment the acceptance arrives.

A recipient's row is the truth about them, but a worker can be killed between
the relay's "250 accepted" and the row's update. So before anything else is
awaited, the recipient's id goes into the journal; the rows follow in one
write per chunk, after which their entries are dropped (``forget``). A batch
that starts again after a crash first moves every journalled recipient to
sent (``delivered``), then sends only to rows still queued.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from arq.connections import ArqRedis


async def redis_command(redis: ArqRedis, *command: Any) -> Any:
    """One Redis command (redis-py leaves ``execute_command`` untyped)."""
    return await redis.execute_command(*command)  # type: ignore[no-untyped-call]


class Journal:
    """One send list's journal (a campaign's), keyed by recipient row id."""

    def __init__(self, redis: ArqRedis, key: str) -> None:
        self.redis = redis
        self.key = key

    async def mark(self, row_id: int) -> None:
        """The relay accepted this row's message: one HSET, nothing before it."""
        await redis_command(self.redis, "HSET", self.key, row_id, time.time())

    async def delivered(self, row_ids: Sequence[int]) -> dict[int, datetime]:
        """Which of these rows the journal says were accepted, and when."""
        if not row_ids:
            return {}
        stamps = await redis_command(self.redis, "HMGET", self.key, *row_ids)
        return {
            row_id: datetime.fromtimestamp(float(stamp), tz=UTC)
            for row_id, stamp in zip(row_ids, stamps, strict=True)
            if stamp is not None
        }

    async def forget(self, row_ids: Collection[int]) -> None:
        """The rows say sent now: their entries can go."""
        if row_ids:
            await redis_command(self.redis, "HDEL", self.key, *(str(r) for r in row_ids))

    async def clear(self) -> None:
        await self.redis.delete(self.key)
