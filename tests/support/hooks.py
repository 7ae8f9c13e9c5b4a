"""The ESP webhooks' test bench (fixtures: tests/integration/hooks/conftest.py):
every provider's settings with keys made here, requests signed the way each
provider signs them, and what a hook may change (suppressions, delivery
events, the consent ledger) read back.

Amazon SNS's certificate host and the subscription confirmation are the
outside world: ``FakeSns`` serves a self-signed certificate made with
``cryptography`` for SNS's certificate URL and records every other GET.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlmodel import col, select

from service.crypto import DataCipher
from service.db import SessionMaker
from service.hooks.ses import Unreachable
from service.models import ConsentEvent, DeliveryEventRecord, Suppression
from tests.conftest import TEST_DATA_KEY
from tests.support.factories import MARKETING, create_contact

CIPHER = DataCipher(TEST_DATA_KEY)
Client = AsyncTestClient[Litestar]

SENDGRID_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_SENDGRID_KEY = ec.generate_private_key(ec.SECP256R1())
MAILGUN_KEY = "key-" + secrets.token_hex(16)
POSTMARK_USER = "postmark"
POSTMARK_PASSWORD = secrets.token_urlsafe(24)
REGION = "eu-north-1"
TOPIC = f"arn:aws:sns:{REGION}:123456789012:ses-events"
CERT_URL = f"https://sns.{REGION}.amazonaws.com/SimpleNotificationService-7506a1e35b36ef5a444dd1a8e7cc3ed8.pem"
SNS_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_SNS_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_der(key: ec.EllipticCurvePrivateKey) -> str:
    """The key as SendGrid shows it: base64 DER SubjectPublicKeyInfo."""
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


HOOK_ENV = {
    "CONSENTRY_SES_TOPIC_ARN": TOPIC,
    "CONSENTRY_SENDGRID_PUBLIC_KEY": public_der(SENDGRID_KEY),
    "CONSENTRY_POSTMARK_WEBHOOK_USER": POSTMARK_USER,
    "CONSENTRY_POSTMARK_WEBHOOK_PASSWORD": POSTMARK_PASSWORD,
    "CONSENTRY_MAILGUN_SIGNING_KEY": MAILGUN_KEY,
}


def certificate(key: rsa.RSAPrivateKey, *, valid_from: datetime, days: int = 2) -> bytes:
    """A self-signed certificate for ``key``, as SNS's PEM file."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_from + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


class FakeSns:
    """SNS's side of the outside world: certificates by URL, and every other
    GET (a subscription confirmation) recorded."""

    def __init__(self, certificates: dict[str, bytes]) -> None:
        self.certificates = certificates
        self.fetched: list[str] = []
        self.confirmed: list[str] = []
        self.fail_confirmations = False
        self.down = False  # SNS's host cannot be reached

    async def get(self, url: str) -> bytes:
        if self.down:
            raise Unreachable
        if url in self.certificates:
            self.fetched.append(url)
            return self.certificates[url]
        if "Action=ConfirmSubscription" in url:
            if self.fail_confirmations:
                raise ConnectionError("SNS is unreachable")
            self.confirmed.append(url)
            return b"<ConfirmSubscriptionResponse/>"
        raise ConnectionError(f"nothing is served at {url}")


# -- people, and what a hook may change -------------------------------------------


async def person(sessionmaker: SessionMaker, email: str) -> str:
    """A contact who consented to email marketing; the address's keyed hash."""
    await create_contact(
        sessionmaker, cipher=CIPHER, consent=MARKETING, email=email, legal_basis="consent"
    )
    return CIPHER.lookup_hash("email", email)


def hash_of(email: str) -> str:
    return CIPHER.lookup_hash("email", email)


async def suppressed(sessionmaker: SessionMaker) -> set[str]:
    async with sessionmaker() as session:
        return set((await session.exec(select(Suppression.value_hash))).all())


async def delivery_events(sessionmaker: SessionMaker) -> list[tuple[str, str, str, str | None]]:
    """(kind, source, address hash, provider event id) of each row, oldest first."""
    async with sessionmaker() as session:
        rows = await session.exec(select(DeliveryEventRecord).order_by(col(DeliveryEventRecord.id)))
        return [(r.kind.value, r.source, r.value_hash, r.provider_event_id) for r in rows.all()]


async def state(sessionmaker: SessionMaker) -> tuple[Any, ...]:
    """Everything a hook may change, to compare before and after a refusal."""
    async with sessionmaker() as session:
        ledger = (await session.exec(select(col(ConsentEvent.id)))).all()
    return (await suppressed(sessionmaker), await delivery_events(sessionmaker), sorted(ledger))


# -- requests signed the providers' ways ------------------------------------------


def unix(moment: datetime) -> str:
    return str(int(moment.timestamp()))


def mailgun_body(
    event: dict[str, Any],
    *,
    now: datetime,
    key: str = MAILGUN_KEY,
    token: str | None = None,
    timestamp: str | None = None,
) -> dict[str, Any]:
    timestamp = timestamp or unix(now)
    token = token or secrets.token_hex(25)
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": event,
    }


