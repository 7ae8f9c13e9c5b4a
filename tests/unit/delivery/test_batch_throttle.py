"""The batch loop with per-domain limits: a domain at its limit never holds
up the others, rows of a throttled domain wait without polling, and past the
hold-back time a slowed domain's rows stay queued for the batch's next try.

The messenger here stands in for the outside world (a relay whose answers
the test decides); the loop, the throttle and the results are the real ones.
Real SMTP servers: tests/integration/campaigns/test_throttling.py.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import pytest

from service.delivery import batch
from service.delivery.batch import Chunk, Progress, Result
from service.delivery.messenger import Delivery, Outcome, Outgoing
from service.delivery.throttle import DomainThrottle, Slot, receiving_domain
from service.models.enums import Channel
from service.settings_readers import DomainRule

SENT = Delivery(Outcome.SENT, 250, "2.0.0 ok", False)
DEFERRED = Delivery(Outcome.TEMPORARY, 451, "4.7.0 try again later", False)


@dataclass(frozen=True)
class Row:
    id: int
    email: str
    attempts: int = 0

    @property
    def domain(self) -> str | None:
        return receiving_domain(self.email)


class Journal:
    async def mark(self, row_id: int) -> None:
        pass


@dataclass
class SendList:
    """One chunk of rows; what is recorded is kept for the test to read."""

    rows: list[Row]
    journal: Journal = field(default_factory=Journal)
    recorded: list[Result[Row]] = field(default_factory=list)
    given: bool = False

    async def queued(self) -> list[int]:
        return []

    async def mark_delivered(self, delivered: dict[int, datetime]) -> None:
        pass

    async def next_chunk(self, after: int) -> Chunk[Row] | None:
        if self.given:
            return None
        self.given = True
        return Chunk(self.rows, self.rows[-1].id)

    def prepare(self, row: Row) -> Outgoing:
        return Outgoing(
            recipient=row.email, content=b"Subject: hi\n\nhi\n", message_id=f"<{row.id}>"
        )

    async def record(self, results: Sequence[Result[Row]], recorded: set[int]) -> int:
        self.recorded.extend(results)
        return sum(1 for r in results if r.delivery.outcome is Outcome.TEMPORARY)

    async def record_sent_now(self, row_id: int) -> None:
        raise AssertionError("the journal does not fail here")

    async def after_chunk(self, results: Sequence[Result[Row]]) -> str | None:
        return None

    async def finish(self) -> None:
        pass


class Relay:
    """Answers as the test says, per domain, and counts what is in flight."""

    channel = Channel.EMAIL

    def __init__(self, concurrency: int = 4) -> None:
        self.concurrency = concurrency
        self.events: list[tuple[str, str]] = []
        self.in_flight: Counter[str] = Counter()
        self.most: Counter[str] = Counter()
        self.gates: dict[str, asyncio.Event] = {}
        self.answers: dict[str, Delivery] = {}
        # A gated domain's messages wait until this many of other domains are in.
        self.open_after: dict[str, int] = {}

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def send(self, message: Outgoing) -> Delivery:
        domain = message.recipient.rpartition("@")[2]
        self.events.append(("start", domain))
        self.in_flight[domain] += 1
        self.most[domain] = max(self.most[domain], self.in_flight[domain])
        try:
            gate = self.gates.get(domain)
            if gate is not None:
                await gate.wait()
            await asyncio.sleep(0)
        finally:
            self.in_flight[domain] -= 1
        self.events.append(("end", domain))
        for gated, count in self.open_after.items():
            if sum(1 for kind, d in self.events if kind == "end" and d != gated) >= count:
                self.gates[gated].set()
        return self.answers.get(domain, SENT)


class CountingThrottle(DomainThrottle):
    tries: int = 0

    def try_acquire(self, key: str) -> Slot | None:
        CountingThrottle.tries += 1
        return super().try_acquire(key)


async def test_a_domain_at_its_limit_does_not_hold_up_the_others() -> None:
    # The slow domain's rows come first: a loop that waited for the domain
    # would tie up every connection behind its first message.
    rows = [Row(i, f"s{i}@slow.example") for i in range(1, 4)]
    rows += [Row(i, f"f{i}@fast{i % 3}.example") for i in range(4, 13)]
    relay = Relay(concurrency=4)
    relay.gates["slow.example"] = asyncio.Event()

    relay.open_after["slow.example"] = 9
    throttle = DomainThrottle([DomainRule(("slow.example",), 1, None)], 4)
    results = await asyncio.wait_for(
        batch.send_all(SendList(rows), relay, rows, Progress(None), throttle), 30
    )
    assert sorted(r.row.id for r in results) == list(range(1, 13))
    assert all(r.delivery.outcome is Outcome.SENT for r in results)
    assert relay.most["slow.example"] == 1
    starts = [
        i for i, (kind, d) in enumerate(relay.events) if kind == "start" and d == "slow.example"
    ]
    last_other = max(i for i, (kind, d) in enumerate(relay.events) if d != "slow.example")
    # Everything else was accepted while the slow domain's first message was out.
    assert last_other < starts[1]
    assert throttle.limits("slow.example").in_flight == 0


async def test_a_rate_limited_domain_is_waited_for_without_polling() -> None:
    CountingThrottle.tries = 0
    throttle = CountingThrottle([DomainRule(("rate.example",), 4, 20.0)], 4)
    rows = [Row(i, f"r{i}@rate.example") for i in range(1, 6)]
    relay = Relay()
    results = await asyncio.wait_for(
        batch.send_all(SendList(rows), relay, rows, Progress(None), throttle), 30
    )
    assert [r.delivery.outcome for r in results] == [Outcome.SENT] * 5
    # Each wait lasts until the next token is due: a handful of tries per
    # message, where a polling loop would make thousands.
    assert CountingThrottle.tries < 60, CountingThrottle.tries


async def test_deferrals_slow_only_their_domain_and_stay_queued() -> None:
    throttle = DomainThrottle([DomainRule(("busy.example",), 4, 100.0)], 4)
    rows = [Row(i, f"b{i}@busy.example") for i in range(1, 5)]
    rows += [Row(i, f"o{i}@other.example") for i in range(5, 9)]
    relay = Relay()
    relay.answers["busy.example"] = DEFERRED
    send_list = SendList(rows)
    with pytest.raises(batch.TemporaryFailures) as caught:
        await asyncio.wait_for(
            batch.run(send_list, relay, first_id=1, lease=None, throttle=throttle), 30
        )
    assert caught.value.count == 4
    outcomes = {r.row.id: r.delivery.outcome for r in send_list.recorded}
    assert [outcomes[i] for i in range(1, 9)] == [Outcome.TEMPORARY] * 4 + [Outcome.SENT] * 4
    busy = throttle.limits("busy.example")
    assert busy.level >= 1 and busy.concurrency <= 2 and (busy.rate or 0) <= 50.0
    assert throttle.limits("other.example").level == 0
    assert relay.most["other.example"] <= 4


async def test_past_the_hold_back_time_a_slowed_domains_rows_stay_queued() -> None:
    now = [1000.0]
    throttle = DomainThrottle([], 4, hold_after=0.0, clock=lambda: now[0])
    # The domain deferred mail a moment ago: slowed, and out of tokens.
    slot = throttle.try_acquire("slowed.example")
    assert slot is not None
    throttle.release(slot, DEFERRED)
    rows = [Row(i, f"x{i}@slowed.example") for i in range(1, 6)]
    rows += [Row(i, f"y{i}@fine.example") for i in range(6, 9)]
    relay = Relay()
    send_list = SendList(rows)
    with pytest.raises(batch.TemporaryFailures) as caught:
        await asyncio.wait_for(
            batch.run(send_list, relay, first_id=1, lease=None, throttle=throttle), 30
        )
    # The held rows are not recorded at all: queued, with their tries untouched.
    assert sorted(r.row.id for r in send_list.recorded) == [6, 7, 8]
    assert caught.value.count == 5
    assert relay.most["slowed.example"] == 0
