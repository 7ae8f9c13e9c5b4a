"""The delivery status notification parser, on reports written after real ones
(Postfix and Exchange Online), and on broken ones."""

from __future__ import annotations

import base64
import email
import email.policy
from email.message import Message

import pytest

from service.inbound.dsn import (
    Bounce,
    MalformedReport,
    Original,
    Severity,
    classify,
    is_delivery_report,
    parse_blocks,
    parse_report,
)

POSTFIX_HARD = b"""\
Return-Path: <>
Received: by mx.example.net (Postfix) id 3F1B2C0A1; Tue, 24 Nov 2026 10:00:01 +0200 (EET)
Date: Tue, 24 Nov 2026 10:00:01 +0200 (EET)
From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: news@example.fi
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="3F1B2C0A1.1795500001/mx.example.net"
Content-Transfer-Encoding: 7bit
Message-Id: <20261124080001.3F1B2C0A1@mx.example.net>

This is a MIME-encapsulated message.

--3F1B2C0A1.1795500001/mx.example.net
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.net.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

<gone@example.net>: host mail.example.net[192.0.2.25] said: 550 5.1.1
    <gone@example.net>: Recipient address rejected: User unknown in virtual
    mailbox table (in reply to RCPT TO command)

--3F1B2C0A1.1795500001/mx.example.net
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
X-Postfix-Queue-ID: 3F1B2C0A1
X-Postfix-Sender: rfc822; news@example.fi
Arrival-Date: Tue, 24 Nov 2026 10:00:00 +0200 (EET)

Final-Recipient: rfc822; gone@example.net
Original-Recipient: rfc822;gone@example.net
Action: failed
Status: 5.1.1
Remote-MTA: dns; mail.example.net
Diagnostic-Code: smtp; 550 5.1.1 <gone@example.net>: Recipient address
    rejected: User unknown in virtual mailbox table

--3F1B2C0A1.1795500001/mx.example.net
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

Return-Path: <news@example.fi>
Received: from worker (localhost [127.0.0.1])
\tby mx.example.net (Postfix) with ESMTP id 3F1B2C0A1
\tfor <gone@example.net>; Tue, 24 Nov 2026 10:00:00 +0200 (EET)
From: Example Oy <news@example.fi>
To: gone@example.net
Subject: Hei Maija!
Message-ID: <c12.r345.Zk3y_1@example.fi>
List-Unsubscribe: <https://example.fi/u/abc.def.ghi>,
 <mailto:unsubscribe@example.fi?subject=unsubscribe%20abc.def.ghi>

--3F1B2C0A1.1795500001/mx.example.net--
"""

POSTFIX_DELAYED = b"""\
From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
Subject: Delayed Mail (still being retried)
To: news@example.fi
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="7A2C1C0B2.1795514401/mx.example.net"

--7A2C1C0B2.1795514401/mx.example.net
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.net.

####################################################################
# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #
####################################################################

--7A2C1C0B2.1795514401/mx.example.net
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
X-Postfix-Queue-ID: 7A2C1C0B2
Arrival-Date: Tue, 24 Nov 2026 10:00:00 +0200 (EET)

Final-Recipient: rfc822; slow@example.net
Original-Recipient: rfc822;slow@example.net
Action: delayed
Status: 4.4.1
Diagnostic-Code: X-Postfix; connect to mail.example.net[192.0.2.25]:25: Connection
    timed out
Will-Retry-Until: Sat, 28 Nov 2026 10:00:00 +0200 (EET)

--7A2C1C0B2.1795514401/mx.example.net--
"""

EXCHANGE_HARD = b"""\
From: postmaster@contoso.onmicrosoft.com
To: <news@example.fi>
Date: Tue, 24 Nov 2026 08:00:02 +0000
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="a1b2c3d4-0001-4000-8000-000000000001"
MIME-Version: 1.0
Message-ID: <f00d@AM0PR01MB1234.eurprd01.prod.exchangelabs.com>
Subject: Undeliverable: Hei Maija!
Auto-Submitted: auto-replied
X-MS-Exchange-Message-Is-Ndr:

--a1b2c3d4-0001-4000-8000-000000000001
Content-Type: multipart/alternative; differences=Content-Type;
\tboundary="b2c3d4e5-0002-4000-8000-000000000002"

--b2c3d4e5-0002-4000-8000-000000000002
Content-Type: text/plain; charset="us-ascii"
Content-Transfer-Encoding: quoted-printable

Your message to Nobody@Contoso.com couldn't be delivered.
Nobody wasn't found at contoso.com.

--b2c3d4e5-0002-4000-8000-000000000002
Content-Type: text/html; charset="us-ascii"
Content-Transfer-Encoding: quoted-printable

<html><body><p>Your message to Nobody@Contoso.com couldn't be delivered.</p></body></html>

--b2c3d4e5-0002-4000-8000-000000000002--

--a1b2c3d4-0001-4000-8000-000000000001
Content-Type: message/delivery-status

Reporting-MTA: dns;AM0PR01MB1234.eurprd01.prod.exchangelabs.com
Received-From-MTA: dns;mail.example.fi
Arrival-Date: Tue, 24 Nov 2026 08:00:01 +0000

Final-Recipient: rfc822;Nobody@Contoso.com
Action: failed
Status: 5.1.10
Diagnostic-Code: smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not
 found by SMTP address lookup
Remote-MTA: dns;AM0PR01MB1234.eurprd01.prod.exchangelabs.com
X-Display-Name: Nobody

--a1b2c3d4-0001-4000-8000-000000000001
Content-Type: message/rfc822

Received: from mail.example.fi (192.0.2.10) by AM0PR01MB1234.mail.protection.outlook.com
From: Example Oy <news@example.fi>
To: <Nobody@Contoso.com>
Subject: Hei Maija!
Message-ID: <c7.r99.qwerty@example.fi>
MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"

Hei Maija,
syksyn valmennukset ovat taalla.

--a1b2c3d4-0001-4000-8000-000000000001--
"""


