"""Writing and reading the suppression list: the one place that does.

A suppression holds a keyed hash (``DataCipher.lookup_hash``), its kind and a
reason, never a readable address; it survives erasure and restores
(service.backup.replay puts back what an older copy lacks). Bounces
(service.inbound, campaign outcomes), erasure and objections (service.rights)
``record``; imports and contact edits ask ``suppressed_among``; the consent
gate and the retention rules build their SQL on ``listed``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, exists, insert, select
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.audit import trail
from service.crypto import DataCipher
from service.db import insert_ignore, run
from service.errors import InvalidInput, NotFound
from service.labels import N_
from service.models import Contact, Suppression
from service.models.enums import SuppressionKind, SuppressionReason
from service.validation import InvalidValue, normalize_email, normalize_phone

TABLE: Any = Suppression.__table__  # type: ignore[attr-defined]
BATCH = 1000

# Mail to the address does not arrive: the reasons a notice the law requires
# is not sent by email either (service.retention).
UNDELIVERABLE = (SuppressionReason.BOUNCE, SuppressionReason.SOFT_BOUNCE)
# Reasons that speak for the person rather than for one address (a bounce
# says nothing about their postal address).
PERSON = (SuppressionReason.OBJECTION, SuppressionReason.ERASURE)


@dataclass(frozen=True, slots=True)
class Entry:
    """One suppression, as a restore carries it."""

    value_hash: str
    kind: str
    reason: str
    created_at: datetime


async def record(
    session: AsyncSession,
    *,
    value_hash: str,
    kind: SuppressionKind,
    reason: SuppressionReason,
) -> None:
    """Put one hash on the list; kept as it was if already there."""
    await run(
        session,
        insert_ignore(
            session,
            TABLE,
            keys=["value_hash"],
            values={
                "value_hash": value_hash,
                "kind": kind.value,
                "reason": reason.value,
                "created_at": clock.now(),
            },
        ),
    )


async def record_contact(
    session: AsyncSession,
    contact: Contact,
    *,
    reason: SuppressionReason,
    email: bool = True,
    phone: bool = True,
) -> None:
    """Put the contact's email and/or phone hash on the list."""
    for kind, value_hash, wanted in (
        (SuppressionKind.EMAIL, contact.email_hash, email),
        (SuppressionKind.PHONE, contact.phone_hash, phone),
    ):
        if wanted and value_hash is not None:
            await record(session, value_hash=value_hash, kind=kind, reason=reason)


async def restore(session: AsyncSession, entries: Sequence[Entry]) -> int:
    """Put back entries the list lacks, with their original reason and time
    (a restore of an older copy); return how many were added."""
    present = set((await run(session, select(TABLE.c.value_hash))).scalars())
    missing = [
        {"value_hash": e.value_hash, "kind": e.kind, "reason": e.reason, "created_at": e.created_at}
        for e in entries
        if e.value_hash not in present
    ]
    for start in range(0, len(missing), BATCH):
        await run(session, insert(TABLE), missing[start : start + BATCH])
    return len(missing)


async def entries(session: AsyncSession) -> tuple[Entry, ...]:
    """The whole list, oldest first (no readable personal data)."""
    rows = await run(
        session,
        select(TABLE.c.value_hash, TABLE.c.kind, TABLE.c.reason, TABLE.c.created_at).order_by(
            TABLE.c.id
        ),
    )
    return tuple(Entry(*row) for row in rows.all())


def address_hash(cipher: DataCipher, kind: SuppressionKind, value: str) -> str:
    """The list's key for an address typed by staff: normalised as contacts
    store it (a phone without a country code read as Finnish), then hashed.
    InvalidInput when it is no address of that kind."""
    try:
        normal = normalize_email(value) if kind is SuppressionKind.EMAIL else normalize_phone(value)
    except InvalidValue as exc:
        raise InvalidInput(str(exc), fields={"value": str(exc)}) from None
    return cipher.lookup_hash(kind.value, normal)


async def find(session: AsyncSession, value_hash: str) -> Entry | None:
    """The list's entry for one hash, or None: a look-up, never a listing."""
    row = (
        await run(
            session,
            select(TABLE.c.value_hash, TABLE.c.kind, TABLE.c.reason, TABLE.c.created_at).where(
                TABLE.c.value_hash == value_hash
            ),
        )
    ).first()
    return Entry(*row) if row is not None else None


async def lift(session: AsyncSession, *, value_hash: str, why: str) -> Entry:
    """Take a hash off the list, saying why; NotFound if it is not on it.

    Who lifted it is the request's (or command's) audit row, which this
    annotates with the reason given and what was lifted."""
    why = why.strip()
    if not why:
        raise InvalidInput(N_("say why the suppression is lifted"), fields={"why": N_("required")})
    entry = await find(session, value_hash)
    if entry is None:
        raise NotFound(N_("no such suppression"))
    await run(session, delete(TABLE).where(TABLE.c.value_hash == value_hash))
    trail.annotate(session, reason=why, lifted=f"{entry.kind}:{entry.reason}")
    return entry


async def is_suppressed(
    session: AsyncSession, value_hash: str, *, reasons: Iterable[SuppressionReason] = ()
) -> bool:
    query = select(TABLE.c.id).where(TABLE.c.value_hash == value_hash)
    wanted = [reason.value for reason in reasons]
    if wanted:
        query = query.where(TABLE.c.reason.in_(wanted))
    return (await run(session, query.limit(1))).first() is not None


async def suppressed_among(session: AsyncSession, hashes: Iterable[str]) -> dict[str, str]:
    """Which of these hashes are on the list, and their kind."""
    wanted = sorted(set(hashes))
    found: dict[str, str] = {}
    for start in range(0, len(wanted), BATCH):
        rows = await run(
            session,
            select(TABLE.c.value_hash, TABLE.c.kind).where(
                TABLE.c.value_hash.in_(wanted[start : start + BATCH])
            ),
        )
        found.update({value_hash: kind for value_hash, kind in rows.all()})
    return found


def listed(column: Any, reasons: Iterable[SuppressionReason] = ()) -> ColumnElement[bool]:
    """SQL for the gate and the retention rules: the hash in ``column`` (a
    contact's ``email_hash`` or ``phone_hash``) is on the list, for one of
    ``reasons`` if any are given."""
    query = select(col(Suppression.id)).where(col(Suppression.value_hash) == column)
    wanted = [reason.value for reason in reasons]
    if wanted:
        query = query.where(col(Suppression.reason).in_(wanted))
    return exists(query.correlate(Contact))
