"""The browser session's cookie and its CSRF token, read by both doors: the
``/api`` middleware (a script or the web pages' own fetches) and the ``/app``
pages (service.web.session, which adds the forms and the page middleware).

The cookie holds a random token (only its hash is stored, see
service.auth.login). It is HttpOnly, SameSite=Lax, and Secure and ``__Host-``
prefixed under https. A change made with it needs the session's CSRF token:
an HMAC of the session token under the secret key.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie

from service.settings import Settings

PLAIN_COOKIE = "consentry_session"
SECURE_COOKIE = "__Host-consentry_session"
LOGIN_CSRF_COOKIE = "consentry_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def secure(settings: Settings) -> bool:
    return settings.public_url.startswith("https://")


def cookie_name(settings: Settings) -> str:
    return SECURE_COOKIE if secure(settings) else PLAIN_COOKIE


def session_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    settings: Settings = connection.app.state.settings
    return connection.cookies.get(cookie_name(settings)) or None


def session_cookie(settings: Settings, token: str | None) -> Cookie:
    """The cookie to set (a token) or to clear (None)."""
    return Cookie(
        key=cookie_name(settings),
        value=token or "",
        path="/",
        httponly=True,
        secure=secure(settings),
        samesite="lax",
        max_age=None if token else 0,
    )


def csrf_for(settings: Settings, token: str) -> str:
    return hmac.new(
        settings.secret_key.encode(), b"consentry/csrf/v1\x00" + token.encode(), hashlib.sha256
    ).hexdigest()


def same(expected: str | None, given: Any) -> bool:
    if not expected or not isinstance(given, str):
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def check_api_csrf(connection: ASGIConnection[Any, Any, Any, Any], token: str) -> bool:
    """Whether an API call made with the session cookie may go ahead: reads
    always; changes only with the session's CSRF token in the header."""
    if connection.scope.get("method", "GET") in _SAFE_METHODS:
        return True
    settings: Settings = connection.app.state.settings
    return same(csrf_for(settings, token), connection.headers.get(CSRF_HEADER))
