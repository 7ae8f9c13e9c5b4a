"""The ARF (RFC 5965) parser, on reports written in the shapes Yahoo, AOL,
Microsoft JMRP, Return Path and an abuse desk send (tests/fixtures/arf), and
on broken and hostile ones."""

from __future__ import annotations

import base64
import email
import email.policy
from email.message import Message
from pathlib import Path

import pytest

from service.inbound.arf import (
    Feedback,
    MalformedFeedback,
    complaint_event,
    is_feedback_report,
    parse_feedback,
    parse_fields,
)
from service.inbound.dsn import is_delivery_report
from service.inbound.events import EventKind, Source

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "arf"
OURS = "<c12.r345.0123456789abcdef0123@example.com>"
RECIPIENT = "kaisa@example.net"


def fixture(name: str, message_id: str = OURS, recipient: str = RECIPIENT) -> bytes:
    text = (FIXTURES / name).read_text()
    return text.replace("{{message_id}}", message_id).replace("{{recipient}}", recipient).encode()


def parse(raw: bytes) -> Message:
    return email.message_from_bytes(raw, policy=email.policy.default)


@pytest.mark.parametrize(
    ("name", "address"),
    [
        ("yahoo.eml", None),
        # AOL replaces the recipient with "redacted@aol.com": read, and matches no one.
        ("aol.eml", "redacted@aol.com"),
        ("microsoft-jmrp.eml", None),
        ("generic-abuse.eml", RECIPIENT),
        ("returnpath-no-report-type.eml", None),
    ],
)
def test_each_provider_shape_reads_as_an_abuse_complaint(name: str, address: str | None) -> None:
    message = parse(fixture(name))
    assert is_feedback_report(message)
    assert not is_delivery_report(message)
    feedback = parse_feedback(message)
    assert feedback == Feedback(feedback_type="abuse", address=address, message_id=OURS, verp=None)
    event = complaint_event(feedback)
    assert event is not None
    assert (event.kind, event.source, event.message_id, event.trusted) == (
        EventKind.COMPLAINT,
        Source.ARF,
        OURS,
        False,
    )
    assert event.address == (address or "")


@pytest.mark.parametrize("kind", ["not-spam", "virus", "other", "auth-failure", "opt-out"])
def test_other_feedback_types_are_no_complaint(kind: str) -> None:
    raw = fixture("generic-abuse.eml").replace(
        b"Feedback-Type: abuse", f"Feedback-Type: {kind}".encode()
    )
    feedback = parse_feedback(parse(raw))
    assert feedback.feedback_type == kind
    assert not feedback.is_complaint
    assert complaint_event(feedback) is None


def test_fraud_is_a_complaint_and_case_does_not_matter() -> None:
    raw = fixture("yahoo.eml").replace(b"Feedback-Type: abuse", b"feedback-type:   FRAUD")
    event = complaint_event(parse_feedback(parse(raw)))
    assert event is not None and event.kind is EventKind.COMPLAINT


def test_an_unknown_type_is_logged_without_quoting_it() -> None:
    raw = fixture("yahoo.eml").replace(
        b"Feedback-Type: abuse", b"Feedback-Type: x-evil@example.net"
    )
    feedback = parse_feedback(parse(raw))
    assert not feedback.is_complaint
    assert feedback.type_for_log == "another type"


def test_a_verp_return_path_is_kept_as_a_token() -> None:
    raw = fixture("generic-abuse.eml").replace(
        b"Original-Mail-From: <news@example.com>",
        b"Original-Mail-From: <bounces+c12.r345.tok@example.com>",
    )
    assert parse_feedback(parse(raw)).verp == "c12.r345.tok"


def test_several_recipients_name_no_one() -> None:
    raw = fixture("generic-abuse.eml").replace(
        b"Original-Rcpt-To: <kaisa@example.net>",
        b"Original-Rcpt-To: kaisa@example.net\nOriginal-Rcpt-To: other@example.net",
    )
    assert parse_feedback(parse(raw)).address is None


def test_a_foreign_message_id_is_read_as_it_is() -> None:
    foreign = "<0000000000fffffffff0000000000000@example.org>"
    assert parse_feedback(parse(fixture("aol.eml", foreign))).message_id == foreign


def test_a_missing_or_doubled_message_id_is_none() -> None:
    missing = fixture("yahoo.eml").replace(f"Message-ID: {OURS}\n".encode(), b"")
    assert parse_feedback(parse(missing)).message_id is None
    doubled = fixture("yahoo.eml").replace(
        f"Message-ID: {OURS}\n".encode(),
        f"Message-ID: {OURS}\nMessage-ID: <c1.r1.x@example.com>\n".encode(),
    )
    assert parse_feedback(parse(doubled)).message_id is None
    # A redacted original ("REDACTED" instead of headers) has none either.
    redacted = fixture("generic-abuse.eml").split(b"Content-Type: text/rfc822-headers")[0]
    redacted += b"Content-Type: message/rfc822\n\nREDACTED\n\n--part1_13d.2e68ed54_boundary--\n"
    assert parse_feedback(parse(redacted)).message_id is None


