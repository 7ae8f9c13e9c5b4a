"""Walking the hash chain (``consentry audit verify``).

Rows are read in id order in batches, never all at once. The first row must
follow ``GENESIS``; every row must hash to its ``row_hash`` (else it was
changed) and name the previous row's hash as its ``prev_hash`` (else a row
before it was changed or removed, or rows were reordered).

After a retention cut (service.audit.cut) the walk starts from the latest
cut's anchor instead of ``GENESIS``: the first row kept must name the last
row removed (``anchor_hash``) and follow its id, and the trail must hold the
``audit.cut`` event that recorded that cut, with the same anchor. A row
removed without a cut, or a cut's anchor altered, breaks the walk as before.

A chain cannot tell that its newest rows were cut off: whoever removes the
tail leaves a shorter, valid chain. ``anchor`` closes that gap: give it an
(id, hash) noted down earlier (verify prints the newest one) and the walk
fails unless that row is still there with that hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit import cut as cuts
from service.audit.chain import GENESIS, HASHED, TABLE, row_hash
from service.db import run
from service.models.audit import AuditCut

BATCH = 1000


@dataclass(frozen=True, slots=True)
class Result:
    events: int
    newest_id: int | None = None
    newest_hash: str | None = None
    broken_id: int | None = None
    problem: str | None = None
    # The latest retention cut, which the walk started from; None: from GENESIS.
    cut: AuditCut | None = None

    @property
    def intact(self) -> bool:
        return self.problem is None


async def verify(
    session: AsyncSession, *, anchor: tuple[int, str] | None = None, batch: int = BATCH
) -> Result:
    """Walk the whole chain; the first break found, or how many rows are intact."""
    columns = [TABLE.c[name] for name in (*HASHED, "row_hash")]
    latest = await cuts.latest(session)
    previous_hash, previous_id, count = GENESIS, 0, 0
    if latest is not None:
        previous_hash, previous_id = latest.anchor_hash, latest.removed_through_id
    anchor_seen = False
    cut_seen = latest is None
    while True:
        query = select(*columns).where(TABLE.c.id > previous_id).order_by(TABLE.c.id).limit(batch)
        rows = (await run(session, query)).mappings().all()
        if not rows:
            break
        for row in rows:
            # The first row kept follows the cut's last removed row, by id too.
            from_cut = latest is not None and count == 0
            if row["prev_hash"] != previous_hash or (from_cut and row["id"] != previous_id + 1):
                before = f"event #{previous_id}" if previous_id else "the start of the trail"
                if from_cut:
                    before = f"the anchor of the retention cut through event #{previous_id}"
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
            if not cut_seen and _records(row, latest):
                cut_seen = True
            previous_hash, previous_id = row["row_hash"], row["id"]
            count += 1
    if not cut_seen:
        assert latest is not None
        return Result(
            count,
            broken_id=latest.removed_through_id,
            problem="no audit.cut event in the trail records the latest retention cut: "
            "it was not made by the retention, or its record was changed",
            cut=latest,
        )
    if anchor is not None and not anchor_seen:
        return Result(
            count,
            broken_id=anchor[0],
            problem="the anchored event is missing: the newest events were removed",
        )
    walked = count > 0
    return Result(
        count,
        newest_id=previous_id if walked else None,
        newest_hash=previous_hash if walked else None,
        cut=latest,
    )


def _records(row: Any, cut: AuditCut | None) -> bool:
    """Whether ``row`` is the audit.cut event that recorded ``cut``."""
    if cut is None or row["action"] != cuts.ACTION:
        return False
    details = row["details"] or {}
    return (
        details.get("removed_through_id") == cut.removed_through_id
        and details.get("anchor_hash") == cut.anchor_hash
        and details.get("removed_count") == cut.removed_count
    )
