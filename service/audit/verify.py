"""Walking the hash chain (``consentry audit verify``).

Rows are read in id order in batches, never all at once. The first row must
follow ``GENESIS``; every row must hash to its ``row_hash`` (else it was
changed) and name the previous row's hash as its ``prev_hash`` (else a row
before it was changed or removed, or rows were reordered).

A chain cannot tell that its newest rows were cut off: whoever removes the
tail leaves a shorter, valid chain. ``anchor`` closes that gap: give it an
(id, hash) noted down earlier (verify prints the newest one) and the walk
fails unless that row is still there with that hash.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit.chain import GENESIS, HASHED, TABLE, row_hash
from service.db import run

BATCH = 1000


@dataclass(frozen=True, slots=True)
class Result:
    events: int
    newest_id: int | None = None
    newest_hash: str | None = None
    broken_id: int | None = None
    problem: str | None = None

    @property
    def intact(self) -> bool:
        return self.problem is None


async def verify(
    session: AsyncSession, *, anchor: tuple[int, str] | None = None, batch: int = BATCH
) -> Result:
    """Walk the whole chain; the first break found, or how many rows are intact."""
    columns = [TABLE.c[name] for name in (*HASHED, "row_hash")]
    previous_hash, previous_id, count = GENESIS, 0, 0
    anchor_seen = False
    while True:
        query = select(*columns).where(TABLE.c.id > previous_id).order_by(TABLE.c.id).limit(batch)
        rows = (await run(session, query)).mappings().all()
        if not rows:
            break
        for row in rows:
            if row["prev_hash"] != previous_hash:
                before = f"event #{previous_id}" if previous_id else "the start of the trail"
                return Result(
                    count,
                    broken_id=row["id"],
                    problem=f"it does not follow {before}: an event before it "
                    "was changed or removed",
                )
            if row_hash(row) != row["row_hash"]:
                return Result(
                    count,
                    broken_id=row["id"],
                    problem="its content does not match its hash: it was changed",
                )
            if anchor is not None and row["id"] == anchor[0]:
                if row["row_hash"] != anchor[1]:
                    return Result(
                        count, broken_id=row["id"], problem="its hash differs from the anchor"
                    )
                anchor_seen = True
            previous_hash, previous_id = row["row_hash"], row["id"]
            count += 1
    if anchor is not None and not anchor_seen:
        return Result(
            count,
            broken_id=anchor[0],
            problem="the anchored event is missing: the newest events were removed",
        )
    return Result(
        count,
        newest_id=previous_id or None,
        newest_hash=previous_hash if previous_id else None,
    )
