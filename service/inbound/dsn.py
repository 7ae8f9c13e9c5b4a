"""Reading delivery status notifications (RFC 3464) with the stdlib ``email`` package.

A report is ``multipart/report; report-type=delivery-status``: a text for
people, then the machine-readable part (``message/delivery-status``, or
``message/global-delivery-status`` from RFC 6533 for internationalised
addresses) made of one block of fields about the message and one block per
recipient, then optionally the original message or its headers. Only what
decides an address's fate is read: the recipient, the action and the status
code. The diagnostic text is never kept: it often quotes the address.

Nothing here raises with report content in its message, since such messages
end up in logs and reports carry email addresses.
"""

from __future__ import annotations

import base64
import binascii
import quopri
import re
from dataclasses import dataclass, field
from email.message import Message
from email.parser import HeaderParser
from email.utils import collapse_rfc2231_value
from enum import StrEnum

from service.validation import InvalidValue, normalize_email

STATUS_PARTS = frozenset({"message/delivery-status", "message/global-delivery-status"})
ORIGINAL_PARTS = frozenset(
    {"message/rfc822", "message/global", "text/rfc822-headers", "message/global-headers"}
)
# Actions that report success or a hand-over: nothing to do.
NO_ACTION = frozenset({"delivered", "relayed", "expanded"})
# Campaign mail goes to one recipient per message, so a genuine report about
# it names one; the cap bounds the work a forged report can cause.
MAX_RECIPIENTS = 100

_STATUS = re.compile(r"([245])\.(\d{1,3})\.(\d{1,3})(?!\S)")
_FIELD = re.compile(r"([!-9;-~]+)[ \t]*:(.*)")
# Message-IDs of campaign mail (service.campaigns.sending): campaign, recipient row, key.
_OUR_MESSAGE_ID = re.compile(r"<c(\d+)\.r(\d+)\.([A-Za-z0-9_-]+)@[^<>\s]+>")
_UTF8_ESCAPE = re.compile(r"\\x\{([0-9A-Fa-f]{1,6})\}")


class Severity(StrEnum):
    PERMANENT = "permanent"
    TEMPORARY = "temporary"


@dataclass(frozen=True, slots=True)
class Bounce:
    address: str  # normalised as contacts' addresses are, so their hashes match
    status: str  # the RFC 3463 code alone, e.g. "5.1.1"
    severity: Severity
    # The Diagnostic-Code, read to classify (service.delivery.bounces) and
    # never stored: it often quotes the address.
    diagnostic: str = field(default="", compare=False)
    # Action "delayed": a warning, the message is still being tried. It says
    # nothing final about the address (service.inbound.bounce_mail drops it).
    delayed: bool = field(default=False, compare=False)


@dataclass(frozen=True, slots=True)
class Original:
    """The campaign message a report returns, read from its Message-ID; the
    key is the campaign's ``message_key``, checked before the report is
    linked to the recipient row, so a guessed Message-ID links nothing."""

    campaign_id: int
    recipient_id: int
    key: str


@dataclass(frozen=True, slots=True)
class Report:
    bounces: tuple[Bounce, ...]
    # Recipient blocks not read: no usable address, action or status, or past
    # MAX_RECIPIENTS.
    unreadable: int
    # From the returned original's Message-ID, when it is one of ours.
    original: Original | None = None
    # That Message-ID as written, when it looks like one of ours.
    message_id: str | None = None


class MalformedReport(ValueError):
    """A delivery report that cannot be read; the message names the defect only."""


def is_delivery_report(message: Message) -> bool:
    return (
        message.get_content_type() == "multipart/report"
        and collapse_rfc2231_value(message.get_param("report-type", "")).strip().lower()
        == "delivery-status"
    )


def classify(action: str, status: str | None) -> Severity | None:
    """What a recipient block means for the address; None when it asks for
    nothing (delivered, relayed, expanded) or makes no sense."""
    if action == "delayed":
        return Severity.TEMPORARY
    if action == "failed" and status is not None:
        return {"5": Severity.PERMANENT, "4": Severity.TEMPORARY}.get(status[0])
    return None


def parse_report(message: Message) -> Report:
    if not is_delivery_report(message):
        raise MalformedReport("not a multipart/report of type delivery-status")
    parts = _subparts(message)
    status_part = next((p for p in parts if p.get_content_type() in STATUS_PARTS), None)
    if status_part is None:
        raise MalformedReport("the report has no delivery-status part")
    blocks = [b for b in parse_blocks(_status_text(status_part)) if _recipient_field(b)]
    if not blocks:
        raise MalformedReport("the delivery-status part names no recipient")
    found: dict[str, Bounce] = {}
    unreadable = max(0, len(blocks) - MAX_RECIPIENTS)
    for block in blocks[:MAX_RECIPIENTS]:
        action = block.get("action", "").strip().lower()
        if action in NO_ACTION:
            continue
        bounce = _bounce(block, action)
        if bounce is None:
            unreadable += 1
            continue
        # One report may list an address twice; the worse outcome counts, once.
        known = found.get(bounce.address)
        if (
            known is None
            or known.delayed
            or (known.severity is Severity.TEMPORARY and not bounce.delayed)
        ):
            found[bounce.address] = bounce
    if unreadable == len(blocks):
        raise MalformedReport("no recipient block of the report could be read")
    message_id = _original_message_id(parts)
    return Report(tuple(found.values()), unreadable, our_message(message_id), message_id)


