"""What inbound mail changes: withdrawals asked for by mail, and bounces.

Like every service these never commit; the inbound handler runs each message
in one transaction and answers the sender only after it committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.consent.unsubscribe import Scope, unsubscribe
from service.crypto import DataCipher
from service.db import insert_ignore, run
from service.inbound.dsn import Bounce, Severity
from service.models import BounceCounter, Contact, Suppression
from service.models.enums import CaptureMethod

COUNTERS: Any = BounceCounter.__table__  # type: ignore[attr-defined]
SUPPRESSIONS: Any = Suppression.__table__  # type: ignore[attr-defined]


async def unsubscribe_by_token(session: AsyncSession, *, contact_id: int, campaign_id: int) -> bool:
    """The mailto of List-Unsubscribe: what a one-click unsubscribe does, by mail."""
    return await unsubscribe(
        session,
        contact_id=contact_id,
        campaign_id=campaign_id,
        scopes={Scope.EMAIL},
        method=CaptureMethod.MAILTO,
        ip=None,
    )


async def unsubscribe_by_sender(session: AsyncSession, *, email_hashes: Sequence[str]) -> int:
    """A "stop" reply without a token: withdraw email marketing for the contacts
    whose address sent it; return how many there were.

    The sender's address can be forged, which is why this only ever
    withdraws: the worst a forger achieves is that someone gets less
    marketing, which they can undo by consenting again. Contacts are matched by
    the keyed hash, so a failed query's error text holds no address.
    """
    if not email_hashes:
        return 0
    found = await session.exec(
        select(Contact.id).where(col(Contact.email_hash).in_(list(email_hashes)))
    )
    contact_ids = [contact_id for contact_id in found.all() if contact_id is not None]
    for contact_id in contact_ids:
        await unsubscribe(
            session,
            contact_id=contact_id,
            campaign_id=None,
            scopes={Scope.EMAIL},
            method=CaptureMethod.MAILTO,
            ip=None,
        )
    return len(contact_ids)


async def record_bounces(
    session: AsyncSession, *, bounces: Sequence[Bounce], cipher: DataCipher, soft_limit: int
) -> int:
    """Count each bounce against its address and suppress the address on a
    permanent failure or on the ``soft_limit``-th temporary one; return how many
    addresses are suppressed now.

    A report names one recipient (campaign mail has one per message) and at
    most ``dsn.MAX_RECIPIENTS``, so the statements per address stay few. A
    forged report can suppress an address but never make it mailable again.
    """
    now = clock.now()
    suppressed = 0
    # In hash order, so two reports about the same addresses that arrive at
    # once lock their counter rows in the same order and cannot deadlock.
    hashed = sorted(
        ((cipher.lookup_hash("email", b.address), b) for b in bounces), key=lambda pair: pair[0]
    )
    for value_hash, bounce in hashed:
        permanent = bounce.severity is Severity.PERMANENT
        await run(
            session,
            insert_ignore(
                session,
                COUNTERS,
                keys=["value_hash"],
                values={
                    "value_hash": value_hash,
                    "soft_count": 0,
                    "hard_count": 0,
                    "last_status": bounce.status,
                    "last_at": now,
                },
            ),
        )
        # Incremented in the database, so two reports for one address that
        # arrive at once both count.
        soft_count = (
            await run(
                session,
                update(COUNTERS)
                .where(COUNTERS.c.value_hash == value_hash)
                .values(
                    soft_count=COUNTERS.c.soft_count + (0 if permanent else 1),
                    hard_count=COUNTERS.c.hard_count + (1 if permanent else 0),
                    last_status=bounce.status,
                    last_at=now,
                )
                .returning(COUNTERS.c.soft_count),
            )
        ).scalar_one()
        if permanent or soft_count >= soft_limit:
            await run(
                session,
                insert_ignore(
                    session,
                    SUPPRESSIONS,
                    keys=["value_hash"],
                    values={
                        "value_hash": value_hash,
                        "kind": "email",
                        "reason": "bounce" if permanent else "soft_bounce",
                        "created_at": now,
                    },
                ),
            )
            suppressed += 1
    return suppressed
