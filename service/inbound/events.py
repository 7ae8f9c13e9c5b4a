"""Bounces and complaints, whichever way they arrive, in one shape.

A delivery report or an ARF complaint by mail (the inbound listener), an
SMTP-time refusal, and an ESP's webhook event (Amazon SES, SendGrid,
Postmark, Mailgun) are each turned into ``DeliveryEvent``s and recorded by
one function, so that one rule decides what each does to the address and to
the campaign.

``trusted`` says whether the address itself can be believed: an
authenticated ESP webhook can; a mail report cannot, and changes something
only when it returns a message we sent to that address (its Message-ID or
VERP return path, checked against our key).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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
    address: str  # the recipient the event is about, normalised like contacts' addresses
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


# placeholder: replaced by the bounce engineer's record() at merge
# (service/hooks needs a record() to call; this one only stores each event and
# suppresses the address of a complaint or a permanent bounce).
from collections.abc import Sequence  # noqa: E402
from typing import Any  # noqa: E402

from sqlmodel.ext.asyncio.session import AsyncSession  # noqa: E402

from service import clock  # noqa: E402
from service.crypto import DataCipher  # noqa: E402
from service.db import insert_ignore, run  # noqa: E402
from service.models import DeliveryEventRecord  # noqa: E402
from service.models.enums import (  # noqa: E402
    BounceClass,
    DeliveryEventKind,
    SuppressionKind,
    SuppressionReason,
)
from service.settings import Settings  # noqa: E402
from service.suppressions import service as suppressions  # noqa: E402
from service.tokens import TokenSigner  # noqa: E402

_EVENTS: Any = DeliveryEventRecord.__table__  # type: ignore[attr-defined]


async def record(
    session: AsyncSession,
    events: Sequence[DeliveryEvent],
    *,
    cipher: DataCipher,
    signer: TokenSigner,
    settings: Settings,
) -> str:
    taken = 0
    for event in events:
        value_hash = cipher.lookup_hash("email", event.address)
        complaint = event.kind is EventKind.COMPLAINT
        bounce_class = (
            None
            if complaint
            else (BounceClass.BAD_ADDRESS if event.permanent else BounceClass.SOFT)
        )
        result = await run(
            session,
            insert_ignore(
                session,
                _EVENTS,
                keys=["source", "provider_event_id"],
                values={
                    "received_at": clock.now(),
                    "kind": DeliveryEventKind(event.kind.value).value,
                    "source": event.source.value,
                    "bounce_class": bounce_class.value if bounce_class else None,
                    "status": event.status,
                    "value_hash": value_hash,
                    "provider_event_id": event.provider_event_id,
                },
            ),
        )
        if not result.rowcount:
            continue  # the provider sent this event before
        taken += 1
        if event.trusted and (complaint or event.permanent):
            await suppressions.record(
                session,
                value_hash=value_hash,
                kind=SuppressionKind.EMAIL,
                reason=SuppressionReason.OBJECTION if complaint else SuppressionReason.BOUNCE,
            )
    return f"{taken} of {len(events)} events recorded"
