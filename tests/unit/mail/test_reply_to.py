"""CONSENTRY_REPLY_TO: campaign mail's Reply-To, so replies reach the inbound listener."""

from __future__ import annotations

import email
import email.policy

import pytest

from service.mail.message import build_message
from service.mail.render import Rendered
from service.settings import SettingsError, load_settings

RENDERED = Rendered(language="default", subject="Kevät", html="<p>Hei</p>", text="Hei")


def build(**overrides: object) -> email.message.Message:
    raw = build_message(
        RENDERED,
        mail_from="Acme Oy <marketing@acme.fi>",
        to="aino@example.fi",
        message_id="<c7.r42@acme.fi>",
        list_id="<c7.acme.fi>",
        unsubscribe_url="https://acme.fi/u/T",
        unsubscribe_mailto="mailto:unsubscribe@acme.fi",
        **overrides,  # type: ignore[arg-type]
    )
    return email.message_from_bytes(raw, policy=email.policy.default)


def test_reply_to_is_written_only_when_set() -> None:
    assert build()["Reply-To"] is None
    message = build(reply_to="replies@acme.fi")
    assert message["Reply-To"] == "replies@acme.fi"
    assert message.get_all("Reply-To") == ["replies@acme.fi"]
    assert message.defects == []


def test_reply_to_cannot_be_smuggled_in_twice_or_with_a_line_break() -> None:
    with pytest.raises(ValueError, match="extra_headers"):
        build(reply_to="replies@acme.fi", extra_headers={"Reply-To": "evil@example.net"})
    with pytest.raises(ValueError, match="Reply-To: a header value may not contain CR, LF"):
        build(reply_to="replies@acme.fi\nBcc: evil@example.net")


def test_the_settings() -> None:
    base = {"CONSENTRY_SECRET_KEY": "k" * 40, "CONSENTRY_DATA_KEY": "d" * 40}
    unset = load_settings(base)
    assert unset.reply_to is None and unset.reply_forward_to is None
    given = load_settings(
        {
            **base,
            "CONSENTRY_REPLY_TO": "Acme <Replies@Acme.fi>",
            "CONSENTRY_REPLY_FORWARD_TO": "service@acme.fi",
        }
    )
    assert given.reply_to == "Replies@Acme.fi"  # the display name dropped; matched in any case
    assert given.reply_forward_to == "service@acme.fi"
    with pytest.raises(SettingsError, match="CONSENTRY_REPLY_FORWARD_TO"):
        load_settings({**base, "CONSENTRY_REPLY_FORWARD_TO": "not an address"})
