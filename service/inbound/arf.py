"""Reading abuse feedback reports (ARF, RFC 5965) with the stdlib ``email`` package.

A mailbox provider's feedback loop (Yahoo, AOL, Microsoft JMRP, the
Return Path / Validity FBLs, an abuse desk) tells the sender that a
recipient pressed "this is spam". The report is ``multipart/report;
report-type=feedback-report``: a text for people, a ``message/feedback-report``
part of ``Name: value`` fields (``Feedback-Type``, ``User-Agent``,
``Version``, ``Original-Mail-From``, ``Original-Rcpt-To``, ``Arrival-Date``,
``Reported-Domain``, ``Source-IP``, …), then the original as
``message/rfc822`` or only its headers as ``text/rfc822-headers``.
Two shapes seen in the wild are read too: a ``multipart/report`` whose
``report-type`` parameter is missing (some Return Path FBLs), and Hotmail's
older JMRP mail, ``multipart/mixed`` from ``staff@hotmail.com`` holding only
the original (tests/fixtures/arf/README.md cites each).

Providers redact the recipient (Yahoo, AOL and JMRP strip ``To`` and
``Original-Rcpt-To`` or replace them), so what identifies the person is a
message of ours: the original's Message-ID or, when that is redacted too,
the VERP return path (the one the report was delivered to, or the one
``Original-Mail-From`` quotes, kept here as ``verp``). Both name the
campaign and the send-list row with a keyed tag (service.inbound.complaints
checks it). The address a report names is kept only as information.

Only ``abuse`` and ``fraud`` are complaints. ``not-spam``, ``virus``,
``auth-failure`` (DMARC forensic reports), ``opt-out`` and ``other`` say
something else and change nothing.

Nothing here raises with report content in its message: such messages end
up in logs, and reports carry addresses.
"""

from __future__ import annotations

import base64
import binascii
import quopri
import re
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from email.utils import collapse_rfc2231_value, getaddresses

from service.inbound.events import DeliveryEvent, EventKind, Source
from service.validation import InvalidValue, normalize_email

FEEDBACK_PART = "message/feedback-report"
ORIGINAL_PARTS = frozenset(
    {
        "message/rfc822",
        "message/global",
        "text/rfc822-headers",
        "message/global-headers",
        # Misspelt so by some reporters (sisimai's arf-12).
        "text/rfc822-header",
    }
)
COMPLAINT_TYPES = frozenset({"abuse", "fraud"})
# The registered types (RFC 5965, RFC 6650, RFC 6591) and the old opt-out;
# anything else is logged as "another type", never quoted.
KNOWN_TYPES = COMPLAINT_TYPES | {"not-spam", "virus", "other", "auth-failure", "opt-out"}
# A report names one original; past these bounds it is not a report but an attack.
MAX_PARTS = 20
MAX_FIELDS_BYTES = 64 * 1024
MAX_FIELD_LINES = 500
_LEGACY_JMRP_FROM = re.compile(r"(?:^|[<\s])staff@hotmail\.com>?\s*$", re.IGNORECASE)
_LEGACY_JMRP_SUBJECT = re.compile(r"complaint about message from", re.IGNORECASE)
_FIELD = re.compile(r"([!-9;-~]+)[ \t]*:(.*)")
_MESSAGE_ID = re.compile(r"<[^<>\s]{1,250}>")


class MalformedFeedback(ValueError):
    """A feedback report that cannot be read; the message names the defect only."""


@dataclass(frozen=True, slots=True)
class Feedback:
    """What a feedback report says, as far as it matters here."""

    feedback_type: str  # lower-cased, e.g. "abuse"
    # The recipient the report names (Original-Rcpt-To, JMRP's
    # X-HmXmrOriginalRecipient, or the original's To), normalised; None when
    # redacted, missing, unreadable or more than one.
    address: str | None
    # The original's Message-ID, angle brackets included; None when redacted.
    message_id: str | None
    # The part after "+" in Original-Mail-From's local part (a VERP token), if any.
    verp: str | None

    @property
    def is_complaint(self) -> bool:
        return self.feedback_type in COMPLAINT_TYPES

    @property
    def type_for_log(self) -> str:
        return self.feedback_type if self.feedback_type in KNOWN_TYPES else "another type"


def is_feedback_report(message: Message) -> bool:
    """Whether the message is shaped as a feedback report (not yet whether it reads)."""
    content_type = message.get_content_type()
    if content_type == "multipart/report":
        report_type = collapse_rfc2231_value(message.get_param("report-type", "")).strip().lower()
        if report_type == "feedback-report":
            return True
        # Some FBLs leave the parameter out; the feedback part says what it is.
        return not report_type and any(
            p.get_content_type() == FEEDBACK_PART for p in _subparts(message)
        )
    return content_type == "multipart/mixed" and _is_legacy_jmrp(message)


