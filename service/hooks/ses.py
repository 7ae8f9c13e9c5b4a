"""Amazon SES events through Amazon SNS: signed SNS messages, each carrying
one SES event (or asking to confirm a subscription).

An SNS message is believed when
- its topic is one of ``CONSENTRY_SES_TOPIC_ARN`` (an SNS signature proves
  only that AWS sent it; anyone can make a topic and subscribe us to it);
- its signing certificate's URL is https on ``sns.<the topic's
  region>.amazonaws.com`` with SNS's own file name (nothing else is ever
  fetched); the certificate is fetched once and kept;
- its signature (``SignatureVersion`` 1: SHA1withRSA, 2: SHA256withRSA)
  verifies against that certificate over the documented canonical string;
- its ``Timestamp`` is within five minutes of now, and its ``MessageId`` was
  not taken before.

A ``SubscriptionConfirmation`` that passes is confirmed by fetching its
``SubscribeURL`` (on the same kind of host). Fetching is the outside world:
the function that does it (``http_get``) is replaced in tests through the
app's state (``public.SES_HTTP_GET``). When SNS's host cannot be reached the
hook answers 503, which SNS retries; a URL the host refuses is a 401.

The SES events read (``notificationType`` of identity notifications, or
``eventType`` of configuration-set event publishing)::

    {"notificationType": "Bounce",
     "bounce": {"bounceType": "Permanent" | "Transient" | "Undetermined",
                "bounceSubType": "General", "feedbackId": "…",
                "bouncedRecipients": [{"emailAddress": "…", "status": "5.1.1",
                                       "diagnosticCode": "smtp; 550 …"}]},
     "mail": {"headers": [{"name": "Message-ID", "value": "<ours>"}],
              "commonHeaders": {"messageId": "<ours>"}}}
    {"notificationType": "Complaint",
     "complaint": {"complainedRecipients": [{"emailAddress": "…"}],
                   "complaintFeedbackType": "abuse", "feedbackId": "…"}}

A complaint whose feedback type is ``not-spam`` is the opposite of a
complaint and is ignored, as are deliveries, opens and the rest.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from service import clock
from service.hooks import checks
from service.hooks.checks import Malformed, Refused
from service.inbound.events import DeliveryEvent, EventKind, Source

HttpGet = Callable[[str], Awaitable[bytes]]

NOTIFICATION = "Notification"
SUBSCRIBE = "SubscriptionConfirmation"
UNSUBSCRIBE = "UnsubscribeConfirmation"
# The fields each type's signature covers, in the order they are signed.
_SIGNED_FIELDS = {
    NOTIFICATION: ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    SUBSCRIBE: ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    UNSUBSCRIBE: ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}
_OPTIONAL = frozenset({"Subject"})
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}
_SNS_HOST = re.compile(r"sns\.([a-z0-9-]+)\.amazonaws\.com")
_CERT_PATH = re.compile(r"/SimpleNotificationService-[0-9A-Za-z]{1,64}\.pem")
# SES's bounce sub-types that name the failure, and the RFC 3463 status each
# means (taken when the recipient's own status is missing); "General" says
# nothing more than the bounce type.
_SUB_TYPE_STATUS = {
    "NoEmail": "5.1.1",
    "Suppressed": "5.1.1",
    "OnAccountSuppressionList": "5.1.1",
    "MailboxFull": "4.2.2",
    "MessageTooLarge": "5.3.4",
    "ContentRejected": "5.7.1",
    "AttachmentRejected": "5.7.1",
}
_FETCH_SECONDS = 5.0
_MAX_CERT_BYTES = 64 * 1024
# Certificates kept (one per region and key rotation: a few).
_CERTS_KEPT = 32


@dataclass(frozen=True, slots=True)
class SnsMessage:
    type: str
    message_id: str
    message: str
    subscribe_url: str | None


class Unreachable(Exception):
    """SNS's host could not be reached or failed (a timeout, a 5xx): the
    outside world's fault, not the request's, so SNS should send it again
    (it retries a 5xx, never a 4xx)."""


async def http_get(url: str) -> bytes:
    """GET an https URL on an SNS host (checked before): the body; Unreachable
    when the host cannot answer, another exception when it refuses."""
    try:
        async with httpx.AsyncClient(timeout=_FETCH_SECONDS, follow_redirects=False) as client:
            response = await client.get(url)
    except httpx.TransportError:
        raise Unreachable from None
    if response.is_server_error:
        raise Unreachable
    response.raise_for_status()
    return response.content[:_MAX_CERT_BYTES]


def envelope(body: bytes) -> dict[str, Any]:
    """The SNS message's fields (SNS posts JSON as text/plain)."""
    document = checks.load_json(body)
    if not isinstance(document, dict):
        raise Malformed("the body must be a JSON object (an SNS message)")
    if document.get("Type") not in _SIGNED_FIELDS:
        raise Malformed("not an SNS message: Type is not one SNS sends")
    return document