def report(status_part: str, *, headers: str = "", original: str = "") -> bytes:
    """A minimal multipart/report around a delivery-status part."""
    parts = [
        "Content-Type: text/plain\n\nDelivery report.\n",
        (headers or "Content-Type: message/delivery-status\n") + "\n" + status_part,
    ]
    if original:
        parts.append(original)
    body = "".join(f"--BOUNDARY\n{part}\n" for part in parts)
    return (
        "From: MAILER-DAEMON@mx.example.net\n"
        "To: news@example.fi\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type="delivery-status"; boundary="BOUNDARY"\n'
        f"\n{body}--BOUNDARY--\n"
    ).encode()


def parse(raw: bytes) -> Message:
    return email.message_from_bytes(raw, policy=email.policy.default)


def test_postfix_hard_bounce() -> None:
    result = parse_report(parse(POSTFIX_HARD))
    assert result.bounces == (Bounce("gone@example.net", "5.1.1", Severity.PERMANENT),)
    assert result.unreadable == 0
    # From the returned headers' Message-ID, which is one of ours.
    assert result.original == Original(campaign_id=12, recipient_id=345, key="Zk3y_1")


def test_postfix_delay_warning_is_temporary() -> None:
    result = parse_report(parse(POSTFIX_DELAYED))
    assert result.bounces == (Bounce("slow@example.net", "4.4.1", Severity.TEMPORARY),)
    assert result.original is None


def test_exchange_ndr_with_nested_alternative_and_returned_message() -> None:
    result = parse_report(parse(EXCHANGE_HARD))
    # The address is normalised as contacts' are, so their keyed hashes match.
    assert result.bounces == (Bounce("nobody@contoso.com", "5.1.10", Severity.PERMANENT),)
    assert result.original == Original(campaign_id=7, recipient_id=99, key="qwerty")


def test_several_recipients_each_by_its_own_action() -> None:
    raw = report(
        "Reporting-MTA: dns; mx.example.net\n\n"
        "Final-Recipient: rfc822; full@example.net\nAction: failed\nStatus: 5.2.2\n\n"
        "Final-Recipient: rfc822; busy@example.net\nAction: failed\nStatus: 4.2.2\n\n"
        "Final-Recipient: rfc822; late@example.net\nAction: delayed\nStatus: 4.4.7\n\n"
        "Final-Recipient: rfc822; fine@example.net\nAction: delivered\nStatus: 2.0.0\n\n"
        "Final-Recipient: rfc822; relay@example.net\nAction: relayed\nStatus: 2.0.0\n"
    )
    result = parse_report(parse(raw))
    assert result.bounces == (
        Bounce("full@example.net", "5.2.2", Severity.PERMANENT),
        Bounce("busy@example.net", "4.2.2", Severity.TEMPORARY),
        Bounce("late@example.net", "4.4.7", Severity.TEMPORARY),
    )
    assert result.unreadable == 0


def test_an_address_listed_twice_counts_once_with_the_worse_outcome() -> None:
    raw = report(
        "Final-Recipient: rfc822; twice@example.net\nAction: delayed\nStatus: 4.4.1\n\n"
        "Final-Recipient: rfc822; TWICE@example.net\nAction: failed\nStatus: 5.1.1\n\n"
        "Final-Recipient: rfc822; twice@example.net\nAction: delayed\nStatus: 4.4.1\n"
    )
    assert parse_report(parse(raw)).bounces == (
        Bounce("twice@example.net", "5.1.1", Severity.PERMANENT),
    )


def test_original_recipient_wins_over_an_alias_target() -> None:
    raw = report(
        "Final-Recipient: rfc822; someone.else@elsewhere.example\n"
        "Original-Recipient: rfc822; ours@example.net\n"
        "Action: failed\nStatus: 5.1.1\n"
    )
    assert parse_report(parse(raw)).bounces[0].address == "ours@example.net"


