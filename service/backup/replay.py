"""What a restore must not undo: erasures and the suppression list (and,
through ``service.backup.choices``, withdrawals, bans, objections,
restrictions, and profiles forbidden to transfer, handed over or destroyed).

Before a backup replaces the database, ``read_log`` takes from the current
one every ``Erasure`` row and every suppression (ids, keyed hashes and
dates: no readable personal data). After the backup is in place and
migrated, ``apply_log`` erases again whoever the log says was erased and the
backup still holds, records those erasures as they first happened, and puts
back every suppression the backup lacks — so nobody erased, unsubscribed by
objection or bounced comes back with an old copy of the register.

An erasure counts as already in the backup when the backup holds its
``Erasure`` row (same contact id, cause and time); every other one is
replayed, whatever its time: a transaction that committed while the
snapshot was being taken may carry an earlier timestamp than the snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service.backup.choices import Choices, ChoicesReport, apply_choices, read_choices
from service.db import run
from service.models import Contact, Erasure, LegalHold, User
from service.rights.erasure import erase_contact
from service.suppressions import service as suppression_list

ERASURES: Any = Erasure.__table__  # type: ignore[attr-defined]
BATCH = 1000


@dataclass(frozen=True, slots=True)
class ErasureRecord:
    contact_id: int
    cause: str
    request_id: int | None
    erased_by_user_id: int | None
    erased_at: datetime

    @property
    def key(self) -> tuple[int, str, datetime]:
        return self.contact_id, self.cause, self.erased_at


@dataclass(frozen=True, slots=True)
class ReplayLog:
    erasures: tuple[ErasureRecord, ...]
    suppressions: tuple[suppression_list.Entry, ...]
    # The highest contact id the current database has used: the restored
    # database must not hand any of them out again (see ``apply_log``).
    max_contact_id: int
    # Withdrawals, bans and objections (service.backup.choices).
    choices: Choices | None = None


@dataclass(frozen=True, slots=True)
class ReplayReport:
    erasures_reapplied: int  # contacts in the backup erased again
    erasures_recorded: int  # Erasure rows the backup lacked, put back
    suppressions_added: int
    withdrawals_replayed: int = 0
    bans_replayed: int = 0
    objections_replayed: int = 0
    restrictions_replayed: int = 0
    restrictions_kept_in_force: int = 0
    transfers_forbidden_replayed: int = 0
    profiles_ended_replayed: int = 0
    # Audit events recorded since the snapshot, carried into the restored
    # trail (service.backup.carry).
    audit_events_carried: int = 0


async def read_log(session: AsyncSession) -> ReplayLog:
    erasures = await run(
        session,
        select(
            ERASURES.c.contact_id,
            ERASURES.c.cause,
            ERASURES.c.request_id,
            ERASURES.c.erased_by_user_id,
            ERASURES.c.erased_at,
        ).order_by(ERASURES.c.erased_at, ERASURES.c.id),
    )
    records = tuple(ErasureRecord(*row) for row in erasures.all())
    max_contact = (await run(session, select(func.max(col(Contact.id))))).scalar() or 0
    max_erased = max((record.contact_id for record in records), default=0)
    return ReplayLog(
        erasures=records,
        suppressions=await suppression_list.entries(session),
        max_contact_id=max(max_contact, max_erased),
        choices=await read_choices(session),
    )


async def _ids(session: AsyncSession, column: Any, wanted: set[int]) -> set[int]:
    found: set[int] = set()
    ordered = sorted(wanted)
    for start in range(0, len(ordered), BATCH):
        chunk = ordered[start : start + BATCH]
        found.update((await run(session, select(column).where(column.in_(chunk)))).scalars())
    return found


async def _erase_again(session: AsyncSession, record: ErasureRecord, user_id: int | None) -> None:
    # The person was erased in reality: a legal hold in the older copy
    # cannot bring them back, and erase_contact refuses a held contact.
    # (Better: a parameter of erase_contact to skip the check; see the report.)
    await run(session, delete(LegalHold).where(col(LegalHold.contact_id) == record.contact_id))
    await erase_contact(
        session,
        record.contact_id,
        cause=record.cause,
        request_id=record.request_id,
        user_id=user_id,
    )
    # erase_contact dates its row now; the record keeps the original time.
    newest = (
        select(func.max(ERASURES.c.id))
        .where(ERASURES.c.contact_id == record.contact_id)
        .scalar_subquery()
    )
    await run(
        session,
        update(ERASURES).where(ERASURES.c.id == newest).values(erased_at=record.erased_at),
    )


async def _keep_contact_ids_unused(session: AsyncSession, highest: int) -> None:
    """Contact ids are how an erasure names its person: a contact created
    after the restore must not get the id of one created (and perhaps
    erased) after the snapshot. PostgreSQL's sequence is moved past them;
    SQLite hands out the highest id plus one, and cannot be told otherwise."""
    if highest < 1 or session.get_bind().dialect.name != "postgresql":
        return
    await run(
        session,
        text(
            "SELECT setval(pg_get_serial_sequence('contacts', 'id'), GREATEST(:highest, "
            "COALESCE(pg_sequence_last_value(pg_get_serial_sequence('contacts', 'id')::regclass),"
            " 1)))"
        ),
        {"highest": highest},
    )


async def apply_log(session: AsyncSession, log: ReplayLog) -> ReplayReport:
    """Replay ``log`` on the restored database (the caller commits)."""
    suppressions_added = await suppression_list.restore(session, log.suppressions)
    recorded = await run(
        session, select(ERASURES.c.contact_id, ERASURES.c.cause, ERASURES.c.erased_at)
    )
    in_backup = {tuple(row) for row in recorded.all()}
    pending = [record for record in log.erasures if record.key not in in_backup]
    contacts = await _ids(session, col(Contact.id), {r.contact_id for r in pending})
    users = await _ids(session, col(User.id), {r.erased_by_user_id or 0 for r in pending})
    reapplied = 0
    for record in pending:
        # A staff member added after the snapshot is not in the backup.
        user_id = record.erased_by_user_id if record.erased_by_user_id in users else None
        if record.contact_id in contacts:
            await _erase_again(session, record, user_id)
            contacts.discard(record.contact_id)
            reapplied += 1
        else:
            session.add(
                Erasure(
                    contact_id=record.contact_id,
                    cause=record.cause,
                    request_id=record.request_id,
                    erased_by_user_id=user_id,
                    erased_at=record.erased_at,
                )
            )
    await session.flush()
    await _keep_contact_ids_unused(session, log.max_contact_id)
    # After the erasures: nothing is replayed for a person no longer here.
    choices = (
        await apply_choices(session, log.choices)
        if log.choices is not None
        else ChoicesReport(0, 0, 0)
    )
    return ReplayReport(
        erasures_reapplied=reapplied,
        erasures_recorded=len(pending),
        suppressions_added=suppressions_added,
        withdrawals_replayed=choices.withdrawals_replayed,
        bans_replayed=choices.bans_replayed,
        objections_replayed=choices.objections_replayed,
        restrictions_replayed=choices.restrictions_replayed,
        restrictions_kept_in_force=choices.restrictions_kept_in_force,
        transfers_forbidden_replayed=choices.transfers_forbidden_replayed,
        profiles_ended_replayed=choices.profiles_ended_replayed,
    )
