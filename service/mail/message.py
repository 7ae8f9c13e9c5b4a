"""A rendered campaign email as the bytes handed to SMTP.

Written out directly: headers, then a multipart/alternative body with a
text/plain and a text/html part, each UTF-8 quoted-printable (encoded by
``binascii.b2a_qp``, in C). The ``email`` package's message classes cost
100-1,000 µs a message (``EmailMessage.set_content`` the most), as much as
everything else a send worker does per message; this costs a few tens.

Line endings: the bytes use bare LF. aiosmtplib 5.1.3
converts them on the way out: ``SMTP.sendmail`` and ``SMTP.data`` both end in
``SMTPProtocol.execute_data_command``, which turns every lone CR or LF into CRLF
(``normalize_message_line_endings``), adds a final CRLF if one is missing,
doubles a "." at the start of a line and appends the closing ".\\r\\n". Its
SIZE= value is computed on the converted bytes too. Writing CRLF here would
only repeat that work; anything else that puts these bytes on an SMTP wire must
do the same conversion.
"""

from __future__ import annotations

import re
import secrets
from base64 import b64encode
from binascii import b2a_qp
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime, formataddr, parseaddr
from types import MappingProxyType

from service.mail.render import HEADER_UNSAFE, Rendered

# Quoted-printable keeps mostly-ASCII Finnish and Swedish text readable in the
# raw message and, unlike 8bit, needs no 8BITMIME from the relay.
_LINE = 78  # the line length RFC 5322 recommends
# 42 bytes of UTF-8 make a 68-character encoded word, so "Subject: " and one
# word stay within the 78 characters RFC 5322 recommends for a line.
_WORD_BYTES = 42


def _fold_at_spaces(name: str, value: str, limit: int, linesep: str) -> str:
    lines = []
    line = f"{name}:"
    filled = False  # whether `line` holds some of the value, so may end here
    for word in value.split(" "):
        if filled and word and len(line) + 1 + len(word) > limit:
            lines.append(line)
            line = ""
        line += " " + word
        filled = filled or bool(word)
    lines.append(line)
    return linesep.join(lines)


