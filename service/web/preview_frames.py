"""The composer's preview, shown in a frame of its own.

The staff pages' policy forbids inline styles, and a ``srcdoc`` frame
inherits it, so an email's styles never showed. The preview is kept here for
a few minutes under a random name, for the member who asked for it, and the
frame loads it from ``/app/campaigns/{id}/frame/{name}`` with a policy of its
own (``FRAME_HEADERS``): inline styles and images, never a script, and a
sandbox. In memory only (it may hold a contact's name), a bounded number;
with several web processes a frame may miss and ask to preview again.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict

TTL_SECONDS = 600
MAX_KEPT = 200
FRAME_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
        "font-src https: data:; form-action 'none'; base-uri 'none'; "
        "frame-ancestors 'self'; sandbox"
    ),
    "X-Frame-Options": "SAMEORIGIN",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex",
}

_kept: OrderedDict[str, tuple[int, float, str]] = OrderedDict()


def keep(user_id: int, html: str) -> str:
    """Keep a rendered preview for ``user_id``; its name for the frame's URL."""
    now = time.monotonic()
    for name in [n for n, (_, at, _) in _kept.items() if now - at > TTL_SECONDS]:
        del _kept[name]
    while len(_kept) >= MAX_KEPT:
        _kept.popitem(last=False)
    name = secrets.token_urlsafe(18)
    _kept[name] = (user_id, now, html)
    return name


def take(user_id: int, name: str) -> str | None:
    """The preview kept under ``name`` for this member, or None."""
    found = _kept.get(name)
    if found is None or found[0] != user_id or time.monotonic() - found[1] > TTL_SECONDS:
        return None
    return found[2]
