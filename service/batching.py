"""Group writes: what arrives while one write is under way goes in the next.

The public routes answer bursts (a large campaign's one-click buttons, its
opens and clicks). Each request waits until what it wrote is written, as
before, but the requests that arrive while a write is under way are written
together in the next one, with one round trip instead of one each. No request
waits for a timer: at low load a batch is one request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupWriter(Generic[Item, Result]):
    """``write`` takes a batch and returns one result per item, in order.
    A batch that raises is written again one item at a time, so one bad item
    fails alone: its request gets the exception, the others their results."""

    def __init__(
        self, write: Callable[[list[Item]], Awaitable[Sequence[Result]]], *, max_batch: int
    ) -> None:
        self._write = write
        self._max_batch = max_batch
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        """Write ``item`` (with whatever else is waiting); its result once written."""
        answer: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, answer))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_while_waiting())
        # A request cancelled meanwhile (its client went away) still has its
        # item written; only its answer is lost.
        return await asyncio.shield(answer)

    async def close(self) -> None:
        """Wait for the write under way and any waiting."""
        if self._writer is not None:
            await self._writer

    async def _write_while_waiting(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[: self._max_batch]
                del self._waiting[: self._max_batch]
                await self._write_batch(batch)
        finally:
            self._writer = None

    async def _write_batch(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        try:
            results = await self._write([item for item, _ in batch])
        except Exception as exc:
            if len(batch) == 1:
                batch[0][1].set_exception(exc)
                return
            for single in batch:
                await self._write_batch([single])
            return
        for (_, answer), result in zip(batch, results, strict=True):
            answer.set_result(result)
