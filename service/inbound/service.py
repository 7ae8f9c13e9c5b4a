"""What inbound mail changes: withdrawals asked for by mail, and bounces.

A delivery report changes something only when it returns a message we sent:
its original's Message-ID carries the campaign, the send-list row and a tag
keyed with our secret for that row (TokenSigner.message_tag: a recipient
knows their own, and cannot make another's), and the address it reports on
must be that row's contact's. Anyone can send a report naming any address; without
that link it would suppress the address of someone who never bounced.

Like every service these never commit; the inbound handler runs each message
in one transaction and answers the sender only after it committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.consent.unsubscribe import Scope, unsubscribe
from service.crypto import DataCipher
from service.db import insert_ignore, run
from service.inbound.dsn import Bounce, Original, Report, Severity
from service.models import BounceCounter, Campaign, CampaignRecipient, Contact
from service.models.enums import (
    CaptureMethod,
    RecipientStatus,
    SuppressionKind,
    SuppressionReason,
)
from service.suppressions import service as suppressions
from service.tokens import TokenSigner

COUNTERS: Any = BounceCounter.__table__  # type: ignore[attr-defined]


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


async def _genuine(session: AsyncSession, original: Original, signer: TokenSigner) -> bool:
    """Whether the original's Message-ID is one we wrote for that recipient."""
    message_key = (
        await session.exec(
            select(col(Campaign.message_key)).where(col(Campaign.id) == original.campaign_id)
        )
    ).first()
    return message_key is not None and signer.is_message_tag(
        original.key, original.campaign_id, original.recipient_id, message_key
    )


async def our_bounces(
    session: AsyncSession, *, report: Report, cipher: DataCipher, signer: TokenSigner
) -> tuple[Bounce, ...]:
    """The report's bounce about the address we sent its original to, or ()
    when the report refers to no message of ours: no Message-ID of ours, a
    guessed key, a row not sent, or a reported address that is not the
    contact's. Only what this returns may count or suppress an address."""
    original = report.original
    if original is None or not report.bounces:
        return ()
    if not await _genuine(session, original, signer):
        return ()
    by_hash = {cipher.lookup_hash("email", b.address): b for b in report.bounces}
    found = await session.exec(
        select(col(Contact.email_hash))
        .join(CampaignRecipient, col(CampaignRecipient.contact_id) == col(Contact.id))
        .join(Campaign, col(Campaign.id) == col(CampaignRecipient.campaign_id))
        .where(
            col(CampaignRecipient.id) == original.recipient_id,
            col(Campaign.id) == original.campaign_id,
            col(CampaignRecipient.status) == RecipientStatus.SENT.value,
            col(Contact.email_hash).in_(list(by_hash)),
        )
    )
    value_hash = found.first()
    return () if value_hash is None else (by_hash[value_hash],)


async def record_bounces(
    session: AsyncSession, *, bounces: Sequence[Bounce], cipher: DataCipher, soft_limit: int
) -> int:
    """Count each bounce against its address and suppress the address on a
    permanent failure or on the ``soft_limit``-th temporary one; return how many
    addresses are suppressed now.

    Give it only what :func:`our_bounces` returned: a report that refers to
    no message we sent must change nothing. That is one address per report,
    so the statements stay few; and no report makes an address mailable again.
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
            await suppressions.record(
                session,
                value_hash=value_hash,
                kind=SuppressionKind.EMAIL,
                reason=SuppressionReason.BOUNCE if permanent else SuppressionReason.SOFT_BOUNCE,
            )
            suppressed += 1
    return suppressed


async def link_to_recipient(
    session: AsyncSession,
    *,
    original: Original,
    bounces: Sequence[Bounce],
    cipher: DataCipher,
    signer: TokenSigner,
) -> bool:
    """Mark the campaign recipient a report returns as bounced; whether one was.

    Only when the Message-ID's key is the campaign's, the row was sent, and
    its contact's address is one the report names: a forged or mistaken
    report links nothing. A permanent failure replaces a temporary one (a
    delay warning, then the final failure); nothing replaces a permanent one.
    """
    if not bounces or not await _genuine(session, original, signer):
        return False
    worst = max(bounces, key=lambda b: b.severity is Severity.PERMANENT)
    hashes = [cipher.lookup_hash("email", b.address) for b in bounces]
    addressed = select(col(Contact.id)).where(col(Contact.email_hash).in_(hashes))
    replaceable: ColumnElement[bool] = col(CampaignRecipient.bounced_at).is_(None)
    if worst.severity is Severity.PERMANENT:
        replaceable = or_(replaceable, col(CampaignRecipient.bounce_status).startswith("4."))
    result = await run(
        session,
        update(CampaignRecipient)
        .where(
            col(CampaignRecipient.id) == original.recipient_id,
            col(CampaignRecipient.campaign_id) == original.campaign_id,
            col(CampaignRecipient.contact_id).in_(addressed),
            col(CampaignRecipient.status) == RecipientStatus.SENT.value,
            replaceable,
        )
        .values(bounced_at=clock.now(), bounce_status=worst.status),
    )
    return bool(result.rowcount)
