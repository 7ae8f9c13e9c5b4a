"""Mailgun's webhooks: one event per request, signed with the HTTP webhook
signing key (``CONSENTRY_MAILGUN_SIGNING_KEY``).

The body, as Mailgun sends it::

    {"signature": {"timestamp": "1733400000", "token": "…50 characters…",
                   "signature": "hex HMAC-SHA-256 of timestamp+token"},
     "event-data": {"event": "failed" | "complained", "id": "…",
                    "severity": "permanent" | "temporary", "recipient": "…",
                    "message": {"headers": {"message-id": "…"}},
                    "delivery-status": {"code": 550, "message": "…",
                                        "enhanced-code": "5.1.1", "description": "…"}}}

The signature covers only the timestamp and the token, not the event: the
token is therefore refused the second time it comes, and the timestamp when
it is more than five minutes away (``checks``).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from service.hooks import checks
from service.hooks.checks import Malformed, Refused
from service.inbound.events import DeliveryEvent, EventKind, Source


@dataclass(frozen=True, slots=True)
class Signed:
    token: str  # refused when seen again
    event: dict[str, Any]


def authenticate(body: bytes, signing_key: str) -> Signed:
    document = checks.load_json(body)
    if not isinstance(document, dict):
        raise Malformed("the body must be a JSON object")
    signature = checks.obj(document.get("signature"))
    timestamp, token, given = (
        signature.get("timestamp"),
        checks.text(signature.get("token")),
        checks.text(signature.get("signature")),
    )
    if token is None or given is None:
        raise Refused("the body carries no Mailgun signature")
    moment = checks.unix_time(timestamp)
    expected = hmac.new(
        signing_key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected.encode(), given.strip().lower().encode()):
        raise Refused("the Mailgun signature does not match")
    checks.check_fresh(moment)
    event = document.get("event-data")
    if not isinstance(event, dict):
        raise Malformed("the body has no event-data object")
    return Signed(token=token, event=event)


def parse(event: dict[str, Any]) -> list[DeliveryEvent]:
    """The event as a delivery event; none for an event that is no failure or
    complaint (delivered, opened, …) or names no address."""
    name = checks.text(event.get("event"))
    recipient = checks.address(event.get("recipient"))
    if recipient is None or name not in ("failed", "complained"):
        return []
    headers = checks.obj(checks.obj(event.get("message")).get("headers"))
    common: dict[str, Any] = {
        "source": Source.MAILGUN,
        "address": recipient,
        "message_id": checks.message_id(checks.header(headers, "message-id")),
        "provider_event_id": _event_id(event),
        "trusted": True,
    }
    if name == "complained":
        return [DeliveryEvent(kind=EventKind.COMPLAINT, **common)]
    status = checks.obj(event.get("delivery-status"))
    severity = checks.text(event.get("severity"))
    return [
        DeliveryEvent(
            kind=EventKind.BOUNCE,
            status=checks.status_in(status.get("enhanced-code"))
            or checks.status_in(status.get("message"), status.get("description")),
            permanent={"permanent": True, "temporary": False}.get(severity or ""),
            diagnostic=checks.diagnostic(
                checks.ident(status.get("code")),
                status.get("message"),
                status.get("description"),
                event.get("reason"),
            ),
            **common,
        )
    ]


def _event_id(event: dict[str, Any]) -> str | None:
    found = checks.ident(event.get("id"))
    return checks.event_id(found) if found is not None else None
