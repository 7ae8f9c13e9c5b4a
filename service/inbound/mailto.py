"""What a mail to the unsubscribe address asks for: a signed token, or its sender.

Campaign mail offers ``mailto:{unsubscribe address}?subject=unsubscribe%20{token}``
in its List-Unsubscribe header; mail clients that honour it send exactly that
subject. People who write by hand may paste the token (or the whole link) into
the body instead, or send no token at all.
"""

from __future__ import annotations

import re
from email.message import EmailMessage, Message
from email.utils import getaddresses

from service.inbound.dsn import is_delivery_report
from service.tokens import InvalidToken, TokenSigner
from service.validation import InvalidValue, normalize_email

# Three URL-safe base64 runs joined by dots (service.tokens), standing alone
# or ending a link; host names and dotted words rarely have a part this long
# and verification weeds them out anyway.
_TOKEN = re.compile(r"(?<![\w.-])([\w-]{2,}\.[\w-]{2,}\.[\w-]{8,})(?![\w-]|\.\w)", re.ASCII)
# Only the start of the body: a signature or a quoted original further down
# is not what the person typed.
BODY_LINES = 20
# Each candidate costs an HMAC; a hostile message may be full of them.
MAX_CANDIDATES = 10


def token_ids(message: Message, signer: TokenSigner) -> tuple[int, int] | None:
    """(contact id, campaign id) from the first valid unsubscribe token in the
    subject, or failing that in the first lines of the body."""
    for candidate in _candidates(message)[:MAX_CANDIDATES]:
        try:
            ids = signer.verify(candidate, "unsubscribe")
        except InvalidToken:
            continue
        if len(ids) == 2:
            return ids[0], ids[1]
    return None


def _candidates(message: Message) -> list[str]:
    found = _TOKEN.findall(str(message.get("subject", "")))
    if len(found) < MAX_CANDIDATES:
        found += _TOKEN.findall("\n".join(_body_text(message).splitlines()[:BODY_LINES]))
    return found


def _body_text(message: Message) -> str:
    if not isinstance(message, EmailMessage):
        return ""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # an unknown charset, a broken encoding
        return ""
    return content if isinstance(content, str) else ""


def sender_addresses(message: Message, envelope_sender: str | None) -> list[str]:
    """The envelope sender and the (first) From address, normalised, without repeats.

    Either can be forged; callers may use them only to withdraw, never to grant.
    """
    raw = [envelope_sender or ""]
    from_fields = [str(value) for value in message.get_all("from", [])]
    raw += [address for _, address in getaddresses(from_fields)[:1]]
    addresses: list[str] = []
    for candidate in raw:
        try:
            address = normalize_email(candidate)
        except (InvalidValue, ValueError):
            continue
        if address not in addresses:
            addresses.append(address)
    return addresses


def is_automatic(message: Message) -> bool:
    """A delivery report or an RFC 3834 auto-reply: no person asked for anything."""
    auto = str(message.get("auto-submitted", "no")).strip().lower()
    return is_delivery_report(message) or not auto.startswith("no")