def _bounce(block: dict[str, str], action: str) -> Bounce | None:
    match = _STATUS.match(block.get("status", "").strip())
    status = ".".join(match.groups()) if match else None
    severity = classify(action, status)
    address = _address(_recipient_field(block))
    if severity is None or address is None:
        return None
    # RFC 3464 requires a Status; a "delayed" without one is still temporary.
    return Bounce(
        address=address,
        status=status or "4.0.0",
        severity=severity,
        diagnostic=block.get("diagnostic-code", "")[:1000],
        delayed=action == "delayed",
    )


def _recipient_field(block: dict[str, str]) -> str:
    # Original-Recipient, when the reporting MTA gives it, is the address we
    # sent to; Final-Recipient may be what an alias expanded it into, which no
    # contact of ours has.
    original = block.get("original-recipient", "")
    if _address(original) is not None:
        return original
    return block.get("final-recipient", "")


def _address(field: str) -> str | None:
    """``rfc822; user@example.fi`` (or RFC 6533's ``utf-8; …``) → the normalised address."""
    kind, separator, raw = field.partition(";")
    if not separator or kind.strip().lower() not in ("rfc822", "utf-8"):
        return None
    raw = _UTF8_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), raw.strip().strip("<>"))
    try:
        return normalize_email(raw)
    except (InvalidValue, ValueError):
        return None


def parse_blocks(text: str) -> list[dict[str, str]]:
    """Split ``Name: value`` lines into blank-line separated blocks, names lower-cased
    and continuation lines unfolded."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last: str | None = None
    for line in text.splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
            current, last = {}, None
        elif line[0] in " \t" and last is not None:
            current[last] += " " + line.strip()
        elif match := _FIELD.match(line):
            last = match.group(1).lower()
            # The first occurrence wins, as for a message's own header fields.
            current.setdefault(last, match.group(2).strip())
    if current:
        blocks.append(current)
    return blocks


def _status_text(part: Message) -> str:
    """The delivery-status part's body as text, whatever the parser made of it.

    ``email`` splits ``message/delivery-status`` into header-only sub-messages
    and takes ``message/global-delivery-status`` for one message with a body;
    both are joined back into blocks here, as bytes, since ``get_payload()``
    without ``decode`` turns 8-bit text into replacement characters. A
    transfer encoding (Exchange sends base64 now and then) is undone after
    that, because the parser never decodes a ``message/*`` body itself.
    """
    if not isinstance(part.get_payload(), list):
        body = part.get_payload(decode=True)
        return body.decode("utf-8", "replace") if isinstance(body, bytes) else ""
    raw = b"\n\n".join(_raw_message(sub) for sub in _subparts(part))
    encoding = str(part.get("content-transfer-encoding", "")).strip().lower()
    try:
        if encoding == "base64":
            raw = base64.b64decode(b"".join(raw.split()), validate=True)
        elif encoding == "quoted-printable":
            raw = quopri.decodestring(raw)
    except (binascii.Error, ValueError):
        raise MalformedReport("the delivery-status part is not validly encoded") from None
    return raw.decode("utf-8", "replace")


def _subparts(part: Message) -> list[Message]:
    payload = part.get_payload()
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def _raw_message(message: Message) -> bytes:
    # Header values hold undecodable bytes as surrogate escapes; this restores them.
    header = "\n".join(f"{name}: {value}" for name, value in message.raw_items())
    raw = header.encode("utf-8", "surrogateescape")
    body = None if message.is_multipart() else message.get_payload(decode=True)
    return raw + (b"\n\n" + body if isinstance(body, bytes) and body.strip() else b"")


def _original_message_id(parts: list[Message]) -> str | None:
    """The returned original's Message-ID when it looks like one of ours."""
    original = next((p for p in parts if p.get_content_type() in ORIGINAL_PARTS), None)
    if original is None:
        return None
    payload = original.get_payload()
    if isinstance(payload, list):
        inner = _subparts(original)
        message_id = inner[0].get("message-id", "") if inner else ""
    elif isinstance(payload, str):
        message_id = HeaderParser().parsestr(payload).get("message-id", "")
    else:
        return None
    match = _OUR_MESSAGE_ID.search(str(message_id))
    return None if match is None else match.group()


def our_message(message_id: str | None) -> Original | None:
    """What a Message-ID of ours names (campaign, send-list row, tag); None
    when it is not in our shape. Whether the tag is genuine is checked
    against the campaign's key later (service.inbound.service)."""
    match = _OUR_MESSAGE_ID.search(message_id or "")
    if match is None:
        return None
    return Original(int(match.group(1)), int(match.group(2)), match.group(3))
