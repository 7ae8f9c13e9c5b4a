"""The batch loop, written once for every channel.

A *send list* (a campaign's recipients today; a journey's steps later) hands
the loop chunks of rows that passed the consent gate again right before
sending, and turns each row into a prepared message. The loop sends them over
the messenger, ``concurrency`` at a time; journals every acceptance the
moment it arrives (service.delivery.journal); hands the outcomes back to the
send list to record; and stops the batch, not the recipient, when the relay,
Redis or the worker's lease fails.

Each connection prepares its next message only when it is free. Preparing
the whole chunk up front would keep the event loop busy for milliseconds,
and a relay's acceptance arriving meanwhile waits unread: that wait is the
window in which a crash leaves a delivered message out of the journal.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from redis.exceptions import RedisError

from service.delivery.journal import Journal
from service.delivery.messenger import Delivery, Messenger, Outcome, Outgoing, Unmakeable
from service.delivery.throttle import DomainThrottle, Slot
from service.models.enums import FailureReason, RecipientStatus
from service.queue import JobLease

logger = logging.getLogger(__name__)

# A recipient whose relay keeps answering "try later" is given up after this
# many attempts (each a batch run, spaced by growing back-off).
MAX_TEMPORARY_ATTEMPTS = 5


class QueueUnavailable(Exception):
    """Redis failed while the batch was sending: it stopped, and what the relay
    had accepted is recorded in the database."""


class RelayUnavailable(Exception):
    """The relay could not be reached or dropped the session: the batch stops,
    and its recipients stay queued with their tries untouched."""


class TemporaryFailures(Exception):
    """Some recipients of the batch must be tried again later."""

    def __init__(self, count: int) -> None:
        super().__init__(f"{count} recipients to try again")
        self.count = count


class Stopped(Exception):
    """The send list says the batch must stop (its campaign was paused or
    cancelled); the message says why."""


class Row(Protocol):
    """A queued recipient: its row id, how often it has been tried, and the
    domain its message goes to (throttled per domain; None: no such thing,
    as for a phone number)."""

    @property
    def id(self) -> int: ...

    @property
    def attempts(self) -> int: ...

    @property
    def domain(self) -> str | None: ...


R = TypeVar("R", bound=Row)


@dataclass(frozen=True, slots=True)
class Result(Generic[R]):
    """What happened to one recipient's message."""

    row: R
    delivery: Delivery
    failure: FailureReason | None = None  # why it failed, when it did for good


@dataclass(frozen=True, slots=True)
class Chunk(Generic[R]):
    """The next rows to send, and the last row id looked at (the cursor moves
    past rows the gate now excludes)."""

    rows: Sequence[R]
    last_id: int


class SendList(Protocol[R]):
    """What a batch sends, and where its outcomes go."""

    @property
    def journal(self) -> Journal: ...

    async def queued(self) -> list[int]:
        """The batch's row ids still queued (to match against the journal)."""
        ...

    async def mark_delivered(self, delivered: dict[int, datetime]) -> None:
        """Rows the journal says were accepted, written as sent."""
        ...

    async def next_chunk(self, after: int) -> Chunk[R] | None:
        """Rows after ``after`` still queued and still allowed by the gate
        (the rest marked skipped, with reasons); None when none are left.
        Raises ``Stopped`` when the batch must end."""
        ...

    def prepare(self, row: R) -> Outgoing:
        """One recipient's message; raises ``Unmakeable`` when it cannot be made."""
        ...

    async def record(self, results: Sequence[Result[R]], recorded: set[int]) -> int:
        """Write a chunk's outcomes (``recorded``: rows written as sent
        already); return how many recipients to try again later."""
        ...

    async def record_sent_now(self, row_id: int) -> None:
        """The journal is down: write one delivery to the database at once."""
        ...

    async def after_chunk(self, results: Sequence[Result[R]]) -> str | None:
        """A look at the chunk's outcomes; a message ends the batch (e.g. paused)."""
        ...

    async def finish(self) -> None:
        """Every row of the batch has its outcome."""
        ...


