"""SendGrid's signed Event Webhook: a JSON array of events per request,
signed with ECDSA (P-256, SHA-256) over the timestamp header followed by the
raw body; the key to verify it with is ``CONSENTRY_SENDGRID_PUBLIC_KEY``.

Headers: ``X-Twilio-Email-Event-Webhook-Signature`` (base64 DER) and
``X-Twilio-Email-Event-Webhook-Timestamp`` (seconds since 1970).

The events read (every other kind is ignored)::

    {"event": "bounce", "type": "bounce" | "blocked", "email": "…",
     "status": "5.1.1", "reason": "…", "smtp-id": "<our Message-ID>",
     "sg_event_id": "…"}
    {"event": "dropped", "reason": "Bounced Address" | "Invalid" | "Spam Reporting Address" | …}
    {"event": "spamreport", "email": "…", "sg_event_id": "…"}

A ``bounce`` is a permanent failure, a ``blocked`` one a temporary refusal
(SendGrid's words). A ``dropped`` event is mail SendGrid did not send
because the address is on its own lists: an earlier bounce (5.1.1) or an
invalid address (5.1.3) counts as a permanent failure, an earlier spam
report as a complaint; the rest (unsubscribed there, content) changes
nothing here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from functools import cache
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from service.hooks import checks
from service.hooks.checks import Malformed, Refused
from service.inbound.events import DeliveryEvent, EventKind, Source

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
# Mail SendGrid dropped because of an earlier failure, and the RFC 3463
# status that failure means (a dropped event quotes none).
_DROPPED_BOUNCES = {"bounced address": "5.1.1", "invalid": "5.1.3"}
_DROPPED_COMPLAINTS = ("spam reporting address",)


@cache
def _key(encoded: str) -> ec.EllipticCurvePublicKey:
    key = load_der_public_key(base64.b64decode(encoded))
    assert isinstance(key, ec.EllipticCurvePublicKey)  # checked with the settings
    return key


def authenticate(
    body: bytes, *, signature: str | None, timestamp: str | None, public_key: str
) -> str:
    """Verify the request; return its replay token.

    The token is what was signed, hashed: an ECDSA signature can be altered
    into another valid one (its ``s`` negated), so the signature itself
    would not recognise a replay."""
    if signature is None or timestamp is None:
        raise Refused("the request carries no SendGrid signature")
    moment = checks.unix_time(timestamp.strip())
    try:
        der = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise Refused("the SendGrid signature is not base64") from None
    signed = timestamp.strip().encode() + body
    try:
        _key(public_key).verify(der, signed, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise Refused("the SendGrid signature does not match") from None
    checks.check_fresh(moment)
    return hashlib.sha256(signed).hexdigest()


def parse(body: bytes) -> list[DeliveryEvent]:
    document = checks.load_json(body)
    if not isinstance(document, list):
        raise Malformed("the body must be a JSON array of events")
    found: list[DeliveryEvent] = []
    for item in document:
        event = _event(checks.obj(item))
        if event is not None:
            found.append(event)
    return found


def _event(event: dict[str, Any]) -> DeliveryEvent | None:
    name = checks.text(event.get("event"))
    recipient = checks.address(event.get("email"))
    if recipient is None:
        return None
    event_id = checks.ident(event.get("sg_event_id"))
    common: dict[str, Any] = {
        "source": Source.SENDGRID,
        "address": recipient,
        "message_id": checks.message_id(event.get("smtp-id")),
        "provider_event_id": checks.event_id(event_id) if event_id else None,
        "trusted": True,
    }
    reason = checks.text(event.get("reason")) or ""
    if name == "spamreport" or (
        name == "dropped" and reason.strip().lower() in _DROPPED_COMPLAINTS
    ):
        return DeliveryEvent(kind=EventKind.COMPLAINT, **common)
    if name == "bounce":
        kind = checks.text(event.get("type"))
        return DeliveryEvent(
            kind=EventKind.BOUNCE,
            status=checks.status_in(event.get("status"), reason),
            permanent={"bounce": True, "blocked": False}.get(kind or "bounce"),
            diagnostic=checks.diagnostic(reason),
            **common,
        )
    implied = _DROPPED_BOUNCES.get(reason.strip().lower())
    if name == "dropped" and implied is not None:
        return DeliveryEvent(
            kind=EventKind.BOUNCE,
            status=implied,
            permanent=True,
            diagnostic=checks.diagnostic(reason),
            **common,
        )
    return None
