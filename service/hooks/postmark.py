"""Postmark's bounce and spam-complaint webhooks: one record per request,
authenticated by HTTP basic auth with the user and password put in the
webhook's URL there (``CONSENTRY_POSTMARK_WEBHOOK_USER`` and ``…_PASSWORD``).

Postmark signs nothing and sends no timestamp, so a replay cannot be told
from a retry by the request; its record ``ID`` is stored with the event, and
the same ID a second time changes nothing.

The records read::

    {"RecordType": "Bounce", "ID": 4323372036854775807, "Type": "HardBounce",
     "TypeCode": 1, "Email": "…", "Details": "smtp;550 5.1.1 …",
     "Description": "…", "MessageID": "Postmark's own id",
     "Metadata": {"message-id": "<ours>"}, "Headers": [{"Name": …, "Value": …}]}
    {"RecordType": "SpamComplaint", "ID": …, "Type": "SpamComplaint", "Email": "…"}

Postmark's MessageID is its own; ours comes from the Metadata or Headers
when the message carried it (``X-PM-Metadata-message-id``).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Any

from service.hooks import checks
from service.hooks.checks import Malformed, Refused
from service.inbound.events import DeliveryEvent, EventKind, Source

REALM = 'Basic realm="consentry-hooks"'
# Postmark's bounce types that are failures, and the RFC 3463 status each
# means (taken when the record's Details quote none), so that the one rule
# for every bounce classes them: a bad address, a temporary failure, a block.
_PERMANENT = {"HardBounce": "5.1.1", "BadEmailAddress": "5.1.3"}
_TEMPORARY = {
    "SoftBounce": "4.0.0",
    "Transient": "4.0.0",
    "DnsError": "4.4.3",
    "Blocked": "5.7.1",
    "DMARCPolicy": "5.7.1",
}
_COMPLAINTS = frozenset({"SpamComplaint"})
_METADATA_KEYS = ("message-id", "message_id", "messageid")


def authenticate(authorization: str | None, *, user: str, password: str) -> None:
    scheme, _, encoded = (authorization or "").strip().partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise Refused("the request carries no basic-auth credentials")
    try:
        given = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise Refused("the basic-auth credentials are not base64") from None
    given_user, colon, given_password = given.partition(b":")
    # Both compared whole, in constant time, whichever is wrong.
    user_ok = hmac.compare_digest(given_user, user.encode())
    password_ok = hmac.compare_digest(given_password, password.encode())
    if not (colon and user_ok and password_ok):
        raise Refused("the basic-auth credentials are wrong")


def parse(body: bytes) -> list[DeliveryEvent]:
    record = checks.load_json(body)
    if not isinstance(record, dict):
        raise Malformed("the body must be a JSON object")
    record_type = checks.text(record.get("RecordType"))
    kind = checks.text(record.get("Type"))
    recipient = checks.address(record.get("Email"))
    if recipient is None or record_type not in ("Bounce", "SpamComplaint"):
        return []
    record_id = checks.ident(record.get("ID"))
    common: dict[str, Any] = {
        "source": Source.POSTMARK,
        "address": recipient,
        "message_id": _our_message_id(record),
        "provider_event_id": checks.event_id(record_id) if record_id else None,
        "trusted": True,
    }
    if record_type == "SpamComplaint" or kind in _COMPLAINTS:
        return [DeliveryEvent(kind=EventKind.COMPLAINT, **common)]
    implied = _PERMANENT.get(kind or "") or _TEMPORARY.get(kind or "")
    if implied is None:
        # An auto-responder, a subscribe request, a challenge, an address
        # deactivated by hand at Postmark: no delivery failure.
        return []
    details = record.get("Details")
    return [
        DeliveryEvent(
            kind=EventKind.BOUNCE,
            status=checks.status_in(details, record.get("Description")) or implied,
            permanent=kind in _PERMANENT,
            diagnostic=checks.diagnostic(kind, details),
            **common,
        )
    ]


def _our_message_id(record: dict[str, Any]) -> str | None:
    metadata = checks.obj(record.get("Metadata"))
    for key in _METADATA_KEYS:
        if found := checks.message_id(checks.header(metadata, key)):
            return found
    return checks.message_id(checks.header(record.get("Headers"), "Message-ID"))