async def run(
    send_list: SendList[R],
    messenger: Messenger,
    *,
    first_id: int,
    lease: JobLease | None,
    throttle: DomainThrottle | None = None,
) -> str:
    """Send one batch, from its first row id on; raise for failures of the whole batch.

    ``lease`` is the job's hold on its worker's lease (service.queue): no
    message goes out while it is stale, and the batch gives up (LeaseLost)
    once it has expired, since another worker may have taken the batch over.
    ``throttle``: the worker's per-domain limits (None: only the messenger's).
    """
    await replay_journal(send_list)
    cursor, sent, temporary = first_id - 1, 0, 0
    hold_at = math.inf if throttle is None else throttle.clock() + throttle.hold_after
    while True:
        try:
            chunk = await send_list.next_chunk(cursor)
        except Stopped as stop:
            return str(stop)
        if chunk is None:
            break
        cursor = chunk.last_id
        progress = Progress(lease, hold_at=hold_at)
        results = await send_all(send_list, messenger, chunk.rows, progress, throttle)
        sent += sum(1 for r in results if r.delivery.outcome is Outcome.SENT)
        temporary += await send_list.record(results, progress.recorded) + progress.held
        if progress.stopped is not None:
            raise progress.stopped
        verdict = await send_list.after_chunk(results)
        if verdict is not None:
            return verdict
    if temporary:
        raise TemporaryFailures(temporary)
    await send_list.finish()
    return f"sent {sent}"


async def replay_journal(send_list: SendList[R]) -> None:
    """After a crash: rows the relay accepted but that still say queued."""
    queued = await send_list.queued()
    if not queued:
        return
    delivered = await send_list.journal.delivered(queued)
    if delivered:
        await send_list.mark_delivered(delivered)
        await send_list.journal.forget(delivered)


def status_after(result: Result[R]) -> tuple[RecipientStatus, FailureReason | None, str | None]:
    """A recipient's status, failure reason and stored reply after one try."""
    row, delivery = result.row, result.delivery
    if delivery.outcome is Outcome.PERMANENT:
        return RecipientStatus.FAILED, result.failure or FailureReason.REJECTED, delivery.reply
    if delivery.outcome is Outcome.TEMPORARY:
        if row.attempts + 1 >= MAX_TEMPORARY_ATTEMPTS:
            reply = f"gave up after {row.attempts + 1} temporary failures: {delivery.reply}"
            return RecipientStatus.FAILED, FailureReason.TEMPORARY_FAILURES, reply
        return RecipientStatus.QUEUED, None, delivery.reply
    return RecipientStatus.SENT, None, None


@dataclass(slots=True)
class Progress:
    """What the connections of one chunk share."""

    lease: JobLease | None
    # Rows already written to the database as sent (the journal was down).
    recorded: set[int] = field(default_factory=set)
    # Set when the chunk must stop before its next message.
    stopped: Exception | None = None
    # From this moment (the throttle's clock) rows of a slowed domain are not
    # waited for: they stay queued, untried, for the batch's next run.
    hold_at: float = math.inf
    held: int = 0


async def send_all(
    send_list: SendList[R],
    messenger: Messenger,
    rows: Sequence[R],
    progress: Progress,
    throttle: DomainThrottle | None = None,
) -> list[Result[R]]:
    """Send over as many connections as the messenger has, one message each at a time.

    A free connection takes the earliest row whose receiving domain may have
    one more message now (``throttle``); a domain at its limit never holds
    up the others. When every row left waits for its domain, the connection
    waits for a slot or a token, not polling."""
    pending = _Pending(rows, throttle)
    results: list[Result[R]] = []

    async def connection() -> None:
        # A failure of the whole batch on one connection stops the others
        # before their next message; what was sent is recorded all the same.
        try:
            while pending and progress.stopped is None:
                taken = pending.take()
                if taken is None:
                    await pending.wait(progress)
                    continue
                row, slot = taken
                delivery: Delivery | None = None
                try:
                    result = await send_one(send_list, messenger, row, progress)
                    delivery = result.delivery
                finally:
                    if slot is not None and throttle is not None:
                        throttle.release(slot, delivery)
                results.append(result)
        except Exception as exc:
            if progress.stopped is None:
                progress.stopped = exc

    await asyncio.gather(*(connection() for _ in range(min(len(rows), messenger.concurrency))))
    return results


