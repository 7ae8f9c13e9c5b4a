"""One-time tokens for links that must work once and then never again (a
signup's confirmation, the privacy portal's sign-in link and session).

Unlike the signed tokens of ``service.tokens`` (which name ids and can be
checked without the database), these are random: the link carries 32 random
bytes, the database keeps only their SHA-256, so a copy of the database or a
backup lets nobody use a link. Expiry and single use live in the row.
"""

from __future__ import annotations

import hashlib
import secrets

TOKEN_BYTES = 32


def new_token() -> tuple[str, str]:
    """A fresh token for a link and the hash to store for it."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def looks_like_token(token: str) -> bool:
    """Whether ``token`` could be one of ours (43 URL-safe characters): anything
    else is refused before the database is asked."""
    return len(token) == 43 and all(c.isalnum() or c in "-_" for c in token)
