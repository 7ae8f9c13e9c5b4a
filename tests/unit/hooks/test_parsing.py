"""Each provider's events read into ``DeliveryEvent``s: the address
normalised, our Message-ID found, the status and permanence as the provider
says, the provider's event id for de-duplication, and ``trusted`` set."""

from __future__ import annotations

import json

import pytest

from service.hooks import checks, mailgun, postmark, sendgrid, ses
from service.hooks.checks import Malformed
from service.inbound.events import DeliveryEvent, EventKind, Source
from tests.support.hooks import (
    mailgun_failure,
    postmark_bounce,
    sendgrid_event,
    ses_bounce,
    ses_complaint,
)

OURS = "<c1.r2.tag@example.fi>"


def test_ses_bounce_one_event_per_recipient() -> None:
    found = ses.parse(ses_bounce("Maija@Example.fi", "matti@example.fi"), "sns-id")
    assert [e.address for e in found] == ["maija@example.fi", "matti@example.fi"]
    first = found[0]
    assert first == DeliveryEvent(
        kind=EventKind.BOUNCE,
        source=Source.SES,
        address="maija@example.fi",
        status="5.1.1",
        permanent=True,
        diagnostic=first.diagnostic,
        message_id=OURS,
        provider_event_id=first.provider_event_id,
        trusted=True,
    )
    assert "General" in first.diagnostic
    assert len({e.provider_event_id for e in found}) == 2


def test_ses_transient_and_the_message_id_from_the_common_headers() -> None:
    event = json.loads(ses_bounce("maija@example.fi", bounce_type="Transient", status="4.2.2"))
    del event["mail"]["headers"]
    event["mail"]["commonHeaders"]["messageId"] = "c9.r9.x@example.fi"
    (found,) = ses.parse(json.dumps(event), "sns-id")
    assert (found.permanent, found.status, found.message_id) == (
        False,
        "4.2.2",
        "<c9.r9.x@example.fi>",
    )


def test_ses_event_publishing_and_complaints() -> None:
    event = json.loads(ses_complaint("maija@example.fi"))
    event["eventType"] = event.pop("notificationType")
    (found,) = ses.parse(json.dumps(event), "sns-id")
    assert (found.kind, found.address, found.trusted) == (
        EventKind.COMPLAINT,
        "maija@example.fi",
        True,
    )
    assert ses.parse(ses_complaint("maija@example.fi", feedback_type="not-spam"), "x") == []


@pytest.mark.parametrize(
    ("bounce_type", "sub_type", "status"),
    [
        ("Permanent", "NoEmail", "5.1.1"),
        ("Transient", "MailboxFull", "4.2.2"),
        ("Transient", "ContentRejected", "5.7.1"),
        ("Permanent", "General", None),
    ],
)
def test_ses_sub_type_gives_the_status_a_recipient_lacks(
    bounce_type: str, sub_type: str, status: str | None
) -> None:
    event = json.loads(ses_bounce("maija@example.fi", bounce_type=bounce_type))
    event["bounce"]["bounceSubType"] = sub_type
    recipient = event["bounce"]["bouncedRecipients"][0]
    del recipient["status"]
    recipient["diagnosticCode"] = "smtp; 550 rejected"
    (found,) = ses.parse(json.dumps(event), "sns-id")
    assert found.status == status


def test_ses_without_a_feedback_id_uses_the_sns_message_id() -> None:
    event = json.loads(ses_bounce("maija@example.fi"))
    del event["bounce"]["feedbackId"]
    (found,) = ses.parse(json.dumps(event), "sns-message-1")
    assert found.provider_event_id == "sns-message-1:0"


@pytest.mark.parametrize("message", ["plain text", "[]", "null", '"x"'])
def test_ses_message_that_is_no_event(message: str) -> None:
    with pytest.raises(Malformed):
        ses.parse(message, "x")


def test_sendgrid_events() -> None:
    body = json.dumps(
        [
            sendgrid_event("maija@example.fi", type="blocked", status="4.7.1", reason="try later"),
            sendgrid_event("matti@example.fi", "dropped", reason="Bounced Address"),
            sendgrid_event("liisa@example.fi", "spamreport"),
            sendgrid_event("pekka@example.fi", "deferred", response="451 4.4.1 later"),
        ]
    ).encode()
    blocked, dropped, complaint = sendgrid.parse(body)
    assert (blocked.kind, blocked.permanent, blocked.status, blocked.message_id) == (
        EventKind.BOUNCE,
        False,
        "4.7.1",
        OURS,
    )
    # SendGrid drops mail to an address that bounced before: a bad address.
    assert (dropped.kind, dropped.permanent, dropped.status) == (EventKind.BOUNCE, True, "5.1.1")
    assert complaint.kind is EventKind.COMPLAINT
    assert all(e.source is Source.SENDGRID and e.trusted for e in (blocked, dropped, complaint))
    assert blocked.provider_event_id is not None


def test_postmark_records() -> None:
    (hard,) = postmark.parse(json.dumps(postmark_bounce("maija@example.fi")).encode())
    assert (hard.kind, hard.permanent, hard.status, hard.message_id) == (
        EventKind.BOUNCE,
        True,
        "5.1.1",
        OURS,
    )
    record = postmark_bounce("maija@example.fi", "SoftBounce", Metadata={})
    record["Headers"] = [{"Name": "Message-ID", "Value": "<c3.r4.y@example.fi>"}]
    (soft,) = postmark.parse(json.dumps(record).encode())
    assert (soft.permanent, soft.message_id) == (False, "<c3.r4.y@example.fi>")
    quiet = postmark_bounce("maija@example.fi", "Blocked", Details="", Description="")
    (blocked,) = postmark.parse(json.dumps(quiet).encode())
    assert (blocked.permanent, blocked.status) == (False, "5.7.1")  # a block, by its type
    by_hand = postmark_bounce("maija@example.fi", "ManuallyDeactivated")
    assert postmark.parse(json.dumps(by_hand).encode()) == []
    no_ours = postmark_bounce("maija@example.fi", Metadata=None)
    (found,) = postmark.parse(json.dumps(no_ours).encode())
    assert found.message_id is None  # Postmark's own MessageID is not ours


def test_mailgun_events() -> None:
    (failed,) = mailgun.parse(mailgun_failure("maija@example.fi"))
    assert (failed.kind, failed.permanent, failed.status, failed.message_id) == (
        EventKind.BOUNCE,
        True,
        "5.1.1",
        OURS,  # Mailgun writes it without the angle brackets
    )
    temporary = mailgun_failure("maija@example.fi", severity="temporary", code="")
    (soft,) = mailgun.parse(temporary)
    assert (soft.permanent, soft.status) == (False, None)


@pytest.mark.parametrize(
    ("texts", "status"),
    [
        (("smtp; 550 5.1.1 <a@b.fi>: no such user",), "5.1.1"),
        (("452 4.2.2 mailbox full",), "4.2.2"),
        (("version 1.5.1.2 of something",), None),
        (("550 user unknown", "5.7.606 banned"), "5.7.606"),
        ((None, 5, ["5.1.1"]), None),
    ],
)
def test_status_in(texts: tuple[object, ...], status: str | None) -> None:
    assert checks.status_in(*texts) == status


def test_long_event_ids_are_hashed_to_fit() -> None:
    assert checks.event_id("a", "1") == "a:1"
    long = checks.event_id("x" * 300)
    assert long.startswith("sha256:") and len(long) <= checks.MAX_EVENT_ID
