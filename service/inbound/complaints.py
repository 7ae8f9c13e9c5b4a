"""What a spam complaint does, whichever way it arrives.

A complaint (an ARF report from a mailbox provider's feedback loop, or an
ESP's complaint event) is the person's "no" given through their mailbox:

- email direct-marketing consent is withdrawn through the ledger's one
  writer, with the method ``complaint``;
- the address is suppressed (reason ``complaint``), so no other way back
  in (an import, a contact edit) mails it again;
- it is counted against the campaign in ``delivery_events``; when the
  campaign's complaint rate (complaints / messages sent) reaches
  ``CONSENTRY_COMPLAINT_PAUSE_RATE`` a sending or scheduled campaign is
  paused with the rate as its reason.

A complaint already recorded (the same source and provider event id; for
a report by mail, the same message) changes nothing the second time, so a
provider that sends an event again, or a sender that retries, counts once.

A report by mail is trusted only through a message of ours it names: the
original's Message-ID or, when providers redacted that (Yahoo, AOL and
Microsoft strip the original's headers), the VERP return path the report
was delivered to or quotes in Original-Mail-From. ``match_original``
accepts either when its keyed tag is the one we wrote for that campaign's
send-list row and the row was sent, so a guessed or foreign Message-ID or
return path changes nothing. Like every service these never commit.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.consent.unsubscribe import Scope, unsubscribe
from service.db import insert_ignore, run
from service.delivery import verp
from service.inbound.service import address_changed_since
from service.models import Campaign, CampaignRecipient, Contact, DeliveryEventRecord
from service.models.enums import (
    Actor,
    CampaignStatus,
    CaptureMethod,
    DeliveryEventKind,
    RecipientStatus,
    SuppressionKind,
    SuppressionReason,
)
from service.settings import Settings
from service.suppressions import service as suppressions
from service.tokens import TokenSigner

log = logging.getLogger("service.inbound")

EVENTS: Any = DeliveryEventRecord.__table__  # type: ignore[attr-defined]
# Only these are paused by a complaint rate: a paused, done or cancelled
# campaign has nothing left to stop.
PAUSABLE = (CampaignStatus.SENDING.value, CampaignStatus.SCHEDULED.value)
# Message-IDs of campaign mail (service.campaigns.sending): campaign, row, keyed tag.
_OUR_MESSAGE_ID = re.compile(r"^<c(\d{1,18})\.r(\d{1,18})\.([A-Za-z0-9_-]{1,64})@[^<>\s]+>$")


@dataclass(frozen=True, slots=True)
class Match:
    """The send-list row a complaint's original was sent to, and its contact."""

    campaign_id: int
    recipient_id: int
    contact_id: int
    # The contact's email hash; "" when their address changed after the
    # message was sent (the complaint then suppresses no address).
    value_hash: str
    # What named the row, for the log: "Message-ID" or "VERP return path".
    via: str = "Message-ID"

    @property
    def event_id(self) -> str:
        """The de-duplication key of a complaint by mail: one per message sent."""
        return f"c{self.campaign_id}.r{self.recipient_id}"


async def match_original(
    session: AsyncSession,
    *,
    message_id: str | None,
    verp_tokens: Sequence[str | None] = (),
    signer: TokenSigner,
) -> Match | None:
    """The row and contact a complaint is about, or None when it names no
    message of ours: not our shape, a wrong or guessed tag, a row not sent, or
    a contact since erased.

    The original's Message-ID is tried first; when it names no message of
    ours (redacted, rewritten, forged), each VERP token in ``verp_tokens`` in
    turn (the caller's order: the return path the report was delivered to,
    then the one its Original-Mail-From quotes). Each is checked the same way,
    so a token only we could have written is the only way in."""
    found = _OUR_MESSAGE_ID.match(message_id.strip()) if message_id else None
    candidates: list[tuple[int, int, str, str]] = []
    if found is not None:
        candidates.append((int(found.group(1)), int(found.group(2)), found.group(3), "Message-ID"))
    candidates += [
        (*parsed, "VERP return path")
        for token in verp_tokens
        if (parsed := verp.parse(token)) is not None
    ]
    tried: set[tuple[int, int, str]] = set()
    for campaign_id, recipient_id, tag, via in candidates:
        if (campaign_id, recipient_id, tag) in tried:
            continue
        tried.add((campaign_id, recipient_id, tag))
        match = await _sent_row(session, campaign_id, recipient_id, tag, signer, via)
        if match is not None:
            return match
    return None


async def _sent_row(
    session: AsyncSession,
    campaign_id: int,
    recipient_id: int,
    tag: str,
    signer: TokenSigner,
    via: str,
) -> Match | None:
    """Row ``recipient_id`` of ``campaign_id`` and its contact, when the row was
    sent, ``tag`` is the one we wrote for it and the contact still exists;
    else None."""
    row = (
        await run(
            session,
            select(
                col(Campaign.message_key),
                col(CampaignRecipient.contact_id),
                col(Contact.email_hash),
                col(CampaignRecipient.sent_at),
            )
            .select_from(CampaignRecipient)
            .join(Campaign, col(Campaign.id) == col(CampaignRecipient.campaign_id))
            .join(Contact, col(Contact.id) == col(CampaignRecipient.contact_id))
            .where(
                col(CampaignRecipient.id) == recipient_id,
                col(CampaignRecipient.campaign_id) == campaign_id,
                col(CampaignRecipient.status) == RecipientStatus.SENT.value,
            ),
        )
    ).first()
    if row is None:
        return None
    message_key, contact_id, email_hash, sent_at = row
    if email_hash is None or not signer.is_message_tag(tag, campaign_id, recipient_id, message_key):
        return None
    if await address_changed_since(session, int(contact_id), sent_at):
        # The person complained, but about a message sent to their former
        # address: their consent is withdrawn, their new address not suppressed.
        email_hash = ""
    return Match(campaign_id, recipient_id, int(contact_id), str(email_hash), via)


