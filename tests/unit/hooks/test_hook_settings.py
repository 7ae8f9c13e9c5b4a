"""The ESP webhooks' settings (service.settings_hooks): each provider on only
when configured, and a bad value refused with its variable's name."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from service.settings import SettingsError, load_settings

P256 = ec.generate_private_key(ec.SECP256R1()).public_key()
TOPIC = "arn:aws:sns:eu-north-1:123456789012:ses-events"


def der(key: ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey) -> str:
    raw = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(raw).decode()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"CONSENTRY_VAR_DIR": str(tmp_path / "var")}


def test_no_hook_is_on_by_default(env: dict[str, str]) -> None:
    hooks = load_settings(env).hooks
    assert hooks.ses_topic_arns == ()
    assert hooks.sendgrid_public_key is None
    assert hooks.postmark_user is None and hooks.postmark_password is None
    assert hooks.mailgun_signing_key is None


def test_every_hook_configured(env: dict[str, str]) -> None:
    other = "arn:aws:sns:us-east-1:123456789012:ses-complaints"
    hooks = load_settings(
        {
            **env,
            "CONSENTRY_SES_TOPIC_ARN": f"{TOPIC}, {other}",
            "CONSENTRY_SENDGRID_PUBLIC_KEY": der(P256),
            "CONSENTRY_POSTMARK_WEBHOOK_USER": "postmark",
            "CONSENTRY_POSTMARK_WEBHOOK_PASSWORD": "p" * 8 + "q" * 8,
            "CONSENTRY_MAILGUN_SIGNING_KEY": "key-" + "a1" * 16,
        }
    ).hooks
    assert hooks.ses_topic_arns == (TOPIC, other)
    assert hooks.sendgrid_public_key == der(P256)
    assert hooks.postmark_user == "postmark"
    assert hooks.mailgun_signing_key == "key-" + "a1" * 16


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"CONSENTRY_SES_TOPIC_ARN": "ses-events"}, "SES_TOPIC_ARN"),
        ({"CONSENTRY_SES_TOPIC_ARN": "arn:aws:sqs:eu-north-1:123456789012:q"}, "SES_TOPIC_ARN"),
        ({"CONSENTRY_SENDGRID_PUBLIC_KEY": "not base64!"}, "SENDGRID_PUBLIC_KEY"),
        ({"CONSENTRY_SENDGRID_PUBLIC_KEY": "aGVsbG8="}, "SENDGRID_PUBLIC_KEY"),
        (
            {
                "CONSENTRY_SENDGRID_PUBLIC_KEY": der(
                    ed25519.Ed25519PrivateKey.generate().public_key()
                )
            },
            "SENDGRID_PUBLIC_KEY",
        ),
        (
            {
                "CONSENTRY_SENDGRID_PUBLIC_KEY": der(
                    ec.generate_private_key(ec.SECP384R1()).public_key()
                )
            },
            "SENDGRID_PUBLIC_KEY",
        ),
        ({"CONSENTRY_POSTMARK_WEBHOOK_USER": "postmark"}, "POSTMARK_WEBHOOK_USER"),
        ({"CONSENTRY_POSTMARK_WEBHOOK_PASSWORD": "x" * 20}, "POSTMARK_WEBHOOK_PASSWORD"),
        (
            {
                "CONSENTRY_POSTMARK_WEBHOOK_USER": "post:mark",
                "CONSENTRY_POSTMARK_WEBHOOK_PASSWORD": "x" * 20,
            },
            "POSTMARK_WEBHOOK_USER",
        ),
        (
            {
                "CONSENTRY_POSTMARK_WEBHOOK_USER": "postmark",
                "CONSENTRY_POSTMARK_WEBHOOK_PASSWORD": "short",
            },
            "POSTMARK_WEBHOOK_PASSWORD",
        ),
        ({"CONSENTRY_MAILGUN_SIGNING_KEY": "key-123"}, "MAILGUN_SIGNING_KEY"),
    ],
)
def test_a_bad_value_names_its_variable(
    env: dict[str, str], extra: dict[str, str], named: str
) -> None:
    with pytest.raises(SettingsError, match=f"CONSENTRY_{named}"):
        load_settings({**env, **extra})
