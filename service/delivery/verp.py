"""VERP: an envelope sender that names the message it returns.

Each campaign message goes out with the return path
``LOCAL+c{campaign}.r{row}.{tag}@DOMAIN`` built from
``CONSENTRY_BOUNCE_ADDRESS`` (``bounces@example.com`` →
``bounces+c12.r345.0f3a…@example.com``). A bounce comes back *to* that
address, so it names its send-list row even when the report inside is
mangled, in no format we read, or names no address at all.

The tag is the keyed tag the Message-ID carries (TokenSigner.message_tag):
it names no person, and only we can make it, so a guessed return path
links nothing. The token is lower-case hex and digits, so an MTA that
lower-cases local parts does not break it.
"""

from __future__ import annotations

import re
from typing import Final

# What follows "LOCAL+": campaign id, send-list row id, keyed tag.
TOKEN: Final = re.compile(r"c(\d{1,18})\.r(\d{1,18})\.([0-9a-z_-]{8,64})")


def token(campaign_id: int, recipient_id: int, tag: str) -> str:
    return f"c{campaign_id}.r{recipient_id}.{tag}"


def address(bounce_address: str, verp_token: str) -> str:
    """The return path naming one message: ``LOCAL+TOKEN@DOMAIN``."""
    local, _, domain = bounce_address.rpartition("@")
    return f"{local}+{verp_token}@{domain}"


def token_of(recipient: str, bounce_address: str) -> str | None:
    """The token of ``recipient`` when it is ``bounce_address`` with a
    ``+TOKEN`` (any case, angle brackets allowed), else None. The token is
    only checked for shape here; whether it is ours is checked against the
    campaign's key when the bounce is recorded."""
    plain = recipient.strip().strip("<>").strip().lower()
    local, _, domain = bounce_address.lower().rpartition("@")
    prefix, suffix = f"{local}+", f"@{domain}"
    if not (plain.startswith(prefix) and plain.endswith(suffix)):
        return None
    candidate = plain[len(prefix) : len(plain) - len(suffix)]
    return candidate if TOKEN.fullmatch(candidate) else None


def parse(verp_token: str | None) -> tuple[int, int, str] | None:
    """(campaign id, send-list row id, tag) from a token in any case (one
    quoted in a report may have passed an MTA that changed it), or None."""
    match = TOKEN.fullmatch((verp_token or "").strip().lower())
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2)), match.group(3)


def is_bounce_address(recipient: str, bounce_address: str) -> bool:
    """Whether the listener takes mail for ``recipient`` as a bounce: the
    bounce address itself or ``LOCAL+anything@DOMAIN`` (a VERP token that is
    damaged is still a bounce to read; it just links nothing)."""
    plain = recipient.strip().strip("<>").strip().lower()
    local, _, domain = bounce_address.lower().rpartition("@")
    return plain == bounce_address.lower() or (
        plain.startswith(f"{local}+") and plain.endswith(f"@{domain}")
    )
