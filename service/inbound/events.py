"""Bounces and complaints, whichever way they arrive, in one shape.

A bounce by mail (the inbound listener: RFC 3464 reports, other bounce
formats, VERP) and an ESP's webhook event (Amazon SES, SendGrid, Postmark,
Mailgun) are each turned into ``DeliveryEvent``s and recorded by ``record``
here; complaints go on to service.inbound.complaints, where ARF reports by
mail go too. The relay's refusals while sending are recorded with the
campaign's outcomes (service.campaigns.outcomes). All of them are classed by
the one rule (service.delivery.bounces) and counted by the same effects
(service.delivery.bounce_effects).

``trusted`` says whether the address itself can be believed: an
authenticated ESP webhook can; a mail report cannot, and changes something
only when it returns a message we sent to that address (its Message-ID or
VERP return path, checked against our key).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.crypto import DataCipher
from service.delivery import verp
from service.delivery.bounce_effects import (
    count_against_address,
    pause_on_policy_spike,
    write_event,
)
from service.delivery.bounces import classify, status_of
from service.inbound.dsn import Original, our_message
from service.inbound.service import SentMessage, mark_bounced, sent_message
from service.models import Contact, DeliveryEventRecord
from service.models.enums import BounceClass, DeliveryEventKind
from service.settings import Settings
from service.tokens import TokenSigner


class EventKind(StrEnum):
    BOUNCE = "bounce"
    COMPLAINT = "complaint"


class Source(StrEnum):
    """Where an event came from, as recorded with it."""

    SMTP = "smtp"  # the relay's answer while sending
    DSN = "dsn"  # an RFC 3464 report to the bounce address
    MAIL = "mail"  # a bounce mail in another format (flufl.bounce, VERP)
    ARF = "arf"  # an RFC 5965 complaint report
    SES = "ses"
    SENDGRID = "sendgrid"
    POSTMARK = "postmark"
    MAILGUN = "mailgun"


@dataclass(frozen=True, slots=True)
class DeliveryEvent:
    kind: EventKind
    source: Source
    # The recipient the event is about, normalised like contacts' addresses;
    # "" when a bounce mail names none (its VERP return path then names it).
    address: str
    # The RFC 3463 status ("5.1.1") when the source gives one, else None.
    status: str | None = None
    # Whether the source calls the failure permanent; None when it does not say.
    permanent: bool | None = None
    # The reply or diagnostic text, read to classify and never stored whole
    # (it may quote the address).
    diagnostic: str = ""
    # The original message's Message-ID as sent (ours look like
    # "<c12.r345.TAG@domain>"), or the VERP token of its return path.
    message_id: str | None = None
    verp: str | None = None
    # The authenticated provider's own id for the event, for de-duplication.
    provider_event_id: str | None = None
    trusted: bool = False


# Bounce reports that arrive by mail: each counts once per message, whichever it is.
MAIL_REPORTS: Final = (Source.DSN.value, Source.MAIL.value)

# -- recording ------------------------------------------------------------------


_Found = tuple[tuple[bool, bool], str, DeliveryEvent, SentMessage | None]


@dataclass(slots=True)
class _Tally:
    """What a ``record`` call did, counted for its log line (no personal data)."""

    counts: Counter[str] = field(default_factory=Counter)
    paused: set[int] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        order = ("bad_address", "soft", "policy", "complaint", "suppressed")
        parts = [f"{self.counts[k]} {k.replace('_', ' ')}" for k in order if self.counts[k]]
        if self.counts["uncharged"]:
            parts.append(
                f"{self.counts['uncharged']} charged to no address: it changed after the send"
            )
        if self.counts["merged"]:
            parts.append(f"{self.counts['merged']} merged (one message)")
        if self.counts["duplicate"]:
            parts.append(f"{self.counts['duplicate']} recorded before")
        if self.counts["ignored"]:
            parts.append(
                f"{self.counts['ignored']} ignored: it refers to no message we sent"
                if self.counts["ignored"] == 1
                else f"{self.counts['ignored']} ignored: they refer to no message we sent"
            )
        parts += [f"campaign {c} paused: refused by policy" for c in sorted(self.paused)]
        return "; ".join(parts + self.notes) or "nothing to record"


async def record(
    session: AsyncSession,
    events: Sequence[DeliveryEvent],
    *,
    cipher: DataCipher,
    signer: TokenSigner,
    settings: Settings,
) -> str:
    """Record bounces and complaints, whatever their source, by the one rule;
    return a summary for the log (counts and ids, never an address).

    For each event: an untrusted one (mail) changes something only when it
    returns a message we sent to that address (its Message-ID or VERP tag,
    checked against the campaign's key); a VERP-linked one is about the row's
    contact even when the report names no address or another (an alias). A
    trusted one (an authenticated webhook) is believed by address, and linked
    to its campaign and row when its Message-ID is ours. A report by mail
    that names no address is charged to no address when the contact's email
    changed after the message was sent. A bounce is classed
    (service.delivery.bounces), written to ``delivery_events`` (once per
    provider event id; a report by mail once per message, whatever its
    format), and then: a bad address is suppressed, a soft bounce
    counted and suppressed at ``soft_bounce_limit``, a policy block counted
    against the campaign only (a spike pauses it); the row is marked bounced.
    A complaint goes to service.inbound.complaints.

    Never commits. Events are handled in the keyed hashes' order, so two
    reports about the same addresses lock their rows in the same order.
    """
    tally = _Tally()
    # (address hash, kind, message, provider id) → (rank, address hash, event, message)
    found: dict[tuple[object, ...], _Found] = {}
    messages: dict[Original, SentMessage | None] = {}
    for event in events:
        target = await _resolve(session, event, cipher=cipher, signer=signer, messages=messages)
        if target is None:
            tally.counts["ignored"] += 1
            continue
        value_hash, message = target
        # One bounce mail is one failure of one message, however many
        # addresses it lists: what it says about the row's contact counts
        # once, the address it names itself (then a permanent failure) first.
        # Provider events count each, and are kept apart by their ids.
        key = (value_hash, event.kind, message, event.provider_event_id if event.trusted else None)
        named = bool(event.address) and cipher.lookup_hash("email", event.address) == value_hash
        rank = (named, event.permanent is not False)
        if key in found:
            tally.counts["merged"] += 1
            if found[key][0] >= rank:
                continue
        found[key] = (rank, value_hash, event, message)
    for _, value_hash, event, message in sorted(found.values(), key=lambda f: f[1]):
        if event.kind is EventKind.COMPLAINT:
            tally.notes.append(await _complaint(session, value_hash, event, message, settings))
            tally.counts["complaint"] += 1
        else:
            await _bounce(session, value_hash, event, message, settings, tally)
    return tally.summary()


async def _resolve(
    session: AsyncSession,
    event: DeliveryEvent,
    *,
    cipher: DataCipher,
    signer: TokenSigner,
    messages: dict[Original, SentMessage | None],
) -> tuple[str, SentMessage | None] | None:
    """The address's keyed hash and the message the event returns, or None
    when an event may change nothing. ``messages``: look-ups made already."""

    async def look_up(original: Original) -> SentMessage | None:
        if original not in messages:
            messages[original] = await sent_message(session, original, signer)
        return messages[original]

    value_hash = cipher.lookup_hash("email", event.address) if event.address else None
    by_verp, by_message_id = None, None
    if (parsed := verp.parse(event.verp)) is not None:
        by_verp = await look_up(Original(*parsed))
    if by_verp is None and (original := our_message(event.message_id)) is not None:
        by_message_id = await look_up(original)
    message = by_verp or by_message_id
    if message is not None and message.address_changed and not event.trusted:
        # The contact's address changed after this message went out: the
        # report is about the message (the campaign's to count), and about
        # no address we hold now. Charging the current one would suppress a
        # working address for its predecessor's failure.
        return "", message
    if message is not None and value_hash != message.email_hash:
        if by_verp is not None and message.email_hash is not None and not event.trusted:
            # The return path names the message: whatever address the report
            # gives (none, an alias's), it is about the row's contact.
            value_hash = message.email_hash
        else:
            # The Message-ID is ours but the address is not that row's.
            message = None
    if event.trusted:
        return None if value_hash is None else (value_hash, message)
    if message is None or value_hash is None:
        return None
    return value_hash, message


async def _bounce(
    session: AsyncSession,
    value_hash: str,
    event: DeliveryEvent,
    message: SentMessage | None,
    settings: Settings,
    tally: _Tally,
) -> None:
    bounce_class = classify(event.status, event.diagnostic, permanent=event.permanent)
    status = (
        status_of(event.status or "")
        or status_of(event.diagnostic)
        or ("4.0.0" if event.permanent is False else "5.0.0")
    )
    provider_event_id = event.provider_event_id
    if not event.trusted and message is not None:
        # A report by mail is about one message: it counts once against the
        # address, however often the remote MTA sends it and in whichever
        # format (a DSN, then an Exim notice about the same message).
        provider_event_id = message.event_id
        if await _reported_before(session, provider_event_id):
            tally.counts["duplicate"] += 1
            return
    new = await write_event(
        session,
        kind=DeliveryEventKind.BOUNCE,
        source=event.source.value,
        value_hash=value_hash,
        bounce_class=bounce_class,
        status=status,
        campaign_id=None if message is None else message.campaign_id,
        recipient_id=None if message is None else message.recipient_id,
        provider_event_id=provider_event_id,
    )
    if not new:
        tally.counts["duplicate"] += 1
        return
    tally.counts[bounce_class.value] += 1
    if not value_hash:
        tally.counts["uncharged"] += 1
    elif await count_against_address(
        session,
        value_hash=value_hash,
        bounce_class=bounce_class,
        status=status,
        soft_limit=settings.soft_bounce_limit,
    ):
        tally.counts["suppressed"] += 1
    if message is None:
        return
    await mark_bounced(session, message, status)
    if bounce_class is BounceClass.POLICY and await pause_on_policy_spike(
        session, campaign_id=message.campaign_id, pause_after=settings.policy_pause_after
    ):
        tally.paused.add(message.campaign_id)


async def _reported_before(session: AsyncSession, event_id: str) -> bool:
    """Whether a bounce report by mail (any of its formats) about the message
    ``event_id`` names was recorded already. Reports by mail share the id, so
    a report in one format is found when the other arrives; the unique
    (source, provider_event_id) catches the same report twice at once."""
    found = await session.exec(
        select(col(DeliveryEventRecord.id)).where(
            col(DeliveryEventRecord.kind) == DeliveryEventKind.BOUNCE.value,
            col(DeliveryEventRecord.source).in_(MAIL_REPORTS),
            col(DeliveryEventRecord.provider_event_id) == event_id,
        )
    )
    return found.first() is not None


async def _complaint(
    session: AsyncSession,
    value_hash: str,
    event: DeliveryEvent,
    message: SentMessage | None,
    settings: Settings,
) -> str:
    # Imported here: the complaints module reads this one's event shapes.
    from service.inbound import complaints

    contact_id = None if message is None else message.contact_id
    if contact_id is None:
        contact_id = (
            await session.exec(select(col(Contact.id)).where(col(Contact.email_hash) == value_hash))
        ).first()
    return await complaints.record_complaint(
        session,
        contact_id=contact_id,
        campaign_id=None if message is None else message.campaign_id,
        recipient_id=None if message is None else message.recipient_id,
        value_hash=value_hash,
        source=event.source.value,
        provider_event_id=event.provider_event_id,
        settings=settings,
    )