async def record_complaint(
    session: AsyncSession,
    *,
    contact_id: int | None,
    campaign_id: int | None,
    recipient_id: int | None,
    value_hash: str,
    source: str,
    provider_event_id: str | None,
    settings: Settings,
) -> str:
    """Withdraw, suppress, count and maybe pause (module docstring); return a
    summary for the log, which names no person.

    ``contact_id`` None: the contacts holding the address (``value_hash``)
    are withdrawn, as an ESP event that names only the address asks."""
    if not await _count(
        session,
        campaign_id=campaign_id,
        recipient_id=recipient_id,
        value_hash=value_hash,
        source=source,
        provider_event_id=provider_event_id,
    ):
        return f"a complaint ({source}) already recorded was ignored"
    contact_ids = (
        [contact_id] if contact_id is not None else await _contacts_of(session, value_hash)
    )
    withdrawn = 0
    for one in contact_ids:
        if await unsubscribe(
            session,
            contact_id=one,
            campaign_id=campaign_id,
            scopes={Scope.EMAIL},
            method=CaptureMethod.COMPLAINT,
            ip=None,
            # The person pressed "spam"; the mailbox provider told us.
            actor=Actor.SYSTEM,
        ):
            withdrawn += 1
    if value_hash:
        await suppressions.record(
            session,
            value_hash=value_hash,
            kind=SuppressionKind.EMAIL,
            reason=SuppressionReason.COMPLAINT,
        )
    summary = (
        f"complaint ({source}): email marketing withdrawn for {withdrawn} contact(s), "
        f"address {'suppressed' if value_hash else 'unknown'}"
    )
    if campaign_id is None:
        return summary
    complaints, sent = await complaint_counts(session, campaign_id)
    summary += f", campaign {campaign_id} at {_percent(complaints, sent)}"
    if await _pause_at_rate(
        session,
        campaign_id=campaign_id,
        complaints=complaints,
        sent=sent,
        limit=settings.complaint_pause_rate,
    ):
        summary += " (paused)"
    return summary


async def complaint_counts(session: AsyncSession, campaign_id: int) -> tuple[int, int]:
    """(complaints counted, messages sent) for one campaign."""
    complaints = (
        await run(
            session,
            select(func.count())
            .select_from(EVENTS)
            .where(
                EVENTS.c.campaign_id == campaign_id,
                EVENTS.c.kind == DeliveryEventKind.COMPLAINT.value,
            ),
        )
    ).scalar_one()
    sent = (
        await run(
            session,
            select(func.count())
            .select_from(CampaignRecipient)
            .where(
                col(CampaignRecipient.campaign_id) == campaign_id,
                col(CampaignRecipient.status) == RecipientStatus.SENT.value,
            ),
        )
    ).scalar_one()
    return int(complaints), int(sent)


async def _count(
    session: AsyncSession,
    *,
    campaign_id: int | None,
    recipient_id: int | None,
    value_hash: str,
    source: str,
    provider_event_id: str | None,
) -> bool:
    """Write the delivery_events row; False when this complaint was recorded before.

    With a provider event id the unique (source, provider_event_id) decides,
    in the database, so two deliveries of one event at once still count
    once. Without one, a second complaint about the same message sent (the
    campaign's row) is not counted again; its withdrawal and suppression are
    repeated, and change nothing."""
    values = {
        "received_at": clock.now(),
        "kind": DeliveryEventKind.COMPLAINT.value,
        "source": source,
        "value_hash": value_hash,
        "campaign_id": campaign_id,
        "recipient_id": recipient_id,
        "provider_event_id": provider_event_id,
    }
    if provider_event_id is not None:
        inserted = await run(
            session,
            insert_ignore(session, EVENTS, keys=["source", "provider_event_id"], values=values),
        )
        return bool(inserted.rowcount)
    if campaign_id is not None and recipient_id is not None:
        seen = (
            await run(
                session,
                select(EVENTS.c.id).where(
                    EVENTS.c.campaign_id == campaign_id,
                    EVENTS.c.recipient_id == recipient_id,
                    EVENTS.c.kind == DeliveryEventKind.COMPLAINT.value,
                ),
            )
        ).first()
        if seen is not None:
            return True
    await run(session, EVENTS.insert().values(**values))
    return True


async def _contacts_of(session: AsyncSession, value_hash: str) -> list[int]:
    if not value_hash:
        return []
    found = await run(session, select(col(Contact.id)).where(col(Contact.email_hash) == value_hash))
    return [int(contact_id) for contact_id in found.scalars()]


async def _pause_at_rate(
    session: AsyncSession, *, campaign_id: int, complaints: int, sent: int, limit: float
) -> bool:
    """Pause a sending or scheduled campaign whose complaint rate reached the limit."""
    if not sent or complaints / sent < limit:
        return False
    reason = (
        f"paused: complaint rate {_percent(complaints, sent)} ({complaints} of {sent} sent) "
        f"reached CONSENTRY_COMPLAINT_PAUSE_RATE ({limit * 100:.2f} %)"
    )
    result = await run(
        session,
        update(Campaign)
        .where(col(Campaign.id) == campaign_id, col(Campaign.status).in_(PAUSABLE))
        .values(status=CampaignStatus.PAUSED.value, pause_reason=reason, updated_at=clock.now()),
    )
    if result.rowcount:
        log.warning("campaign %s paused: complaint rate reached the limit", campaign_id)
    return bool(result.rowcount)


def _percent(complaints: int, sent: int) -> str:
    return f"{complaints / sent * 100:.2f} %" if sent else "no messages sent"