def test_a_base64_feedback_part_is_read() -> None:
    fields = b"Feedback-Type: abuse\r\nUser-Agent: X/1\r\nVersion: 1\r\n"
    raw = (
        b'Content-Type: multipart/report; report-type=feedback-report; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: text/plain\r\n\r\nreport\r\n"
        b"--B\r\nContent-Type: message/feedback-report\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.b64encode(fields)
        + b"\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: "
        + OURS.encode()
        + b"\r\n\r\n--B--\r\n"
    )
    feedback = parse_feedback(parse(raw))
    assert (feedback.feedback_type, feedback.message_id) == ("abuse", OURS)


def _report(feedback_part: bytes, original: bytes = b"") -> bytes:
    return (
        b'Content-Type: multipart/report; report-type=feedback-report; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: text/plain\r\n\r\nreport\r\n"
        + feedback_part
        + original
        + b"--B--\r\n"
    )


HOSTILE = [
    (_report(b""), "no feedback-report part"),
    (
        _report(b"--B\r\nContent-Type: message/feedback-report\r\n\r\nUser-Agent: X\r\n\r\n"),
        "no Feedback-Type",
    ),
    (
        _report(
            b"--B\r\nContent-Type: message/feedback-report\r\n\r\n"
            + b"X-Padding: "
            + b"a" * 70_000
            + b"\r\nFeedback-Type: abuse\r\n\r\n"
        ),
        "too large",
    ),
    (
        b'Content-Type: multipart/report; report-type=feedback-report; boundary="B"\r\n\r\n'
        + b"--B\r\nContent-Type: text/plain\r\n\r\nx\r\n" * 30
        + b"--B--\r\n",
        "too many parts",
    ),
    (b"Subject: hello\r\n\r\nnot a report\r\n", "not a feedback report"),
]


@pytest.mark.parametrize(("raw", "defect"), HOSTILE)
def test_broken_reports_are_refused_naming_only_the_defect(raw: bytes, defect: str) -> None:
    with pytest.raises(MalformedFeedback) as refused:
        parse_feedback(parse(raw))
    assert defect in str(refused.value)


def test_nested_reports_read_only_the_outer_one() -> None:
    """A report whose original is itself a report (and so on, deeply) is read
    as one report about the outer original; nothing inside is followed."""
    inner = fixture("generic-abuse.eml")
    for depth in range(40):
        n = f"N{depth}".encode()
        inner = (
            b'Content-Type: multipart/report; report-type=feedback-report; boundary="'
            + n
            + b'"\r\n\r\n--'
            + n
            + b"\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: not-spam\r\n\r\n--"
            + n
            + b"\r\nContent-Type: message/rfc822\r\n\r\n"
            + inner
            + b"\r\n--"
            + n
            + b"--\r\n"
        )
    feedback = parse_feedback(parse(inner))
    assert feedback.feedback_type == "not-spam"
    assert feedback.message_id is None


def test_garbage_bytes_and_bad_encodings_are_read_around() -> None:
    """Damage in one field costs that field only: the Message-ID still finds
    the message, and a type that is no longer "abuse" is no complaint."""
    damaged_type = fixture("yahoo.eml").replace(
        b"Feedback-Type: abuse", b"Feedback-Type: abuse\xff\xfe"
    )
    feedback = parse_feedback(parse(damaged_type))
    assert (feedback.message_id, feedback.is_complaint) == (OURS, False)
    for raw in (
        fixture("aol.eml").replace(b"To: redacted@aol.com", b"To: =?utf-8?b?!!!?= <@@@>"),
        fixture("microsoft-jmrp.eml").replace(
            b"X-HmXmrOriginalRecipient: <redacted>", b"X-HmXmrOriginalRecipient: \x00\x01"
        ),
        fixture("generic-abuse.eml").replace(
            b"Original-Rcpt-To: <kaisa@example.net>", b'Original-Rcpt-To: "unclosed <x'
        ),
    ):
        feedback = parse_feedback(parse(raw))
        assert (feedback.feedback_type, feedback.address, feedback.message_id) == (
            "abuse",
            None,
            OURS,
        )


def test_the_old_jmrp_form_needs_its_sender_subject_and_original() -> None:
    jmrp = fixture("microsoft-jmrp.eml")
    assert is_feedback_report(parse(jmrp))
    assert not is_feedback_report(
        parse(jmrp.replace(b"From: staff@hotmail.com", b"From: someone@example.net"))
    )
    assert not is_feedback_report(
        parse(jmrp.replace(b"complaint about message from", b"hello from"))
    )
    assert not is_feedback_report(
        parse(jmrp.replace(b"From: staff@hotmail.com", b"From: evilstaff@hotmail.com"))
    )
    assert is_feedback_report(
        parse(jmrp.replace(b"From: staff@hotmail.com", b"From: Staff <STAFF@hotmail.com>"))
    )


def test_parse_fields_keeps_every_occurrence_and_unfolds() -> None:
    fields = parse_fields(
        "Feedback-Type: abuse\nOriginal-Rcpt-To: a@example.net\nOriginal-Rcpt-To: b@example.net\n"
        "Authentication-Results: mail.example.net;\n  spf=pass\n\nFeedback-Type: not-spam\n"
    )
    assert fields == {
        "feedback-type": ["abuse"],
        "original-rcpt-to": ["a@example.net", "b@example.net"],
        "authentication-results": ["mail.example.net; spf=pass"],
    }
