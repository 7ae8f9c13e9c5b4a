"""What inbound mail changes: withdrawals asked for by mail, and bounces.

A delivery report changes something only when it returns a message we sent:
its original's Message-ID, or the VERP return path it was sent back to,
carries the campaign, the send-list row and a tag keyed with our secret for
that row (TokenSigner.message_tag: a recipient knows their own, and cannot
make another's). Anyone can send a report naming any address; without that
link it would suppress the address of someone who never bounced. What a
linked bounce does is service.inbound.events.record's matter.

Like every service these never commit; the inbound handler runs each message
in one transaction and answers the sender only after it committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.consent.unsubscribe import Scope, unsubscribe
from service.db import run
from service.inbound.dsn import Original
from service.models import Campaign, CampaignRecipient, Contact, ContactChange
from service.models.enums import CaptureMethod, RecipientStatus
from service.tokens import TokenSigner


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


async def genuine(session: AsyncSession, original: Original, signer: TokenSigner) -> bool:
    """Whether the tag (of a Message-ID or VERP return path) is one we wrote
    for that campaign's row: keyed with our secret and the campaign's key."""
    message_key = (
        await session.exec(
            select(col(Campaign.message_key)).where(col(Campaign.id) == original.campaign_id)
        )
    ).first()
    return message_key is not None and signer.is_message_tag(
        original.key, original.campaign_id, original.recipient_id, message_key
    )


@dataclass(frozen=True, slots=True)
class SentMessage:
    """The send-list row a genuine bounce or complaint returns, and its contact."""

    campaign_id: int
    recipient_id: int
    contact_id: int | None
    email_hash: str | None  # the contact's address's keyed hash; None once erased
    # The contact's address was changed after the message was sent: their
    # current address is not the one it went to, and is charged nothing.
    address_changed: bool = False

    @property
    def event_id(self) -> str:
        """The id a report by mail about this message is recorded with: one
        per message sent, so a report sent again counts once."""
        return f"c{self.campaign_id}.r{self.recipient_id}"


async def sent_message(
    session: AsyncSession, original: Original, signer: TokenSigner
) -> SentMessage | None:
    """The row ``original`` names when its tag is genuine and the row was
    sent; None otherwise (a guessed tag, another campaign's row, a row not
    sent): only then may a report change anything."""
    if not await genuine(session, original, signer):
        return None
    found = (
        await session.exec(
            select(
                col(CampaignRecipient.contact_id),
                col(Contact.email_hash),
                col(CampaignRecipient.sent_at),
            )
            .join(Contact, col(Contact.id) == col(CampaignRecipient.contact_id), isouter=True)
            .where(
                col(CampaignRecipient.id) == original.recipient_id,
                col(CampaignRecipient.campaign_id) == original.campaign_id,
                col(CampaignRecipient.status) == RecipientStatus.SENT.value,
            )
        )
    ).first()
    if found is None:
        return None
    contact_id, email_hash, sent_at = found
    changed = contact_id is not None and await address_changed_since(session, contact_id, sent_at)
    return SentMessage(original.campaign_id, original.recipient_id, contact_id, email_hash, changed)


async def address_changed_since(
    session: AsyncSession, contact_id: int, sent_at: datetime | None
) -> bool:
    """Whether the contact's email address was changed after ``sent_at`` (or
    at all, when the send time is unknown): then their current address is
    not the one a message sent before went to, and a report about that
    message that names no address must not be charged to it.

    Read from the rectification log (``ContactChange``), which
    service.contacts.service.update writes with every changed field."""
    query = select(ContactChange.fields).where(col(ContactChange.contact_id) == contact_id)
    if sent_at is not None:
        query = query.where(col(ContactChange.changed_at) >= sent_at)
    return any("email" in (fields or ()) for fields in (await session.exec(query)).all())


async def mark_bounced(session: AsyncSession, message: SentMessage, status: str) -> bool:
    """Mark the campaign recipient a bounce returns as bounced; whether it was.

    A permanent failure replaces a temporary one (a delay warning, then the
    final failure); nothing replaces a permanent one."""
    replaceable: ColumnElement[bool] = col(CampaignRecipient.bounced_at).is_(None)
    if status.startswith("5."):
        replaceable = or_(replaceable, col(CampaignRecipient.bounce_status).startswith("4."))
    result = await run(
        session,
        update(CampaignRecipient)
        .where(
            col(CampaignRecipient.id) == message.recipient_id,
            col(CampaignRecipient.campaign_id) == message.campaign_id,
            col(CampaignRecipient.status) == RecipientStatus.SENT.value,
            replaceable,
        )
        .values(bounced_at=clock.now(), bounce_status=status[:16]),
    )
    return bool(result.rowcount)
