"""Postmark hands back only the metadata a message carried: with its webhook
configured, campaign mail carries our Message-ID as ``X-PM-Metadata-message-id``,
and the hook's reader finds it there again."""

from __future__ import annotations

import email
import email.policy
import json
from pathlib import Path

from service.campaigns.email import _esp_headers
from service.hooks import postmark
from service.mail.message import build_message
from service.mail.render import Rendered
from service.settings import load_settings

MESSAGE_ID = "<c7.r42.tagtagtag@firma.fi>"


def message(extra: dict[str, str]) -> email.message.EmailMessage:
    raw = build_message(
        Rendered(language="fi", subject="Hei", html="<p>Hei</p>", text="Hei"),
        mail_from="uutiset@firma.fi",
        to="someone@example.fi",
        message_id=MESSAGE_ID,
        list_id="<campaign-7.firma.fi>",
        unsubscribe_url="https://crm.firma.fi/u/t",
        unsubscribe_mailto="mailto:unsubscribe@firma.fi",
        extra_headers=extra,
    )
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, email.message.EmailMessage)
    return parsed


def test_with_postmark_configured_campaign_mail_names_its_message_for_the_hook(
    tmp_path: Path,
) -> None:
    settings = load_settings(
        {
            "CONSENTRY_VAR_DIR": str(tmp_path),
            "CONSENTRY_POSTMARK_WEBHOOK_USER": "postmark",
            "CONSENTRY_POSTMARK_WEBHOOK_PASSWORD": "a-long-enough-password",
        }
    )
    sent = message(_esp_headers(settings, MESSAGE_ID))
    assert sent["X-PM-Metadata-message-id"] == MESSAGE_ID
    # What Postmark's bounce webhook returns of it.
    record = {
        "RecordType": "Bounce",
        "Type": "HardBounce",
        "ID": 4323372036854775807,
        "Email": "someone@example.fi",
        "Metadata": {"message-id": MESSAGE_ID},
    }
    (event,) = postmark.parse(json.dumps(record).encode())
    assert event.message_id == MESSAGE_ID


def test_without_postmark_no_provider_field_is_added(tmp_path: Path) -> None:
    settings = load_settings({"CONSENTRY_VAR_DIR": str(tmp_path)})
    assert _esp_headers(settings, MESSAGE_ID) == {}
    assert message(_esp_headers(settings, MESSAGE_ID))["X-PM-Metadata-message-id"] is None
