"""The person's own "no"s that a restore must not undo: consent withdrawals,
bans, objections, restrictions, and what became of their profiles, recorded
after the snapshot.

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

The same holds for processing. A withdrawal of the profiling consent
destroys again, through the ledger's writer, the profiles made before it. A
profile's "transfer forbidden" is put back on the profile (same id, person
and completion day) if the copy lacks it, and a profile handed over or
destroyed since is ended again (content gone, same state and time), so it is
neither handed over twice nor kept. A restriction recorded since is put back
as recorded (``Contact.restricted_at`` too if it is in force). A restriction
the copy holds in force but that was lifted since stays in force: lifting
it makes a person more processed, which a restore never does on its own; it
is counted in the report so a privacy officer can lift it again (after
telling the person, GDPR 18(3)). Nothing is lifted, allowed or un-forbidden
by a restore.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, insert, select, update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service.consent import service as consent_service
from service.db import run
from service.models import (
    Ban,
    ConsentEvent,
    ConsentState,
    Contact,
    DataSubjectRequest,
    Profile,
    Restriction,
    User,
)
from service.models.enums import ConsentAction, ProfileState

EVENTS: Any = ConsentEvent.__table__  # type: ignore[attr-defined]
STATES: Any = ConsentState.__table__  # type: ignore[attr-defined]
BANS: Any = Ban.__table__  # type: ignore[attr-defined]
RESTRICTIONS: Any = Restriction.__table__  # type: ignore[attr-defined]
USER_COLUMNS = (
    "recorded_by_user_id",
    "lifted_by_user_id",
    "placed_by_user_id",
)


@dataclass(frozen=True, slots=True)
class ProfileFate:
    """What became of a profile: forbidden to transfer, handed over or destroyed."""

    id: int
    contact_id: int
    completed_on: date
    state: ProfileState
    transfer_forbidden_at: datetime | None
    transferred_at: datetime | None
    destroyed_at: datetime | None


@dataclass(frozen=True, slots=True)
class Choices:
    withdrawals: tuple[dict[str, Any], ...]
    bans: tuple[dict[str, Any], ...]
    objections: tuple[tuple[int, datetime], ...]  # contact id, objected_at
    restrictions: tuple[dict[str, Any], ...] = ()
    profiles: tuple[ProfileFate, ...] = ()


@dataclass(frozen=True, slots=True)
class ChoicesReport:
    withdrawals_replayed: int
    bans_replayed: int
    objections_replayed: int
    restrictions_replayed: int = 0
    # In force in the copy, lifted since: left in force (see the module).
    restrictions_kept_in_force: int = 0
    transfers_forbidden_replayed: int = 0
    # Profiles handed over or destroyed since, ended again in the copy.
    profiles_ended_replayed: int = 0


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
    restrictions = await run(session, select(RESTRICTIONS).order_by(RESTRICTIONS.c.id))
    fates = await run(
        session,
        select(
            col(Profile.id),
            col(Profile.contact_id),
            col(Profile.completed_on),
            col(Profile.state),
            col(Profile.transfer_forbidden_at),
            col(Profile.transferred_at),
            col(Profile.destroyed_at),
        )
        .where(
            (col(Profile.state) != ProfileState.KEPT.value)
            | col(Profile.transfer_forbidden_at).is_not(None)
        )
        .order_by(col(Profile.id)),
    )
    return Choices(
        withdrawals=_rows(withdrawals),
        bans=_rows(bans),
        objections=tuple((int(i), at) for i, at in objected.all()),
        restrictions=_rows(restrictions),
        profiles=tuple(ProfileFate(*row) for row in fates.all()),
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
    restrictions, kept_in_force = await _restrictions(session, choices, contacts, kept)
    forbidden, ended = await _profiles(session, choices.profiles, contacts)
    return ChoicesReport(
        withdrawals,
        bans,
        objections,
        restrictions_replayed=restrictions,
        restrictions_kept_in_force=kept_in_force,
        transfers_forbidden_replayed=forbidden,
        profiles_ended_replayed=ended,
    )


async def _restrictions(
    session: AsyncSession,
    choices: Choices,
    contacts: set[int],
    kept: Any,
) -> tuple[int, int]:
    """Put back the restrictions the copy lacks; count those it holds in force
    that were lifted since (left in force)."""
    requests = set((await run(session, select(col(DataSubjectRequest.id)))).scalars())
    replayed = lifted_since = 0
    for row in choices.restrictions:
        if row["contact_id"] not in contacts:
            continue
        found = (
            await run(
                session,
                select(RESTRICTIONS.c.id, RESTRICTIONS.c.lifted_at).where(
                    RESTRICTIONS.c.contact_id == row["contact_id"],
                    RESTRICTIONS.c.placed_at == row["placed_at"],
                ),
            )
        ).first()
        if found is None:
            values = kept(row)
            if values["request_id"] not in requests:
                values["request_id"] = None
            await run(session, insert(RESTRICTIONS).values(**values))
            replayed += 1
        elif found.lifted_at is None and row["lifted_at"] is not None:
            lifted_since += 1
        if row["lifted_at"] is None:
            # In force now: the gate reads the contact's mirror of it.
            await run(
                session,
                update(Contact)
                .where(col(Contact.id) == row["contact_id"], col(Contact.restricted_at).is_(None))
                .values(restricted_at=row["placed_at"]),
            )
    return replayed, lifted_since


async def _profiles(
    session: AsyncSession, fates: tuple[ProfileFate, ...], contacts: set[int]
) -> tuple[int, int]:
    """Put back "transfer forbidden", and end again what was handed over or
    destroyed since; a profile is the same one by id, person and completion day."""
    forbidden = ended = 0
    for fate in fates:
        if fate.contact_id not in contacts:
            continue
        same = (
            col(Profile.id) == fate.id,
            col(Profile.contact_id) == fate.contact_id,
            col(Profile.completed_on) == fate.completed_on,
            col(Profile.state) == ProfileState.KEPT.value,
        )
        if fate.transfer_forbidden_at is not None:
            result = await run(
                session,
                update(Profile)
                .where(*same, col(Profile.transfer_forbidden_at).is_(None))
                .values(transfer_forbidden_at=fate.transfer_forbidden_at),
            )
            forbidden += int(result.rowcount)
        if ProfileState(fate.state) is not ProfileState.KEPT:
            result = await run(
                session,
                update(Profile)
                .where(*same)
                .values(
                    state=ProfileState(fate.state).value,
                    content_encrypted=None,
                    transferred_at=fate.transferred_at,
                    destroyed_at=fate.destroyed_at,
                ),
            )
            ended += int(result.rowcount)
    return forbidden, ended


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
