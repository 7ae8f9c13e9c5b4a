"""The one bounce rule (service.delivery.bounces.classify), on replies and
diagnostics worded as real receivers word them (examples after sisimai's
set-of-emails and the providers' published codes)."""

from __future__ import annotations

import pytest

from service.delivery.bounces import classify, reason, status_of
from service.models.enums import BounceClass

BAD, SOFT, POLICY = BounceClass.BAD_ADDRESS, BounceClass.SOFT, BounceClass.POLICY


@pytest.mark.parametrize(
    ("status", "text", "permanent", "expected"),
    [
        # Bad addresses: 5.1.x, and the texts that say so without a code.
        ("5.1.1", "550 5.1.1 <x@example.com>: Recipient address rejected: User unknown", True, BAD),
        (None, "550 5.1.1 The email account that you tried to reach does not exist.", True, BAD),
        ("5.1.2", "Host or domain name not found", True, BAD),
        ("5.1.10", "Recipient address has null MX", True, BAD),
        (None, "550 Requested action not taken: mailbox unavailable", True, BAD),
        (None, "550 No such user here", True, BAD),
        (None, "550 Unknown user x@example.com (#5.5.0)", True, BAD),
        (None, "The recipient name is not recognized", True, BAD),
        ("5.4.1", "Recipient address rejected: Access denied. AS(201806281)", True, BAD),
        ("5.4.4", "Unrouteable address", True, BAD),
        # About our sender, not the recipient: never the address's fault.
        ("5.1.7", "Bad sender's mailbox address syntax", True, POLICY),
        ("5.1.8", "Sender address rejected: Domain not found", True, POLICY),
        # Soft: full, too big, temporary, expired, or nothing we know.
        ("5.2.2", "552 5.2.2 Mailbox full", True, SOFT),
        ("5.2.1", "The email account that you tried to reach is disabled", True, SOFT),
        ("5.3.4", "552 5.3.4 Message size exceeds fixed limit", True, SOFT),
        ("4.2.2", "452 4.2.2 Over quota", False, SOFT),
        ("4.4.1", "Connection timed out", False, SOFT),
        ("4.4.2", "Try again later, closing connection", False, SOFT),
        ("4.1.1", "450 4.1.1 Recipient address rejected: unverified address", False, SOFT),
        (None, "452 Requested action not taken: insufficient system storage", True, SOFT),
        (None, "mailbox is full: retry timeout exceeded", True, SOFT),
        (None, "over quota", None, SOFT),
        ("5.4.7", "Delivery time expired", True, SOFT),
        ("5.0.0", "Something went wrong", True, SOFT),
        (None, "", True, SOFT),
        (None, "", None, SOFT),
        (None, "User unknown", False, SOFT),  # a temporary failure stays temporary
        # Policy: our IP, domain or content.
        # Reputation deferrals are ours too, not the address's (Yahoo's, Gmail's):
        (
            "4.7.0",
            "421 4.7.0 [TSS04] Messages temporarily deferred due to user complaints",
            False,
            POLICY,
        ),
        (
            "4.7.28",
            "421 4.7.28 Our system has detected an unusual rate of unsolicited mail",
            False,
            POLICY,
        ),
        (None, "451 Temporarily rejected: listed at zen.spamhaus.org", False, POLICY),
        ("5.7.606", "550 5.7.606 Access denied, banned sending IP [192.0.2.1]", True, POLICY),
        ("5.7.1", "554 5.7.1 Message rejected", True, POLICY),
        ("5.7.1", "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked", True, POLICY),
        (None, "554 Blocked - see https://www.spamhaus.org/query/ip/192.0.2.1", True, POLICY),
        (None, "550 rejected: listed at zen.spamhaus.org", True, POLICY),
        (None, "550 Our system has detected that this message is likely spam", True, POLICY),
        (None, "554 Message not allowed by policy", True, POLICY),
        ("5.6.0", "Content rejected", True, POLICY),
        ("5.7.26", "Unauthenticated email is not accepted: DMARC policy", True, POLICY),
        (
            None,
            "550 5.7.0 <s@example.net>... Please use the smtp server of your ISP.",
            True,
            POLICY,
        ),
        # A listing wins over a code that would otherwise blame the address.
        ("5.1.1", "550 5.1.1 Client host blocked using zen.spamhaus.org", True, POLICY),
        ("5.5.0", "Sender address rejected: sender domain does not exist", True, POLICY),
    ],
)
def test_the_rule(
    status: str | None, text: str, permanent: bool | None, expected: BounceClass
) -> None:
    assert classify(status, text, permanent=permanent) is expected


def test_the_status_may_be_found_in_the_text() -> None:
    assert status_of("host said: 550 5.1.1 <a@example.com>... User unknown") == "5.1.1"
    assert status_of("version 1.5.0.12 of the software") is None
    assert status_of("") is None
    assert classify(None, "said: 552 5.2.2 quota", permanent=True) is SOFT


def test_a_vacation_reply_names_no_reason() -> None:
    assert reason("I am out of the office until Monday. Regards, Maija") is None
    assert reason("550 5.1.1 User unknown") == ("userunknown", BAD)


def test_hostile_text_is_classified_quickly() -> None:
    # Long and repetitive, as a forged report may be: no catastrophic backtracking.
    text = ("mailbox " * 20_000) + ("x" * 100_000)
    assert classify(None, text, permanent=True) is SOFT
    assert classify("not a code", "\x00\udcff" * 1000, permanent=True) is SOFT
