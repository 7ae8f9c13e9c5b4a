"""service.batching.GroupWriter: what arrives during a write goes in the next
one, each caller gets its own result, and one bad item fails alone."""

from __future__ import annotations

import asyncio

import pytest

from service.batching import GroupWriter


class Sink:
    """Writes after a pause (a round trip), refusing any batch that holds a negative."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.written: list[int] = []

    async def write(self, items: list[int]) -> list[int]:
        self.batches.append(list(items))
        await asyncio.sleep(0.01)
        if any(item < 0 for item in items):
            raise ValueError("negative")
        self.written.extend(items)
        return [item * 10 for item in items]


async def test_items_that_arrive_during_a_write_go_together_in_the_next() -> None:
    sink = Sink()
    writer = GroupWriter(sink.write, max_batch=100)
    first = asyncio.create_task(writer.submit(1))
    await asyncio.sleep(0.001)  # the first write is under way
    rest = await asyncio.gather(*(writer.submit(n) for n in range(2, 12)))
    assert await first == 10 and rest == [n * 10 for n in range(2, 12)]
    assert sink.batches == [[1], list(range(2, 12))]


async def test_batches_are_cut_at_their_size() -> None:
    sink = Sink()
    writer = GroupWriter(sink.write, max_batch=4)
    assert await asyncio.gather(*(writer.submit(n) for n in range(10))) == [
        n * 10 for n in range(10)
    ]
    assert [len(batch) for batch in sink.batches] == [4, 4, 2]


async def test_one_bad_item_fails_alone() -> None:
    sink = Sink()
    writer = GroupWriter(sink.write, max_batch=100)
    answers = await asyncio.gather(
        *(writer.submit(n) for n in (1, 2, -3, 4)), return_exceptions=True
    )
    assert answers[:2] == [10, 20] and answers[3] == 40
    assert isinstance(answers[2], ValueError)
    assert sink.written == [1, 2, 4]
    assert sink.batches == [[1, 2, -3, 4], [1], [2], [-3], [4]]


async def test_a_cancelled_caller_still_has_its_item_written() -> None:
    sink = Sink()
    writer = GroupWriter(sink.write, max_batch=100)
    caller = asyncio.create_task(writer.submit(5))
    await asyncio.sleep(0.001)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    await writer.close()
    assert sink.written == [5]
