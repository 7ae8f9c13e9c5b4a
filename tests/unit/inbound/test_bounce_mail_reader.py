"""Reading bounce mail of every kind into events (service.inbound.bounce_mail),
on the fixtures in tests/fixtures/bounces (see its README) and on hostile input."""

from __future__ import annotations

import email
import email.policy
from email.message import Message
from pathlib import Path

import pytest

from service.delivery.bounces import classify
from service.inbound.bounce_mail import read_bounce
from service.inbound.events import Source

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "bounces"
OURS = "<c3.r9.0f3a9b8c7d6e5f4a3b2c@example.com>"
TOKEN = "c3.r9.0f3a9b8c7d6e5f4a3b2c"


def load(name: str) -> Message:
    raw = (FIXTURES / name).read_bytes().replace(b"{message_id}", OURS.encode())
    return email.message_from_bytes(raw, policy=email.policy.default)


@pytest.mark.parametrize(
    ("name", "address", "expected"),
    [
        ("exim-userunknown.eml", "gone@example.net", "bad_address"),
        ("exim-banned-ip.eml", "blocked@example.net", "policy"),
        ("exchange2003-unknown.eml", "exchange-gone@example.net", "bad_address"),
        ("qmail-unknown.eml", "qmail-gone@example.net", "bad_address"),
        ("qmail-mailboxfull.eml", "full@example.net", "soft"),
        ("gmail-failure.eml", "gmail-gone@example.net", "bad_address"),
        ("gmail-address-not-found.eml", "gmail-nobody@example.net", "bad_address"),
        ("plain-text.eml", "plain-gone@example.net", "bad_address"),
    ],
)
def test_each_family(name: str, address: str, expected: str) -> None:
    (event,) = read_bounce(load(name), None)
    assert (event.source, event.address, event.permanent) == (Source.MAIL, address, True)
    assert classify(event.status, event.diagnostic, permanent=event.permanent).value == expected
    # Exchange 2003 returns no copy: only its VERP return path can link it.
    assert event.message_id == (None if name.startswith("exchange") else OURS)


def test_a_notice_with_nothing_readable_is_one_event_only_by_verp() -> None:
    mangled = load("mangled-verp-only.eml")
    assert read_bounce(mangled, None) == ()
    (event,) = read_bounce(mangled, TOKEN)
    assert (event.address, event.verp, event.status) == ("", TOKEN, "5.1.1")
    assert classify(event.status, event.diagnostic, permanent=event.permanent).value == (
        "bad_address"
    )


def test_a_vacation_reply_is_no_bounce() -> None:
    assert read_bounce(load("vacation-reply.eml"), TOKEN) == ()


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe garbage",
        b"Content-Type: text/plain; charset=x-no-such-charset\r\n\r\n550 5.1.1 user unknown\r\n",
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n--x--\r\n",
        b"X-Failed-Recipients: not an address, @@, <>\r\n\r\nfailed\r\n",
        b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n",
        b"Subject: x\r\n\r\n" + b"550 5.1.1 " * 200_000,
    ],
)
def test_hostile_mail_raises_nothing(raw: bytes) -> None:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    for token in (None, TOKEN):
        events = read_bounce(message, token)
        assert all(e.address == "" or "@" in e.address for e in events)
        assert len(events) <= 1


def _report(blocks: str) -> Message:
    raw = (
        "From: MAILER-DAEMON@mx.example.net\r\nTo: news@example.com\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B0"\r\n'
        "\r\n--B0\r\nContent-Type: text/plain\r\n\r\nDelayed or failed.\r\n"
        "--B0\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.net\r\n\r\n"
        f"{blocks}"
        "\r\n--B0\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {OURS}\r\n\r\n--B0--\r\n"
    )
    return email.message_from_string(raw, policy=email.policy.default)


def test_a_delay_warning_is_no_bounce_even_by_verp() -> None:
    """The message is still being tried: only its final failure may count."""
    warning = _report(
        "Final-Recipient: rfc822; late@example.net\r\nAction: delayed\r\nStatus: 4.4.7\r\n"
    )
    assert read_bounce(warning, None) == ()
    assert read_bounce(warning, TOKEN) == ()
    # In one report with a final failure, only the failure is an event.
    mixed = _report(
        "Final-Recipient: rfc822; late@example.net\r\nAction: delayed\r\nStatus: 4.4.7\r\n\r\n"
        "Final-Recipient: rfc822; gone@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n"
    )
    assert [(e.address, e.status) for e in read_bounce(mixed, None)] == [
        ("gone@example.net", "5.1.1")
    ]
