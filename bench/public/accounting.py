"""Every event accounted for: the stream's entries, the rows drained from it,
the ledger's one-click withdrawals, against the requests wrk sent."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlmodel import col

from bench.public.wrk import WrkResult
from service.db import SessionMaker, run, session_scope
from service.models import ConsentEvent, ConsentState, EngagementEvent
from service.models.engagement import EngagementKind
from service.models.enums import (
    CaptureMethod,
    Channel,
    ConsentAction,
    Purpose,
)
from service.tracking import events

STREAM_PAGE = 10_000
WHO = ("tracked", "untracked", "aggregate")


@dataclass
class EventAccount:
    kind: str
    answered: int  # wrk: completed with 2xx/3xx
    published: int  # entries of this campaign and kind in the stream
    tracked: int
    untracked: int
    aggregate: int
    stored: int
    stored_untracked: int  # rows of contacts the gate does not let be tracked: must be 0
    connections: int
    # Requests wrk gave up on (timeouts, read errors): the server may still
    # have answered and published them.
    abandoned: int

    @property
    def bound(self) -> int:
        """The most requests that can have been published without wrk counting them."""
        return self.connections + self.abandoned

    @property
    def storable(self) -> int:
        return self.tracked + self.aggregate

    @property
    def in_flight(self) -> int:
        return self.published - self.answered

    @property
    def ok(self) -> bool:
        return (
            self.stored == self.storable
            and self.stored_untracked == 0
            and 0 <= self.in_flight <= self.bound
        )


@dataclass
class LedgerAccount:
    answered: int
    sent_contacts: int  # distinct contacts whose requests wrk sent
    sure_contacts: int  # distinct contacts of requests surely completed
    events: int  # one-click withdrawals in the ledger for this campaign
    withdrawn: int  # distinct contacts of those
    state_withdrawn: int  # of those, with the current state a withdrawal
    duplicates: int  # rows beyond the first for a contact
    missing: int  # surely completed, yet no withdrawal
    unexpected: int  # a withdrawal without a request sent
    errors: int

    @property
    def ok(self) -> bool:
        return (
            self.events == self.withdrawn == self.state_withdrawn
            and self.duplicates == 0
            and self.unexpected == 0
            and (self.missing == 0 or self.errors > 0)
        )


@dataclass
class RepeatAccount:
    """The same one-click token POSTed several times at once (a mail provider's
    retry, the person's own click): each must answer 200 and record one
    withdrawal at most."""

    copies: int
    seconds: int
    result: WrkResult
    contacts: int  # distinct contacts whose requests wrk sent
    rows: Counter[int]  # contacts by the number of ledger rows they got

    @property
    def duplicates(self) -> int:
        return sum((rows - 1) * n for rows, n in self.rows.items() if rows > 1)

    @property
    def ok(self) -> bool:
        return self.duplicates == 0 and self.result.error_count == 0


async def redis_cpu(redis: Redis) -> float:
    """CPU seconds the Redis server has used (its own count)."""
    info = await redis.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def machine_cpu() -> tuple[int, int]:
    """(busy, total) CPU time of the whole machine so far, in clock ticks."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already in user
    return total - idle, total


async def settle(redis: Redis) -> None:
    """Until the stream stops growing: requests in flight when wrk stopped."""
    last, stable = -1, 0
    while stable < 3:
        now = await redis.xlen(events.STREAM)
        stable = stable + 1 if now == last else 0
        last = now
        await asyncio.sleep(0.1)


async def stream_counts(redis: Redis, campaign_id: int, tracked: set[int]) -> Counter[str]:
    """Entries of the campaign in the stream, by ``kind:tracked|untracked|aggregate``."""
    counts: Counter[str] = Counter()
    start = "-"
    while True:
        page = await redis.xrange(events.STREAM, min=start, max="+", count=STREAM_PAGE)
        if not page:
            return counts
        for _entry_id, raw in page:
            fields = {k.decode(): v.decode() for k, v in raw.items()}
            if fields.get("campaign_id") != str(campaign_id):
                counts["other"] += 1
                continue
            contact = fields.get("contact_id")
            who = (
                "aggregate"
                if contact is None
                else "tracked"
                if int(contact) in tracked
                else "untracked"
            )
            counts[f"{fields['kind']}:{who}"] += 1
        start = "(" + page[-1][0].decode()


async def drain_all(redis: Redis, sessionmaker: SessionMaker) -> int:
    return await events.drain(redis, sessionmaker, consumer="bench-public")


async def stored_counts(
    sessionmaker: SessionMaker, campaign_id: int, tracked: set[int]
) -> Counter[str]:
    counts: Counter[str] = Counter()
    async with session_scope(sessionmaker) as session:
        rows = await run(
            session,
            select(col(EngagementEvent.kind), col(EngagementEvent.contact_id), func.count())
            .where(col(EngagementEvent.campaign_id) == campaign_id)
            .group_by(col(EngagementEvent.kind), col(EngagementEvent.contact_id)),
        )
        for kind, contact, n in rows.all():
            who = (
                "aggregate" if contact is None else "tracked" if contact in tracked else "untracked"
            )
            counts[f"{EngagementKind(kind).value}:{who}"] += int(n)
    return counts


async def ledger(sessionmaker: SessionMaker, campaign_id: int) -> tuple[Counter[int], int]:
    """One-click withdrawals of the campaign: rows per contact, and how many of
    those contacts have the withdrawal as their current state."""
    async with session_scope(sessionmaker) as session:
        contacts = list(
            (
                await run(
                    session,
                    select(col(ConsentEvent.contact_id)).where(
                        col(ConsentEvent.campaign_id) == campaign_id,
                        col(ConsentEvent.method) == CaptureMethod.ONE_CLICK.value,
                        col(ConsentEvent.action) == ConsentAction.WITHDRAW.value,
                        col(ConsentEvent.channel) == Channel.EMAIL.value,
                        col(ConsentEvent.purpose) == Purpose.DIRECT_MARKETING.value,
                    ),
                )
            ).scalars()
        )
        withdrawn = (
            await run(
                session,
                select(func.count())
                .select_from(ConsentState)
                .join(ConsentEvent, col(ConsentEvent.id) == col(ConsentState.event_id))
                .where(
                    col(ConsentEvent.campaign_id) == campaign_id,
                    col(ConsentEvent.method) == CaptureMethod.ONE_CLICK.value,
                    col(ConsentState.channel) == Channel.EMAIL.value,
                    col(ConsentState.purpose) == Purpose.DIRECT_MARKETING.value,
                    col(ConsentState.action) == ConsentAction.WITHDRAW.value,
                ),
            )
        ).scalar_one()
    return Counter(contacts), int(withdrawn)


def sent_contacts(
    result: WrkResult, contacts: list[int], threads: int, connections: int
) -> tuple[set[int], set[int]]:
    """Contacts whose requests wrk sent, and those whose requests surely completed.

    Thread k took paths k, k+T, … (see LUA). wrk 4 calls request() once on
    the first thread before the run, to check the request, and never sends
    that one: thread 0's first path. Each connection has at most one request
    outstanding, so all but a thread's last ``connections / T`` requests were
    answered (or counted as errors)."""
    sent: set[int] = set()
    sure: set[int] = set()
    per_thread = connections // threads
    n = len(contacts)
    for k, issued in enumerate(result.issued):
        for j in range(1 if k == 0 else 0, issued):
            contact = contacts[(k + j * threads) % n]
            sent.add(contact)
            if j < issued - per_thread:
                sure.add(contact)
    return sent, sure
