"""The trail's retention: cutting off its oldest rows, provably.

The trail is kept ``CONSENTRY_AUDIT_RETENTION_DAYS`` (0: for ever). The
nightly retention (rule ``audit_trail``, service.retention) removes the
oldest rows past that age, always a **prefix** of the chain (ids have no
gaps: every row up to the first one still within retention), so what is
kept is still one unbroken chain. In one transaction, under the chain's lock:

1. the cut is appended to the trail itself as an ``audit.cut`` event (what
   is removed, through which id, and the anchor), so the kept chain carries
   its own record of it;
2. an ``AuditCut`` row records the same: ``removed_through_id``,
   ``removed_count``, ``anchor_hash`` (the ``row_hash`` of the last row
   removed, which the first row kept names as its ``prev_hash``), when the
   removed rows were written, the retention in force and when it was cut;
3. the rows are deleted. The database's trigger (migration 0016) lets a
   DELETE through only for rows a recorded cut covers (id ≤ the highest
   ``removed_through_id``), so step 2 must come first, and no other row can
   be removed at all.

``consentry audit verify`` then walks the kept part from the latest cut's
anchor (service.audit.verify).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlmodel import col
from sqlmodel import select as model_select
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.audit.chain import TABLE, Event, append, take_turn
from service.db import run
from service.models.audit import AuditActor, AuditCut

ACTION = "audit.cut"
ROUTE = "retention audit_trail"


@dataclass(frozen=True, slots=True)
class Due:
    """The prefix of the trail past retention: how many rows, through which
    id, and when the oldest and newest of them were written."""

    count: int
    through_id: int | None
    oldest_at: datetime | None
    newest_at: datetime | None


def _end(before: datetime) -> Any:
    """The id the prefix ends just before: the first row within retention,
    or, when every row is older, the newest row (a cut never empties the
    trail: the chain goes on from the row it keeps)."""
    first_kept = select(func.min(TABLE.c.id)).where(TABLE.c.occurred_at >= before)
    newest = select(func.max(TABLE.c.id))
    return func.coalesce(first_kept.scalar_subquery(), newest.scalar_subquery(), 0)


async def due(session: AsyncSession, *, before: datetime) -> Due:
    """The rows a cut at ``before`` would remove: every row before the first
    one written at or after ``before``. A row carried over by a restore keeps
    its original (older) time but a new id: it waits for the rows before it."""
    query = select(
        func.count(),
        func.max(TABLE.c.id),
        func.min(TABLE.c.occurred_at),
        func.max(TABLE.c.occurred_at),
    ).where(TABLE.c.id < _end(before))
    count, through_id, oldest_at, newest_at = (await run(session, query)).one()
    return Due(int(count), through_id, _aware(oldest_at), _aware(newest_at))


async def latest(session: AsyncSession) -> AuditCut | None:
    """The most recent cut: the one the kept chain starts from."""
    query = model_select(AuditCut).order_by(col(AuditCut.removed_through_id).desc()).limit(1)
    return (await session.exec(query)).first()


async def cut(session: AsyncSession, *, before: datetime, retention_days: int) -> AuditCut | None:
    """Remove the rows ``due`` at ``before``, recorded as above; the cut, or
    None when nothing is due. The caller commits."""
    # Hold the chain: no row may be appended between reading the prefix and
    # recording the cut's own event.
    await session.run_sync(take_turn)
    found = await due(session, before=before)
    if not found.count or found.through_id is None:
        return None
    anchor = (
        await run(session, select(TABLE.c.row_hash).where(TABLE.c.id == found.through_id))
    ).scalar_one()
    await append(
        session,
        Event(
            actor=AuditActor.SYSTEM,
            action=ACTION,
            method="JOB",
            route=ROUTE,
            status_code=200,
            details={
                "removed_through_id": found.through_id,
                "removed_count": found.count,
                "anchor_hash": anchor,
                "retention_days": retention_days,
            },
        ),
    )
    record = AuditCut(
        removed_through_id=found.through_id,
        removed_count=found.count,
        anchor_hash=anchor,
        oldest_removed_at=found.oldest_at,
        newest_removed_at=found.newest_at,
        retention_days=retention_days,
        cut_at=clock.now(),
    )
    session.add(record)
    # The cut is in the database before the rows go: the trigger reads it.
    await session.flush()
    await run(session, delete(TABLE).where(TABLE.c.id <= found.through_id))
    return record


def _aware(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