def _encoded_words(text: str) -> list[str]:
    """`text` as RFC 2047 base64 words of UTF-8, no character split between two."""
    data = text.encode("utf-8")
    words = []
    start = 0
    while start < len(data):
        end = min(start + _WORD_BYTES, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # inside a character
            end -= 1
        words.append(f"=?utf-8?b?{b64encode(data[start:end]).decode('ascii')}?=")
        start = end
    return words


_NO_HEADERS: Mapping[str, str] = MappingProxyType({})
# The headers build_message writes itself; extra_headers may not repeat them.
_OWN_HEADERS = frozenset(
    {
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "list-id",
        "list-unsubscribe",
        "list-unsubscribe-post",
        "reply-to",
    }
)
_HEADER_NAME = re.compile(r"[!-9;-~]+\Z")  # printable ASCII except ":" (RFC 5322 ftext)
_URI_UNSAFE = re.compile(r"[\s<>]")


def build_message(
    rendered: Rendered,
    *,
    mail_from: str,
    to: str,
    message_id: str,
    list_id: str,
    unsubscribe_url: str,
    unsubscribe_mailto: str,
    extra_headers: Mapping[str, str] = _NO_HEADERS,
    reply_to: str | None = None,
) -> bytes:
    """A multipart/alternative message (text, then HTML) with one-click unsubscribe.

    Raises ValueError for a header value with a line break or other control
    character, since it would let a value add headers of its own.
    """
    if not (message_id.startswith("<") and message_id.endswith(">")):
        raise ValueError("Message-ID: must be written in angle brackets, like <id@host>")
    mailto = unsubscribe_mailto
    if not mailto.startswith("mailto:"):
        mailto = "mailto:" + mailto
    for uri in (unsubscribe_url, mailto):
        if _URI_UNSAFE.search(uri):
            raise ValueError("List-Unsubscribe: a URI may not contain spaces or angle brackets")

    # QP never writes "==" (a literal "=" becomes "=3D"), so a boundary holding
    # "==" cannot occur in the bodies.
    boundary = f"=={secrets.token_hex(12)}=="
    headers = [
        ("From", _address("From", mail_from)),
        ("To", _address("To", to)),
        ("Subject", _checked("Subject", rendered.subject)),
        # A numeric zone: RFC 5322 prefers it to "GMT", and "-0000" would say
        # the local time is unknown.
        ("Date", format_datetime(datetime.now(UTC))),
        ("Message-ID", _checked("Message-ID", message_id)),
        ("MIME-Version", "1.0"),
        ("List-Id", _address("List-Id", list_id)),
        ("List-Unsubscribe", _checked("List-Unsubscribe", f"<{unsubscribe_url}>, <{mailto}>")),
        # RFC 8058: lets the mailbox provider unsubscribe with one POST, no page visit.
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
    ]
    if reply_to:  # CONSENTRY_REPLY_TO: replies reach the inbound listener there
        headers.append(("Reply-To", _address("Reply-To", reply_to)))
    for name, value in extra_headers.items():
        if not _HEADER_NAME.match(name) or name.lower() in _OWN_HEADERS:
            raise ValueError(f"{name!r}: not a header that extra_headers may set")
        headers.append((name, _checked(name, value)))
    headers.append(("Content-Type", f'multipart/alternative; boundary="{boundary}"'))
    head = "".join(
        # An address with a non-ASCII local part is written as UTF-8 (RFC 6532).
        f"{name}: {value}\n" if name == "To" and not value.isascii() else _header(name, value)
        for name, value in headers
    )
    return b"".join(
        (
            head.encode("utf-8"),
            b"\n",
            _part(boundary, "plain", rendered.text),
            _part(boundary, "html", rendered.html),
            f"--{boundary}--\n".encode("ascii"),
        )
    )


def _header(name: str, value: str) -> str:
    """One header line: ASCII folded at spaces within 78 characters where it
    can be, anything else as RFC 2047 encoded words."""
    if value.isascii():
        return _fold_at_spaces(name, value, _LINE, "\n") + "\n"
    return f"{name}: " + "\n ".join(_encoded_words(value)) + "\n"


def _part(boundary: str, subtype: str, body: str) -> bytes:
    """A text/* part in UTF-8 quoted-printable."""
    return b"".join(
        (
            f'--{boundary}\nContent-Type: text/{subtype}; charset="utf-8"\n'.encode("ascii"),
            b"Content-Transfer-Encoding: quoted-printable\n\n",
            b2a_qp(body.encode("utf-8"), istext=True),
            b"\n",
        )
    )


def _checked(name: str, value: str) -> str:
    if HEADER_UNSAFE.search(value):
        raise ValueError(f"{name}: a header value may not contain CR, LF or control characters")
    return value


def _address(name: str, value: str) -> str:
    """`Name <addr>` with only the display name encoded, as RFC 2047 requires.

    Encoding the whole value, as compat32 does with a non-ASCII str, would hide
    the address itself inside an encoded word.
    """
    _checked(name, value)
    if value.isascii():
        return value
    display, address = parseaddr(value)
    if not address:
        raise ValueError(f"{name}: not an address")
    local, at, domain = address.rpartition("@")
    if not local.isascii():
        # Only the recipient may have one: the message is then an RFC 6532
        # one, sent with SMTPUTF8 (service.delivery.smtp), which cannot be encoded
        # into ASCII; a relay without SMTPUTF8 refuses it before DATA.
        if name != "To" or display:
            raise ValueError(f"{name}: a non-ASCII local part is allowed only in a bare To address")
        return address
    if not domain.isascii():
        domain = domain.encode("idna").decode("ascii")
    address = f"{local}{at}{domain}"
    if display.isascii():
        return formataddr((display, address))
    return f"{' '.join(_encoded_words(display))} <{address}>"
