"""Audit events recorded after the snapshot are carried into the restored trail.

The audit trail is append-only and hash-chained (service.audit.chain): a
restore that simply put the backup's trail back would drop every event
recorded since the snapshot — reads of a person's data, changes, denials —
and the shorter chain would still verify. So, after the backup is in place
and before it becomes the live database, the events of the current trail
that the restored one lacks are appended to it, in their order, each with
its original time and content and marked ``carried_over_from_restore``
(``{"id", "hash"}`` of the original row) in its details. They are new rows
of the restored chain (new ids, new hashes), so `consentry audit verify`
covers them; the mark and the original hash tie each to the row it copies.

Which events the restored trail lacks: the two trails share a prefix (ids
have no gaps, and equal hashes at an id mean equal chains up to it), found
with one look-up when the current database descends from the backup, else
by bisection (the current database was itself restored from an older
backup). After the fork point, an event is skipped when the restored trail
already holds it or a carried copy of it (restoring twice carries nothing
twice).

After a retention cut (service.audit.cut) the current trail lacks its oldest
ids: there the two trails compare unequal, so the search can only stop at or
before the true fork point, never past it, and whatever follows is checked
by hash as above. The restored database keeps the backup's own cuts; the
next nightly run cuts its rows past retention again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, func, select
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit.chain import TABLE, Event, append
from service.db import run
from service.models import User
from service.models.audit import AuditActor

MARK = "carried_over_from_restore"


@dataclass(frozen=True, slots=True)
class Carried:
    events: int  # appended to the restored trail
    source_newest_id: int  # the newest event of the current trail that was read


async def _newest(session: AsyncSession, table: Table) -> int:
    return int((await run(session, select(func.max(table.c.id)))).scalar() or 0)


async def _hash_at(session: AsyncSession, table: Table, event_id: int) -> str | None:
    found = await run(session, select(table.c.row_hash).where(table.c.id == event_id))
    value = found.scalar()
    return None if value is None else str(value)


async def _fork(restored: AsyncSession, source: AsyncSession, table: Table, highest: int) -> int:
    """The newest id up to which both trails are the same chain (0: none)."""
    if highest == 0 or await _hash_at(source, table, highest) == await _hash_at(
        restored, TABLE, highest
    ):
        return highest
    low, high = 0, highest - 1  # the prefix up to `low` is shared
    while low < high:
        middle = (low + high + 1) // 2
        if await _hash_at(source, table, middle) == await _hash_at(restored, TABLE, middle):
            low = middle
        else:
            high = middle - 1
    return low


def _original_hash(row: Mapping[str, Any]) -> str:
    mark = (row["details"] or {}).get(MARK)
    return str(mark["hash"]) if isinstance(mark, dict) and "hash" in mark else str(row["row_hash"])


async def _present(restored: AsyncSession, fork: int) -> set[str]:
    """The events the restored trail holds after the fork point, as rows or as
    carried copies (by their original hash). Up to the fork both trails are
    the same rows, and a row's hash covers its id: no event of the current
    trail after the fork can be among them."""
    tail = await run(restored, select(TABLE.c.row_hash, TABLE.c.details).where(TABLE.c.id > fork))
    rows = tail.mappings().all()
    return {_original_hash(row) for row in rows} | {str(row["row_hash"]) for row in rows}


async def carry_audit(restored: AsyncSession, source: AsyncSession, table: Table) -> Carried:
    """Append to the trail of ``restored`` the events of ``table`` (the current
    trail, read through ``source``) that it lacks; the caller commits."""
    source_newest = await _newest(source, table)
    highest_shared = min(await _newest(restored, TABLE), source_newest)
    fork = await _fork(restored, source, table, highest_shared)
    rows = [
        dict(row)
        for row in (
            await run(source, select(table).where(table.c.id > fork).order_by(table.c.id))
        ).mappings()
    ]
    present = await _present(restored, fork)
    users = set(
        (
            await run(
                restored,
                select(col(User.id)).where(
                    col(User.id).in_({row["actor_user_id"] for row in rows if row["actor_user_id"]})
                ),
            )
        ).scalars()
    )
    carried = 0
    for row in rows:
        original = _original_hash(row)
        if original in present:
            continue
        mark: dict[str, Any] = {"id": row["id"], "hash": original}
        user_id = row["actor_user_id"]
        if user_id is not None and user_id not in users:
            # A staff member added after the snapshot is not in the backup:
            # the id is kept in the mark, not as a reference to no one.
            mark["actor_user_id"], user_id = user_id, None
        await append(
            restored,
            Event(
                actor=AuditActor(row["actor"]),
                action=row["action"],
                method=row["method"],
                route=row["route"],
                status_code=row["status_code"],
                actor_user_id=user_id,
                contact_id=row["contact_id"],
                details={**(row["details"] or {}), MARK: mark},
                ip_network=row["ip_network"],
                reason=row["reason"],
                occurred_at=row["occurred_at"],
            ),
        )
        present.add(original)
        carried += 1
    return Carried(events=carried, source_newest_id=source_newest)