def test_base64_encoded_status_part() -> None:
    fields = "Final-Recipient: rfc822; encoded@example.net\nAction: failed\nStatus: 5.1.1\n"
    raw = report(
        base64.encodebytes(fields.encode()).decode(),
        headers="Content-Type: message/delivery-status\nContent-Transfer-Encoding: base64\n",
    )
    assert parse_report(parse(raw)).bounces == (
        Bounce("encoded@example.net", "5.1.1", Severity.PERMANENT),
    )


def test_global_delivery_status_with_an_internationalised_address() -> None:
    raw = report(
        "Reporting-MTA: dns; mx.example.net\n\n"
        "Final-Recipient: utf-8; p\\x{00E4}ivi@example.fi\nAction: failed\nStatus: 5.1.1\n\n"
        "Final-Recipient: rfc822; säde@example.fi\nAction: delayed\nStatus: 4.2.1\n",
        headers="Content-Type: message/global-delivery-status\n",
    )
    assert parse_report(parse(raw)).bounces == (
        Bounce("päivi@example.fi", "5.1.1", Severity.PERMANENT),
        Bounce("säde@example.fi", "4.2.1", Severity.TEMPORARY),
    )


def test_unreadable_blocks_are_counted_beside_readable_ones() -> None:
    raw = report(
        "Final-Recipient: rfc822; ok@example.net\nAction: failed\nStatus: 5.1.1\n\n"
        "Final-Recipient: x400; /C=FI/ADMD=/PRMD=/O=Example/\nAction: failed\nStatus: 5.1.1\n\n"
        "Final-Recipient: rfc822; nostatus@example.net\nAction: failed\n\n"
        "Final-Recipient: rfc822; odd@example.net\nAction: exploded\nStatus: 5.1.1\n"
    )
    result = parse_report(parse(raw))
    assert [b.address for b in result.bounces] == ["ok@example.net"]
    assert result.unreadable == 3


def test_a_message_id_that_is_not_ours_names_no_campaign() -> None:
    original = "Content-Type: text/rfc822-headers\n\nMessage-ID: <abc@other.example>\n"
    raw = report(
        "Final-Recipient: rfc822; a@example.net\nAction: failed\nStatus: 5.1.1\n",
        original=original,
    )
    assert parse_report(parse(raw)).original is None


@pytest.mark.parametrize(
    ("raw", "defect"),
    [
        (
            b"From: MAILER-DAEMON@example.net\nSubject: failure notice\n\n"
            b"Hi. This is the qmail-send program. <gone@example.net>: no mailbox here\n",
            "not a multipart/report",
        ),
        (
            report("x", headers="Content-Type: text/plain\n"),
            "no delivery-status part",
        ),
        (
            report("Reporting-MTA: dns; mx.example.net\nArrival-Date: today\n"),
            "names no recipient",
        ),
        (
            report(
                "Final-Recipient: rfc822; not an address\nAction: failed\nStatus: 5.1.1\n\n"
                "Final-Recipient: rfc822; gone@example.net\nAction: failed\nStatus: banana\n"
            ),
            "no recipient block",
        ),
        (
            report(
                "!!!not base64!!!",
                headers="Content-Type: message/delivery-status\n"
                "Content-Transfer-Encoding: base64\n",
            ),
            "not validly encoded",
        ),
    ],
)
def test_malformed_reports_are_refused_without_quoting_them(raw: bytes, defect: str) -> None:
    with pytest.raises(MalformedReport) as caught:
        parse_report(parse(raw))
    assert defect in str(caught.value)
    assert "@" not in str(caught.value)


def test_is_delivery_report_needs_the_report_type() -> None:
    assert is_delivery_report(parse(POSTFIX_HARD))
    feedback = POSTFIX_HARD.replace(b"report-type=delivery-status", b"report-type=feedback-report")
    assert not is_delivery_report(parse(feedback))


@pytest.mark.parametrize(
    ("action", "status", "expected"),
    [
        ("failed", "5.1.1", Severity.PERMANENT),
        ("failed", "4.2.2", Severity.TEMPORARY),
        ("delayed", "4.4.1", Severity.TEMPORARY),
        ("delayed", None, Severity.TEMPORARY),
        ("failed", None, None),
        ("failed", "2.0.0", None),
        ("delivered", "2.0.0", None),
    ],
)
def test_classify(action: str, status: str | None, expected: Severity | None) -> None:
    assert classify(action, status) is expected


def test_parse_blocks_unfolds_and_keeps_the_first_of_a_repeated_field() -> None:
    text = "A: 1\nLong: first\n  second\nA: 2\n\n\n\nB: 3\nnot a field\n"
    assert parse_blocks(text) == [{"a": "1", "long": "first second"}, {"b": "3"}]