def parse_feedback(message: Message) -> Feedback:
    if not is_feedback_report(message):
        raise MalformedFeedback("not a feedback report")
    parts = _subparts(message)
    if len(parts) > MAX_PARTS:
        raise MalformedFeedback("the report has too many parts")
    original = next((p for p in parts if p.get_content_type() in ORIGINAL_PARTS), None)
    original_headers = _original_headers(original) if original is not None else {}
    if message.get_content_type() == "multipart/mixed":
        # Hotmail's JMRP before ARF: every such mail is a spam complaint.
        fields: dict[str, list[str]] = {"feedback-type": ["abuse"]}
        recipients = original_headers.get("x-hmxmroriginalrecipient", [])
    else:
        feedback_part = next((p for p in parts if p.get_content_type() == FEEDBACK_PART), None)
        if feedback_part is None:
            raise MalformedFeedback("the report has no feedback-report part")
        fields = parse_fields(_part_text(feedback_part))
        recipients = fields.get("original-rcpt-to", [])
    feedback_type = (fields.get("feedback-type") or [""])[0].strip().lower()
    if not feedback_type:
        raise MalformedFeedback("the report has no Feedback-Type")
    if not recipients:
        recipients = original_headers.get("to", [])
    return Feedback(
        feedback_type=feedback_type,
        address=_one_address(recipients),
        message_id=_message_id(original_headers.get("message-id", [])),
        verp=_verp((fields.get("original-mail-from") or [""])[0]),
    )


def complaint_event(feedback: Feedback) -> DeliveryEvent | None:
    """The report as a complaint event; None when its type is no complaint."""
    if not feedback.is_complaint:
        return None
    return DeliveryEvent(
        kind=EventKind.COMPLAINT,
        source=Source.ARF,
        address=feedback.address or "",
        message_id=feedback.message_id,
        verp=feedback.verp,
        # Anyone can send a report naming anyone: only a Message-ID or VERP
        # token of ours counts (service.inbound.complaints.match_original).
        trusted=False,
    )


def parse_fields(text: str) -> dict[str, list[str]]:
    """``Name: value`` lines, names lower-cased, continuation lines unfolded,
    every occurrence kept (a report may list several Original-Rcpt-To)."""
    fields: dict[str, list[str]] = {}
    last: str | None = None
    for line in text.splitlines()[:MAX_FIELD_LINES]:
        if not line.strip():
            # The fields are one block; what follows a blank line is not theirs.
            if fields:
                break
            continue
        if line[0] in " \t" and last is not None:
            fields[last][-1] += " " + line.strip()
        elif match := _FIELD.match(line):
            last = match.group(1).lower()
            fields.setdefault(last, []).append(match.group(2).strip())
    return fields


def _is_legacy_jmrp(message: Message) -> bool:
    sender = _raw(message, "from")
    subject = _raw(message, "subject")
    return bool(
        sender
        and _LEGACY_JMRP_FROM.search(sender[0])
        and subject
        and _LEGACY_JMRP_SUBJECT.search(subject[0])
        and any(p.get_content_type() in ORIGINAL_PARTS for p in _subparts(message))
    )


def _subparts(part: Message) -> list[Message]:
    payload = part.get_payload()
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def _raw(message: Message, name: str) -> list[str]:
    """Every value of a header field as sent, unfolded; never parsed, so a
    malformed value cannot raise."""
    return [
        re.sub(r"\r?\n[ \t]*", " ", str(value)).strip()
        for key, value in message.raw_items()
        if key.lower() == name
    ]


def _part_text(part: Message) -> str:
    """The feedback part's fields as text, whatever the parser made of it.

    ``email`` takes a ``message/*`` body for a message of its own, whose
    header fields are the report's fields; it never undoes a transfer
    encoding there, so a base64 or quoted-printable part (rare, but sent)
    is joined back and decoded here."""
    payload = part.get_payload()
    if isinstance(payload, list):
        inner = _subparts(part)
        if not inner:
            return ""
        head = "\n".join(f"{name}: {value}" for name, value in inner[0].raw_items())
        body = inner[0].get_payload()
        text = head + ("\n\n" + body if isinstance(body, str) and body.strip() else "")
        raw = text.encode("utf-8", "surrogateescape")
    else:
        body = part.get_payload(decode=True)
        raw = body if isinstance(body, bytes) else b""
    if len(raw) > MAX_FIELDS_BYTES:
        raise MalformedFeedback("the feedback-report part is too large")
    encoding = str(part.get("content-transfer-encoding", "")).strip().lower()
    try:
        if isinstance(payload, list) and encoding == "base64":
            raw = base64.b64decode(b"".join(raw.split()), validate=True)
        elif isinstance(payload, list) and encoding == "quoted-printable":
            raw = quopri.decodestring(raw)
    except (binascii.Error, ValueError):
        raise MalformedFeedback("the feedback-report part is not validly encoded") from None
    return raw.decode("utf-8", "replace")


def _original_headers(part: Message) -> dict[str, list[str]]:
    """The original's header fields that are read: Message-ID, To and JMRP's recipient."""
    payload = part.get_payload()
    if isinstance(payload, list):
        inner = _subparts(part)
        if not inner:
            return {}
        original = inner[0]
    elif isinstance(payload, str):
        original = HeaderParser().parsestr(payload[:MAX_FIELDS_BYTES], headersonly=True)
    else:
        return {}
    return {
        name: values
        for name in ("message-id", "to", "x-hmxmroriginalrecipient")
        if (values := _raw(original, name))
    }


def _message_id(values: list[str]) -> str | None:
    if len(values) != 1:
        return None
    match = _MESSAGE_ID.search(values[0])
    return match.group(0) if match else None


def _one_address(values: list[str]) -> str | None:
    addresses = [raw for _, raw in getaddresses(values[:10]) if raw]
    if len(addresses) != 1:
        return None
    try:
        return normalize_email(addresses[0].strip("<>"))
    except (InvalidValue, ValueError):
        return None


def _verp(original_mail_from: str) -> str | None:
    address = original_mail_from.strip().strip("<>").strip()
    local, at, _ = address.rpartition("@")
    if not at or "+" not in local:
        return None
    token = local.split("+", 1)[1]
    return token or None