async def authenticate(
    document: dict[str, Any],
    *,
    topics: tuple[str, ...],
    get: HttpGet,
    certificates: dict[str, rsa.RSAPublicKey],
) -> SnsMessage:
    kind: str = document["Type"]
    topic = checks.text(document.get("TopicArn"))
    if topic is None or topic not in topics:
        raise Refused("the SNS message is not from a topic this service takes")
    region = topic.split(":")[3]
    cert_url = _sns_url(document.get("SigningCertURL"), region, certificate=True)
    if cert_url is None:
        raise Refused("the signing certificate is not on Amazon SNS's own host")
    algorithm = _HASHES.get(str(document.get("SignatureVersion")))
    if algorithm is None:
        raise Refused("unknown SNS SignatureVersion")
    canonical = _canonical(document, kind)
    try:
        signature = base64.b64decode(checks.text(document.get("Signature")) or "", validate=True)
    except (binascii.Error, ValueError):
        raise Refused("the SNS signature is not base64") from None
    if canonical is None or not signature:
        raise Refused("the SNS message lacks a signed field or its signature")
    moment = checks.iso_time(document.get("Timestamp"))
    key = await _certificate(cert_url, get, certificates)
    try:
        key.verify(signature, canonical, padding.PKCS1v15(), algorithm())
    except InvalidSignature:
        raise Refused("the SNS signature does not match") from None
    checks.check_fresh(moment)
    subscribe_url = None
    if kind == SUBSCRIBE:
        subscribe_url = _sns_url(document.get("SubscribeURL"), region, certificate=False)
        if subscribe_url is None:
            raise Refused("the SubscribeURL is not on Amazon SNS's own host")
    return SnsMessage(
        type=kind,
        message_id=document["MessageId"],
        message=document["Message"],
        subscribe_url=subscribe_url,
    )


def _sns_url(raw: object, region: str, *, certificate: bool) -> str | None:
    """The URL when it is https on the topic's region's SNS host (and, for
    the certificate, SNS's own file name); else None."""
    if not isinstance(raw, str) or len(raw) > 2048:
        return None
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        return None
    host = _SNS_HOST.fullmatch(parts.hostname or "")
    if (
        parts.scheme != "https"
        or host is None
        or host.group(1) != region
        or parts.username is not None
        or parts.password is not None
        or port not in (None, 443)
        or parts.fragment
        or any(c.isspace() or not c.isprintable() for c in raw)
    ):
        return None
    if certificate and (parts.query or not _CERT_PATH.fullmatch(parts.path)):
        return None
    return raw


def _canonical(document: dict[str, Any], kind: str) -> bytes | None:
    lines: list[str] = []
    for name in _SIGNED_FIELDS[kind]:
        value = document.get(name)
        if value is None and name in _OPTIONAL:
            continue
        if not isinstance(value, str):
            return None
        lines.append(f"{name}\n{value}\n")
    return "".join(lines).encode()


async def _certificate(
    url: str, get: HttpGet, certificates: dict[str, rsa.RSAPublicKey]
) -> rsa.RSAPublicKey:
    key = certificates.get(url)
    if key is not None:
        return key
    try:
        cert = x509.load_pem_x509_certificate(await get(url))
    except Unreachable:
        raise
    except Exception:  # SNS's host refused it (no such file), or it is no certificate
        raise Refused("the SNS signing certificate could not be fetched or read") from None
    now = clock.now()
    public_key = cert.public_key()
    if not (cert.not_valid_before_utc <= now <= cert.not_valid_after_utc):
        raise Refused("the SNS signing certificate is not valid now")
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise Refused("the SNS signing certificate holds no RSA key")
    if len(certificates) >= _CERTS_KEPT:
        certificates.clear()
    certificates[url] = public_key
    return public_key


def parse(message: str, sns_message_id: str) -> list[DeliveryEvent]:
    """The SES event inside a notification, one delivery event per recipient."""
    event = checks.load_json(message.encode())
    if not isinstance(event, dict):
        raise Malformed("the SNS message does not carry an SES event")
    name = checks.text(event.get("notificationType")) or checks.text(event.get("eventType"))
    mail = checks.obj(event.get("mail"))
    message_id = checks.message_id(
        checks.header(mail.get("headers"), "Message-ID")
        or checks.obj(mail.get("commonHeaders")).get("messageId")
    )
    if name == "Bounce":
        return _bounces(checks.obj(event.get("bounce")), message_id, sns_message_id)
    if name == "Complaint":
        return _complaints(checks.obj(event.get("complaint")), message_id, sns_message_id)
    return []


def _bounces(bounce: dict[str, Any], message_id: str | None, sns_id: str) -> list[DeliveryEvent]:
    bounce_type = checks.text(bounce.get("bounceType"))
    sub_type = checks.text(bounce.get("bounceSubType"))
    feedback = checks.ident(bounce.get("feedbackId")) or sns_id
    found = []
    for index, item in enumerate(checks.items(bounce.get("bouncedRecipients"))):
        recipient = checks.obj(item)
        address = checks.address(recipient.get("emailAddress"))
        if address is None:
            continue
        code = recipient.get("diagnosticCode")
        found.append(
            DeliveryEvent(
                kind=EventKind.BOUNCE,
                source=Source.SES,
                address=address,
                status=checks.status_in(recipient.get("status"), code)
                or _SUB_TYPE_STATUS.get(sub_type or ""),
                permanent={"Permanent": True, "Transient": False}.get(bounce_type or ""),
                diagnostic=checks.diagnostic(sub_type, code),
                message_id=message_id,
                provider_event_id=checks.event_id(feedback, str(index)),
                trusted=True,
            )
        )
    return found


def _complaints(
    complaint: dict[str, Any], message_id: str | None, sns_id: str
) -> list[DeliveryEvent]:
    if checks.text(complaint.get("complaintFeedbackType")) == "not-spam":
        return []
    feedback = checks.ident(complaint.get("feedbackId")) or sns_id
    found = []
    for index, item in enumerate(checks.items(complaint.get("complainedRecipients"))):
        address = checks.address(checks.obj(item).get("emailAddress"))
        if address is not None:
            found.append(
                DeliveryEvent(
                    kind=EventKind.COMPLAINT,
                    source=Source.SES,
                    address=address,
                    message_id=message_id,
                    provider_event_id=checks.event_id(feedback, str(index)),
                    trusted=True,
                )
            )
    return found