def mailgun_failure(
    recipient: str, *, severity: str = "permanent", code: str = "5.1.1"
) -> dict[str, Any]:
    return {
        "event": "failed",
        "id": secrets.token_urlsafe(16),
        "timestamp": 1733400000.5,
        "severity": severity,
        "reason": "bounce",
        "recipient": recipient,
        "message": {"headers": {"message-id": "c1.r2.tag@example.fi"}},
        "delivery-status": {
            "code": 550 if severity == "permanent" else 452,
            "enhanced-code": code,
            "message": f"{code} The email account that you tried to reach does not exist",
            "description": "",
        },
    }


def sendgrid_request(
    body: bytes,
    *,
    now: datetime,
    key: ec.EllipticCurvePrivateKey = SENDGRID_KEY,
    timestamp: str | None = None,
) -> dict[str, str]:
    """The headers SendGrid sends with ``body``."""
    timestamp = timestamp or unix(now)
    signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        "Content-Type": "application/json",
    }


def sendgrid_event(email: object, event: str = "bounce", **fields: Any) -> dict[str, Any]:
    return {
        "email": email,
        "timestamp": 1733400000,
        "smtp-id": "<c1.r2.tag@example.fi>",
        "event": event,
        "sg_event_id": secrets.token_urlsafe(16),
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        **fields,
    }


def postmark_auth(user: str = POSTMARK_USER, password: str = POSTMARK_PASSWORD) -> dict[str, str]:
    credentials = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}


def postmark_bounce(email: object, kind: object = "HardBounce", **fields: Any) -> dict[str, Any]:
    return {
        "RecordType": "Bounce",
        "MessageStream": "outbound",
        "ID": secrets.randbelow(2**62),
        "Type": kind,
        "TypeCode": 1,
        "Name": "Hard bounce",
        "Tag": "",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Metadata": {"message-id": "<c1.r2.tag@example.fi>"},
        "ServerID": 23,
        "Description": "The server was unable to deliver your message (ex: unknown user, "
        "mailbox not found).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": email,
        "From": "news@example.fi",
        "BouncedAt": "2026-12-05T12:00:00Z",
        "Inactive": True,
        "CanActivate": True,
        "Subject": "Autumn news",
        **fields,
    }


def sns_message(
    kind: str,
    *,
    now: datetime,
    message: str = "",
    key: rsa.RSAPrivateKey = SNS_KEY,
    version: str = "1",
    topic: str = TOPIC,
    cert_url: str = CERT_URL,
    subscribe_url: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """An SNS message of ``kind``, signed over SNS's canonical string."""
    document: dict[str, Any] = {
        "Type": kind,
        "MessageId": secrets.token_hex(16),
        "TopicArn": topic,
        "Message": message,
        "Timestamp": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "SignatureVersion": version,
        "SigningCertURL": cert_url,
    }
    if kind == "Notification":
        document["UnsubscribeURL"] = (
            f"https://sns.{REGION}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={topic}:x"
        )
        fields = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    else:
        document["Token"] = secrets.token_hex(64)
        document["SubscribeURL"] = subscribe_url or (
            f"https://sns.{REGION}.amazonaws.com/?Action=ConfirmSubscription"
            f"&TopicArn={topic}&Token={document['Token']}"
        )
        fields = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    document.update(overrides)
    canonical = "".join(f"{f}\n{document[f]}\n" for f in fields if f in document)
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303  (SNS v1)
    signature = key.sign(canonical.encode(), padding.PKCS1v15(), algorithm)
    document["Signature"] = base64.b64encode(signature).decode()
    return document


def ses_bounce(*emails: str, bounce_type: str = "Permanent", status: str = "5.1.1") -> str:
    """An SES bounce notification (the Message of an SNS notification)."""
    return json.dumps(
        {
            "notificationType": "Bounce",
            "bounce": {
                "bounceType": bounce_type,
                "bounceSubType": "General",
                "feedbackId": f"0100{secrets.token_hex(20)}-000000",
                "timestamp": "2026-12-05T12:00:00.000Z",
                "reportingMTA": "dsn; a8-70.smtp-out.amazonses.com",
                "bouncedRecipients": [
                    {
                        "emailAddress": email,
                        "action": "failed",
                        "status": status,
                        "diagnosticCode": f"smtp; 550 {status} user unknown",
                    }
                    for email in emails
                ],
            },
            "mail": _ses_mail(emails),
        }
    )


def ses_complaint(*emails: str, feedback_type: str = "abuse") -> str:
    return json.dumps(
        {
            "notificationType": "Complaint",
            "complaint": {
                "userAgent": "AnyCompany Feedback Loop (V0.01)",
                "complainedRecipients": [{"emailAddress": email} for email in emails],
                "complaintFeedbackType": feedback_type,
                "feedbackId": f"0100{secrets.token_hex(20)}-000000",
                "timestamp": "2026-12-05T12:00:00.000Z",
            },
            "mail": _ses_mail(emails),
        }
    )


def _ses_mail(emails: tuple[str, ...]) -> dict[str, Any]:
    return {
        "timestamp": "2026-12-05T11:59:58.000Z",
        "source": "news@example.fi",
        "messageId": "0100018c3b1a9e8f-ses-own-id-000000",
        "destination": list(emails),
        "headersTruncated": False,
        "headers": [
            {"name": "From", "value": "news@example.fi"},
            {"name": "Message-ID", "value": "<c1.r2.tag@example.fi>"},
        ],
        "commonHeaders": {"from": ["news@example.fi"], "messageId": "<c1.r2.tag@example.fi>"},
    }
