"""The person's own "no"s that a restore must not undo: consent withdrawals,
bans and objections recorded after the snapshot.

An erasure and a suppression are replayed by ``service.backup.replay``; but
someone who only unsubscribed after the snapshot was taken is neither, and
an older copy of the register would make them mailable again. So before the
backup replaces the database, ``read_choices`` takes from the current one
every withdrawal, every ban in force and every objection; after it, and
after the erasures are replayed, ``apply_choices`` puts back whatever the
restored copy lacks, as it was recorded (same time, same evidence), and
moves the current consent state to a withdrawal the restored copy did not
know of. Grants are not replayed: a restore can make a person less
reachable than they chose to be, never more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, select, update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service.consent import service as consent_service
from service.db import run
from service.models import Ban, ConsentEvent, ConsentState, Contact, User
from service.models.enums import ConsentAction

EVENTS: Any = ConsentEvent.__table__  # type: ignore[attr-defined]
STATES: Any = ConsentState.__table__  # type: ignore[attr-defined]
BANS: Any = Ban.__table__  # type: ignore[attr-defined]
USER_COLUMNS = ("recorded_by_user_id", "lifted_by_user_id")


@dataclass(frozen=True, slots=True)
class Choices:
    withdrawals: tuple[dict[str, Any], ...]
    bans: tuple[dict[str, Any], ...]
    objections: tuple[tuple[int, datetime], ...]  # contact id, objected_at


@dataclass(frozen=True, slots=True)
class ChoicesReport:
    withdrawals_replayed: int
    bans_replayed: int
    objections_replayed: int


def _rows(result: Any) -> tuple[dict[str, Any], ...]:
    return tuple({k: v for k, v in row._mapping.items() if k != "id"} for row in result.all())


async def read_choices(session: AsyncSession) -> Choices:
    withdrawals = await run(
        session,
        select(EVENTS).where(EVENTS.c.action == ConsentAction.WITHDRAW.value).order_by(EVENTS.c.id),
    )
    bans = await run(session, select(BANS).where(BANS.c.lifted_at.is_(None)).order_by(BANS.c.id))
    objected = await run(
        session,
        select(col(Contact.id), col(Contact.objected_at)).where(
            col(Contact.objected_at).is_not(None)
        ),
    )
    return Choices(
        withdrawals=_rows(withdrawals),
        bans=_rows(bans),
        objections=tuple((int(i), at) for i, at in objected.all()),
    )


async def apply_choices(session: AsyncSession, choices: Choices) -> ChoicesReport:
    """Replay ``choices`` on the restored database (the caller commits)."""
    contacts = set((await run(session, select(col(Contact.id)))).scalars())
    users = set((await run(session, select(col(User.id)))).scalars())

    def kept(row: dict[str, Any]) -> dict[str, Any]:
        # A staff member added after the snapshot is not in the backup.
        return {k: (None if k in USER_COLUMNS and v not in users else v) for k, v in row.items()}

    withdrawals = 0
    for row in choices.withdrawals:
        if row["contact_id"] not in contacts or await _has(session, EVENTS, row, "occurred_at"):
            continue
        await consent_service.replay_withdrawal(session, kept(row))
        withdrawals += 1
    bans = 0
    for row in choices.bans:
        if row["contact_id"] in contacts and not await _has(session, BANS, row, "recorded_at"):
            await run(session, insert(BANS).values(**kept(row)))
            bans += 1
    objections = 0
    for contact_id, objected_at in choices.objections:
        if contact_id in contacts:
            result = await run(
                session,
                update(Contact)
                .where(col(Contact.id) == contact_id, col(Contact.objected_at).is_(None))
                .values(objected_at=objected_at),
            )
            objections += int(result.rowcount)
    return ChoicesReport(withdrawals, bans, objections)


async def _has(session: AsyncSession, table: Any, row: dict[str, Any], moment: str) -> bool:
    """Whether the restored copy holds this record already (same person,
    kind and time)."""
    keys = (
        ("contact_id", "channel", "purpose", "action")
        if table is EVENTS
        else (
            "contact_id",
            "kind",
            "channel",
        )
    )
    conditions = [table.c[k] == row[k] for k in keys] + [table.c[moment] == row[moment]]
    found = await run(session, select(table.c.id).where(and_(*conditions)).limit(1))
    return found.first() is not None
