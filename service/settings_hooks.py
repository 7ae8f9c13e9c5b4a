"""The ESP webhooks' settings (``POST /hooks/{provider}``, docs/deliverability.md).

Each provider's hook exists only when its settings are given: an unconfigured
provider's URL answers 404, so nobody can feed events through a provider the
company does not use. Values are checked here, once, like every setting.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from service import settings_readers as read
from service.settings_readers import PREFIX, SettingsError

# arn:aws:sns:eu-north-1:123456789012:ses-bounces (aws-cn and aws-us-gov too).
_TOPIC_ARN = re.compile(r"arn:aws(?:-[a-z]+)*:sns:[a-z]{2}(?:-[a-z]+)+-\d:\d{12}:[\w-]{1,256}")
# Shared secrets someone else generates (Mailgun) or we do (Postmark's
# password): shorter ones are typed by hand.
_MIN_SECRET = 16


@dataclass(frozen=True, slots=True)
class HookSettings:
    # Amazon SES through SNS: the topics whose messages are taken. An SNS
    # signature proves only that AWS sent the message, not whose topic it
    # came from: anyone can make a topic. So SES is on only with topics named.
    ses_topic_arns: tuple[str, ...] = ()
    # SendGrid's signed Event Webhook: its verification key, base64 DER as
    # SendGrid shows it.
    sendgrid_public_key: str | None = None
    # Postmark: the basic-auth credentials put in the webhook URL there.
    postmark_user: str | None = None
    postmark_password: str | None = None
    # Mailgun: the HTTP webhook signing key.
    mailgun_signing_key: str | None = None


def hook_settings(environ: dict[str, str]) -> HookSettings:
    user = read.text(environ, "POSTMARK_WEBHOOK_USER")
    password = read.text(environ, "POSTMARK_WEBHOOK_PASSWORD")
    if (user is None) != (password is None):
        raise SettingsError(
            f"{PREFIX}POSTMARK_WEBHOOK_USER and {PREFIX}POSTMARK_WEBHOOK_PASSWORD: "
            "give both or neither"
        )
    if user is not None and ":" in user:
        raise SettingsError(f"{PREFIX}POSTMARK_WEBHOOK_USER: must not contain ':'")
    return HookSettings(
        ses_topic_arns=_topic_arns(environ),
        sendgrid_public_key=_sendgrid_key(environ),
        postmark_user=user,
        postmark_password=_long_secret(environ, "POSTMARK_WEBHOOK_PASSWORD"),
        mailgun_signing_key=_long_secret(environ, "MAILGUN_SIGNING_KEY"),
    )


def _topic_arns(environ: dict[str, str]) -> tuple[str, ...]:
    arns = tuple(item.strip() for item in (read.text(environ, "SES_TOPIC_ARN") or "").split(","))
    arns = tuple(arn for arn in arns if arn)
    for arn in arns:
        if not _TOPIC_ARN.fullmatch(arn):
            raise SettingsError(
                f"{PREFIX}SES_TOPIC_ARN: {arn!r} is not an SNS topic ARN like "
                "arn:aws:sns:eu-north-1:123456789012:ses-events"
            )
    return arns


def _sendgrid_key(environ: dict[str, str]) -> str | None:
    name = "SENDGRID_PUBLIC_KEY"
    raw = read.text(environ, name)
    if raw is None:
        return None
    try:
        key = load_der_public_key(base64.b64decode(raw, validate=True))
    except (binascii.Error, ValueError):
        raise SettingsError(
            f"{PREFIX}{name}: not a public key; paste the verification key SendGrid shows "
            "(base64, starting MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE)"
        ) from None
    if not (isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1)):
        raise SettingsError(f"{PREFIX}{name}: must be an ECDSA P-256 key, as SendGrid's is")
    return raw


def _long_secret(environ: dict[str, str], name: str) -> str | None:
    raw = read.text(environ, name)
    if raw is not None and len(raw) < _MIN_SECRET:
        raise SettingsError(f"{PREFIX}{name}: must be at least {_MIN_SECRET} characters long")
    return raw
