"""Bounce mail of every kind, read into ``DeliveryEvent``s.

RFC 3464 delivery reports are read by service.inbound.dsn. Everything else
that mail servers send back (Exim's "This message was created automatically
by mail delivery software" with ``X-Failed-Recipients``, Exchange 2003's
"did not reach the following recipient(s)", qmail's "Hi. This is the
qmail-send program", Gmail's "Delivery Status Notification (Failure)", and
plain-text notices) is read with flufl.bounce, Mailman's bounce library,
which knows which addresses failed and whether for good. The reason is read
from the notice's human part (the text before the returned copy), since
that is where those formats put the remote server's answer.

The VERP return path a bounce was sent to names the message whatever the
report says: when nothing in the mail can be read but the text still reads
as a bounce (a status code or a reason the rule knows), one event about
the row's contact is made. A vacation reply to the return path names no
reason and makes none, and neither does a delay warning (a DSN's action
"delayed", flufl.bounce's temporary failures): the message is still being
tried, and only its final failure may count against the address.

Nothing here raises with report content, and nothing is logged but the
kind of mail.
"""

from __future__ import annotations

import logging
import re
from email.message import Message
from typing import Final

from flufl.bounce import all_failures

from service.delivery.bounces import reason, status_of
from service.inbound.dsn import (
    MAX_RECIPIENTS,
    MalformedReport,
    Severity,
    is_delivery_report,
    parse_report,
)
from service.inbound.events import DeliveryEvent, EventKind, Source
from service.validation import InvalidValue, normalize_email

log = logging.getLogger("service.inbound")
# flufl.bounce logs each detector at INFO and a detector's exception with its
# traceback, whose message may quote the mail (addresses). Its failures are
# handled here, without the text.
logging.getLogger("flufl.bounce").setLevel(logging.CRITICAL)

# Enough for any notice's own words; the rest is the returned original.
_TEXT_LIMIT: Final = 16_000
# Where the notices' own words end and the returned copy begins.
_COPY_MARKERS: Final = re.compile(
    r"^-*\s*(?:This is a copy of the message|Below this line is a copy of the message"
    r"|Original message|Original message follows|Your message reads)",
    re.IGNORECASE | re.MULTILINE,
)
_OUR_MESSAGE_ID: Final = re.compile(r"<c\d+\.r\d+\.[A-Za-z0-9_-]+@[^<>\s]+>")
# Gmail's current notice ("** Address not found **"), which flufl.bounce
# predates: "Your message wasn't delivered to x@example.net because …".
_GMAIL: Final = re.compile(r"wasn['\u2019]t delivered to <?([^\s<>]+@[^\s<>]+?)>? because")


def read_bounce(message: Message, verp_token: str | None) -> tuple[DeliveryEvent, ...]:
    """The bounces a mail to the bounce address reports; () when it is none."""
    if is_delivery_report(message):
        try:
            report = parse_report(message)
        except MalformedReport as exc:
            log.info("inbound: a malformed delivery report: %s", exc)
        else:
            if any(bounce.delayed for bounce in report.bounces):
                # A delay warning: the message is still being tried, so it
                # says nothing about the address yet; the final report will.
                log.info("inbound: a delay warning changes nothing")
            return tuple(
                DeliveryEvent(
                    kind=EventKind.BOUNCE,
                    source=Source.DSN,
                    address=bounce.address,
                    status=bounce.status,
                    permanent=bounce.severity is Severity.PERMANENT,
                    diagnostic=bounce.diagnostic,
                    message_id=report.message_id,
                    verp=verp_token,
                )
                for bounce in report.bounces
                if not bounce.delayed
            )
    return _other_bounce(message, verp_token)


def _other_bounce(message: Message, verp_token: str | None) -> tuple[DeliveryEvent, ...]:
    text = human_text(message)
    status = status_of(text)
    message_id = _message_id(message)
    try:
        temporary, permanent = all_failures(message)
    except Exception:
        # A detector choking on odd input: the mail is still read by VERP.
        log.info("inbound: the bounce library could not read a mail")
        temporary, permanent = frozenset(), frozenset()
    # flufl.bounce's temporary failures are delay warnings (the message is
    # still being tried): like a DSN's "delayed", they change nothing.
    failed: list[tuple[bytes | str, bool]] = [(a, True) for a in sorted(permanent)]
    if temporary and not permanent:
        log.info("inbound: a delay warning changes nothing")
        return ()
    if not failed and (gmail := _GMAIL.search(text)) is not None:
        failed = [(gmail.group(1), True)]
    events = []
    for raw, is_permanent in failed[:MAX_RECIPIENTS]:
        address = _address(raw)
        if address is not None:
            events.append(
                DeliveryEvent(
                    kind=EventKind.BOUNCE,
                    source=Source.MAIL,
                    address=address,
                    status=status,
                    permanent=is_permanent,
                    diagnostic=text,
                    message_id=message_id,
                    verp=verp_token,
                )
            )
    if events or verp_token is None:
        return tuple(events)
    if status is None and reason(text) is None:
        return ()
    return (
        DeliveryEvent(
            kind=EventKind.BOUNCE,
            source=Source.MAIL,
            address="",
            status=status,
            permanent=None,
            diagnostic=text,
            message_id=message_id,
            verp=verp_token,
        ),
    )


def _address(raw: bytes | str) -> str | None:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    try:
        return normalize_email(text.strip().strip("<>"))
    except (InvalidValue, ValueError):
        return None


def human_text(message: Message) -> str:
    """The notice's own words: its first text part (or its body), up to the
    returned copy of the original, at most _TEXT_LIMIT characters."""
    part = next(
        (p for p in message.walk() if p.get_content_maintype() == "text"),
        None,
    )
    if part is None:
        return ""
    body = part.get_payload(decode=True)
    if not isinstance(body, bytes):
        return ""
    try:
        text = body[: _TEXT_LIMIT * 4].decode(part.get_content_charset() or "utf-8", "replace")
    except LookupError:  # a charset nobody knows
        text = body[: _TEXT_LIMIT * 4].decode("utf-8", "replace")
    marker = _COPY_MARKERS.search(text)
    return (text[: marker.start()] if marker else text)[:_TEXT_LIMIT]


def _message_id(message: Message) -> str | None:
    """A Message-ID of ours in the returned copy: the header of an attached
    original, or the text of one quoted inline (Exim, qmail, Gmail). Whether
    it is genuine is checked when it is recorded."""
    for part in message.walk():
        if part is not message:
            match = _OUR_MESSAGE_ID.search(str(part.get("message-id", "")))
            if match is not None:
                return match.group()
        if part.is_multipart():
            continue
        body = part.get_payload(decode=True)
        if isinstance(body, bytes):
            match = _OUR_MESSAGE_ID.search(body[:1_000_000].decode("utf-8", "replace"))
            if match is not None:
                return match.group()
    return None