class _Pending(Generic[R]):
    """A chunk's rows not yet taken, in order, each with its throttling key."""

    def __init__(self, rows: Sequence[R], throttle: DomainThrottle | None) -> None:
        self.throttle = throttle
        self.rows = [(row, None if throttle is None else throttle.key(row.domain)) for row in rows]

    def __bool__(self) -> bool:
        return bool(self.rows)

    def take(self) -> tuple[R, Slot | None] | None:
        """The earliest row whose domain may have one more message now, with
        its slot; None when every domain left is at its limit."""
        blocked: set[str] = set()
        for index, (row, key) in enumerate(self.rows):
            slot = None
            if key is not None:
                if key in blocked:
                    continue
                assert self.throttle is not None
                slot = self.throttle.try_acquire(key)
                if slot is None:
                    blocked.add(key)
                    continue
            del self.rows[index]
            return row, slot
        return None

    async def wait(self, progress: Progress) -> None:
        """Until a domain left may have a message, or the hold-back time;
        from then on, rows of slowed domains are left for the next try."""
        throttle = self.throttle
        assert throttle is not None  # rows without a throttle are never held up
        keys = {key for _, key in self.rows if key is not None}
        now = throttle.clock()
        if now >= progress.hold_at:
            slowed = {key for key in keys if throttle.slowed(key)}
            if slowed:
                kept = [(row, key) for row, key in self.rows if key not in slowed]
                held = len(self.rows) - len(kept)
                progress.held += held
                logger.info("%d recipients of slowed domains left for the next try", held)
                self.rows = kept
                return
        timeout = math.inf if now >= progress.hold_at else progress.hold_at - now
        ready = throttle.ready_in(keys)
        if ready is not None:
            timeout = min(timeout, ready)
        await throttle.wait(None if math.isinf(timeout) else timeout)


def failed(row: R, reason: FailureReason, exc: BaseException) -> Result[R]:
    """A recipient whose message could not be made: failed, and the batch goes on.

    The log line names the row and the kind of error, never its text: that
    may quote the person's data."""
    logger.warning("recipient %s failed: %s (%s)", row.id, reason.value, type(exc).__name__)
    detail = f"{reason.value}: {type(exc).__name__}: {exc}"[:500]
    return Result(row, Delivery(Outcome.PERMANENT, None, detail, False), reason)


async def send_one(
    send_list: SendList[R], messenger: Messenger, row: R, progress: Progress
) -> Result[R]:
    # One person's data must not stop the others: whatever goes wrong making
    # this message is this recipient's outcome.
    try:
        message = send_list.prepare(row)
    except Unmakeable as exc:
        return failed(row, exc.reason, exc.cause)
    except Exception as exc:
        return failed(row, FailureReason.UNEXPECTED_ERROR, exc)
    lease = progress.lease
    if lease is not None and not lease.fresh():
        # Stalled past FRESH_SECONDS: wait for a renewal, or give up the batch
        # (LeaseLost) if another worker may have taken it meanwhile.
        await lease.confirm()
    # The messenger returns every outcome about the recipient; what it raises
    # is about our side (the sender address, the pool) and stops the batch.
    delivery = await messenger.send(message)
    if delivery.outcome is Outcome.SENT:
        # The journal write comes first, before any other await: it is what
        # keeps a crash from sending to this person twice.
        try:
            await send_list.journal.mark(row.id)
        except (RedisError, OSError) as exc:
            await send_list.record_sent_now(row.id)
            progress.recorded.add(row.id)
            if progress.stopped is None:
                logger.error("Redis failed after a delivery; recorded it and stopped the batch")
                progress.stopped = QueueUnavailable(f"Redis failed: {type(exc).__name__}")
        return Result(row, delivery)
    if delivery.relay_unavailable:
        # Not this recipient's fault: stop the batch and keep them queued, so
        # that a relay outage costs nobody their tries.
        if progress.stopped is None:
            progress.stopped = RelayUnavailable(f"the relay is unavailable: {delivery.reply}")
        return Result(row, delivery)
    if delivery.outcome is Outcome.PERMANENT:
        # No reply code: refused before the relay said anything about it, as a
        # non-ASCII address is by a relay without SMTPUTF8.
        failure = (
            FailureReason.ADDRESS_NOT_DELIVERABLE
            if delivery.code is None
            else FailureReason.REJECTED
        )
        return Result(row, delivery, failure)
    return Result(row, delivery)
