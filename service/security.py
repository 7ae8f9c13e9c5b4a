"""The headers every answer carries, and CORS for the API (none by default).

One ``before_send`` hook adds them to every response the app sends — API,
public pages, tracking, health, errors and 404s alike — unless the route set
the header itself (the public pages keep their own, stricter policies). The
work per response is a scan of its few headers and appending constants: the
pixel and click routes stay as fast as they were (bench/public/).
"""

from __future__ import annotations

from collections.abc import Iterable

from litestar.types import BeforeMessageSendHookHandler, Message, Scope

API_PREFIX = "/api/"
# The OpenAPI viewer is an HTML page with its scripts and styles served from
# this origin (service.openapi); the API's "nothing at all" policy would
# leave it blank, so it gets what it needs, from 'self' only.
DOCS_PREFIX = "/schema"
FRAME_ANCESTORS = b"frame-ancestors 'none'"
DOCS_CSP = (
    b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    b"connect-src 'self'; form-action 'self'; base-uri 'none'; " + FRAME_ANCESTORS
)
# JSON and images need nothing from a policy; a page served by mistake gets
# no scripts, styles or frames.
DEFAULT_CSP = b"default-src 'none'; " + FRAME_ANCESTORS
HSTS = b"max-age=31536000; includeSubDomains"
CORS_METHODS = b"GET, POST, PUT, PATCH, DELETE"
CORS_HEADERS = b"authorization, content-type"
CORS_MAX_AGE = b"600"

Header = tuple[bytes, bytes]
_CSP = b"content-security-policy"


def _common(https: bool) -> tuple[Header, ...]:
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        # Tokens travel in the public links' URLs; the API has nothing to refer.
        (b"referrer-policy", b"no-referrer"),
    ]
    if https:
        # Only behind https: on a plain-http dev address a browser would
        # remember to refuse http for this host for a year.
        headers.append((b"strict-transport-security", HSTS))
    return tuple(headers)


def security_headers(
    *, public_url: str, cors_origins: Iterable[str] = ()
) -> BeforeMessageSendHookHandler:
    """The hook for ``Litestar(before_send=[...])``.

    ``cors_origins`` are exact origins (``https://crm.example.fi``) whose pages
    may call ``/api``; a request from any other origin gets no
    ``Access-Control-*`` header, so the browser keeps its answer from the page.
    """
    common = _common(public_url.startswith("https://"))
    api = (*common, (_CSP, DEFAULT_CSP), (b"cache-control", b"no-store"))
    docs = (*common, (_CSP, DOCS_CSP))
    other = (*common, (_CSP, DEFAULT_CSP))
    allowed = frozenset(origin.encode("latin-1") for origin in cors_origins)

    async def add_headers(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        headers = message.setdefault("headers", [])
        if not isinstance(headers, list):
            headers = message["headers"] = list(headers)
        path: str = scope.get("path", "")
        is_api = path.startswith(API_PREFIX)
        wanted = api if is_api else docs if path.startswith(DOCS_PREFIX) else other
        present = {name.lower() for name, _ in headers}
        for name, value in wanted:
            if name not in present:
                headers.append((name, value))
        if _CSP in present and not any(
            name.lower() == _CSP and b"frame-ancestors" in value for name, value in headers
        ):
            # A route's own policy without frame-ancestors: a second policy
            # header adds it (browsers enforce both), the route's stays intact.
            # One that names its own (the staff's email preview frame,
            # 'self') keeps it.
            headers.append((_CSP, FRAME_ANCESTORS))
        if allowed and is_api:
            headers.extend(_cors(scope, allowed))

    return add_headers


def _cors(scope: Scope, allowed: frozenset[bytes]) -> list[Header]:
    origin = preflight = None
    for name, value in scope.get("headers", ()):
        if name == b"origin":
            origin = value
        elif name == b"access-control-request-method":
            preflight = value
    headers: list[Header] = [(b"vary", b"Origin")]
    if origin is None or origin not in allowed:
        return headers
    headers.append((b"access-control-allow-origin", origin))
    if scope.get("method") == "OPTIONS" and preflight is not None:
        # Bearer tokens, never cookies: no Allow-Credentials.
        headers += [
            (b"access-control-allow-methods", CORS_METHODS),
            (b"access-control-allow-headers", CORS_HEADERS),
            (b"access-control-max-age", CORS_MAX_AGE),
        ]
    return headers
