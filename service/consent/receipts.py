"""Consent receipts: the person's copy of one ledger event, following the
consent record fields of ISO/IEC TS 27560:2023 (field names and their
27560 counterparts: docs/receipts.md).

A receipt is made from the ledger each time it is asked for, never stored:
the event it describes never changes (the ledger is append-only), and its
``receipt_id`` is derived from the event id with a keyed hash, so the same
event gives the same receipt id every time and nobody without the data key
can work one out from an event id. The subject is named by a keyed hash of
the contact id, never by an address.

Read by the staff API (``GET /contacts/{id}/consents/{event_id}/receipt``),
the access export (``consent_receipts``), the double opt-in confirmation
mail and the privacy portal.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.consent import archive
from service.consent.schemas import LegalBasis, Receipt, ReceiptController, ReceiptText
from service.crypto import DataCipher
from service.errors import NotFound
from service.models import ConsentEvent, ConsentText, Contact, SignupForm
from service.models.enums import Actor, CaptureMethod, Channel, ConsentAction, Purpose
from service.settings import Settings

__all__ = ["Receipt", "for_event", "for_events", "receipt_id", "subject_id"]

SCHEMA_VERSION = "consentry-receipt/1"
CONFORMS_TO = ["ISO/IEC TS 27560:2023", "Kantara Consent Receipt v1.1"]
# The register is kept under Finnish law (GDPR with the Finnish Data
# Protection Act and the Information Society Code).
JURISDICTION = "FI"

PURPOSES = {
    Purpose.DIRECT_MARKETING: "Offers and news about our products and services (direct marketing)",
    Purpose.EMAIL_TRACKING: "Seeing whether our marketing email is opened and its links clicked",
    Purpose.PROFILING_REPORT: "A personal profile report made from the person's answers",
}

# What the person did, by how it reached us (27560 ``collection_method``;
# GDPR 4(11): a statement or a clear affirmative action).
_ACTS = {
    CaptureMethod.DOUBLE_OPT_IN: "ticked an unticked box on the form and confirmed from the link "
    "mailed to the address",
    CaptureMethod.WEB_FORM: "ticked an unticked box on a web form",
    CaptureMethod.PREFERENCE_CENTRE: "made the choice in the preference centre, opened from a "
    "personal link in a message",
    CaptureMethod.PRIVACY_PORTAL: "made the choice on their privacy page, opened from a one-time "
    "link mailed to the address",
    CaptureMethod.ONE_CLICK: "used the one-click unsubscribe of a message",
    CaptureMethod.LINK_PAGE: "used the unsubscribe page opened from a link in a message",
    CaptureMethod.MAILTO: "sent an unsubscribe email",
    CaptureMethod.SMS: "replied to a text message",
    CaptureMethod.COMPLAINT: "reported a message as spam (their mail provider told us)",
    CaptureMethod.PAPER_FORM: "made the choice on a signed paper form; recorded by staff",
    CaptureMethod.PHONE_CALL: "said so on a phone call; recorded by staff",
    CaptureMethod.IN_PERSON: "said so in person; recorded by staff",
    CaptureMethod.EMAIL: "wrote to us by email; recorded by staff",
    CaptureMethod.POST: "wrote to us by post; recorded by staff",
    CaptureMethod.IMPORT: "made the choice elsewhere; imported with the evidence shown",
}

_ACTOR = {
    Actor.STAFF: "staff",
    Actor.PUBLIC_LINK: "person",
    Actor.IMPORT: "import",
    Actor.SYSTEM: "system",
}


def _keyed_uuid(cipher: DataCipher, kind: str, value: int) -> str:
    """A UUID (RFC 9562 version 8: custom bits) from a keyed hash."""
    raw = bytearray(bytes.fromhex(cipher.lookup_hash(kind, str(value)))[:16])
    raw[6] = (raw[6] & 0x0F) | 0x80
    raw[8] = (raw[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(raw)))


def receipt_id(cipher: DataCipher, event_id: int) -> str:
    return _keyed_uuid(cipher, "consent-receipt", event_id)


def subject_id(cipher: DataCipher, contact_id: int) -> str:
    return cipher.lookup_hash("consent-receipt-subject", str(contact_id))


def _legal_basis(event: ConsentEvent) -> LegalBasis:
    if event.action is ConsentAction.WITHDRAW:
        return LegalBasis(basis="withdrawal of consent", reference="GDPR Art. 7(3)")
    reference = "GDPR Art. 6(1)(a) and Art. 7"
    if event.purpose is Purpose.DIRECT_MARKETING and event.channel in (Channel.EMAIL, Channel.SMS):
        # Electronic direct marketing to a person needs prior consent.
        reference += "; Directive 2002/58/EC Art. 13(1) (Information Society Code 200 §)"
    if event.purpose is Purpose.EMAIL_TRACKING:
        reference += "; Directive 2002/58/EC Art. 5(3)"
    return LegalBasis(basis="consent", reference=reference)


def _how_to_withdraw(channel: Channel, settings: Settings) -> list[str]:
    ways = {
        Channel.EMAIL: [
            "Use the unsubscribe link at the foot of any of our marketing emails (one click, "
            "no login), or the preference centre linked beside it.",
            f"Send an email to {settings.unsubscribe_address}.",
        ],
        Channel.SMS: ["Reply STOP to any of our text messages, or open the opt-out link in it."],
        Channel.PHONE: ["Say so on any call from us."],
        Channel.POST: [],
    }[channel]
    return [
        *ways,
        f"Change any consent on your privacy page: {settings.public_url}/me",
        f"Contact {settings.controller_name}: {settings.privacy_contact}, "
        f"{settings.controller_address}.",
    ]


def _texts(event: ConsentEvent, archived: dict[int, ConsentText]) -> list[ReceiptText]:
    if event.text_id is not None:
        text = archived[event.text_id]
        return [
            ReceiptText(
                key=text.key,
                language=text.language,
                version=text.version,
                hash=text.hash,
                text=text.body,
            )
        ]
    if event.evidence_text is not None:
        # Words a caller sent with no archived version (staff, an import):
        # quoted as recorded, with their hash, and no version.
        return [
            ReceiptText(
                key=None,
                language=event.language,
                version=None,
                hash=archive.text_hash(event.evidence_text),
                text=event.evidence_text,
            )
        ]
    return []


def _receipt(
    event: ConsentEvent,
    slug: str | None,
    archived: dict[int, ConsentText],
    *,
    settings: Settings,
    cipher: DataCipher,
) -> Receipt:
    assert event.id is not None
    confirmed = event.method is CaptureMethod.DOUBLE_OPT_IN and event.action is ConsentAction.GRANT
    return Receipt(
        receipt_id=receipt_id(cipher, event.id),
        schema_version=SCHEMA_VERSION,
        conforms_to=CONFORMS_TO,
        issued_at=clock.now(),
        record_id=event.id,
        jurisdiction=JURISDICTION,
        controller=ReceiptController(
            name=settings.controller_name,
            business_id=settings.controller_business_id,
            address=settings.controller_address,
            privacy_contact=settings.privacy_contact,
        ),
        subject_id=subject_id(cipher, event.contact_id),
        purpose=event.purpose,
        purpose_description=PURPOSES[event.purpose],
        channel=event.channel,
        action=event.action,
        legal_basis=_legal_basis(event),
        method=event.method,
        source=event.source,
        actor=_ACTOR[event.actor],
        affirmative_action=_ACTS[event.method],
        form=slug,
        form_version=event.form_version,
        texts=_texts(event, archived),
        notice_version=event.notice_version,
        language=event.language,
        submitted_at=event.submitted_at,
        submission_network=event.submission_ip,
        confirmed_at=event.occurred_at if confirmed else None,
        recorded_at=event.occurred_at,
        collection_network=event.evidence_ip,
        how_to_withdraw=_how_to_withdraw(event.channel, settings),
    )


async def for_events(
    session: AsyncSession,
    *,
    contact: Contact,
    event_ids: Sequence[int] | None,
    settings: Settings,
    cipher: DataCipher,
) -> list[Receipt]:
    """The receipts of these events of the contact, oldest first (``None``:
    every consent event of the contact). Ids of other contacts' events are
    left out."""
    query = (
        select(ConsentEvent, SignupForm.slug)
        .outerjoin(SignupForm, col(SignupForm.id) == col(ConsentEvent.form_id))
        .where(ConsentEvent.contact_id == contact.id)
        .order_by(col(ConsentEvent.id))
    )
    if event_ids is not None:
        if not event_ids:
            return []
        query = query.where(col(ConsentEvent.id).in_(list(event_ids)))
    rows = (await session.exec(query)).all()
    text_ids = sorted({event.text_id for event, _ in rows if event.text_id is not None})
    archived = await archive.many(session, text_ids)
    return [
        _receipt(event, slug, archived, settings=settings, cipher=cipher) for event, slug in rows
    ]


async def for_event(
    session: AsyncSession,
    *,
    contact: Contact,
    event_id: int,
    settings: Settings,
    cipher: DataCipher,
) -> Receipt:
    """The receipt of one event; NotFound unless the event is this contact's."""
    receipts = await for_events(
        session, contact=contact, event_ids=[event_id], settings=settings, cipher=cipher
    )
    if not receipts:
        raise NotFound(f"contact {contact.id} has no consent event with id {event_id}")
    return receipts[0]
