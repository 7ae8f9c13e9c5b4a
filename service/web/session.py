"""Browser sessions for ``/app``: the cookie, who is signed in, and CSRF.

The session cookie holds a random token (only its hash is stored, see
service.auth.login). It is HttpOnly (no script reads it), SameSite=Lax (no
other site's form posts it), Secure and ``__Host-`` prefixed under https
(no plain-http page or sibling domain can set or read it), and has no
Max-Age: the server ends sessions, not the browser.

Every form that changes something carries a CSRF token bound to the session
(an HMAC of its token under the secret key); the login form, which comes
before any session, carries a token matched against a cookie of its own
(double submit). Either check failing answers 403 and changes nothing. A
POST whose ``Sec-Fetch-Site`` says another site sent it is refused too.
"""

from __future__ import annotations

import secrets
from typing import Any

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from service import i18n
from service.auth import login
from service.auth.cookies import (
    CSRF_FIELD,
    CSRF_HEADER,
    LOGIN_CSRF_COOKIE,
    csrf_for,
    same,
    secure,
    session_token,
)
from service.auth.service import Principal
from service.db import session_scope
from service.labels import N_
from service.settings import Settings

# Why a form is refused (403): shown on the page, translated there (service.web.routes).
FROM_ANOTHER_SITE = N_("This form was sent from another site.")
FORM_EXPIRED = N_("The form has expired; reload the page and try again.")


def login_csrf(request: Request[Any, Any, Any]) -> tuple[str, Cookie | None]:
    """The login form's token, and the cookie to set when the browser has none yet."""
    existing = request.cookies.get(LOGIN_CSRF_COOKIE)
    if existing and len(existing) == 43:
        return existing, None
    settings: Settings = request.app.state.settings
    value = secrets.token_urlsafe(32)
    cookie = Cookie(
        key=LOGIN_CSRF_COOKIE,
        value=value,
        path="/app/login",
        httponly=True,
        secure=secure(settings),
        samesite="strict",
    )
    return value, cookie


def _refuse_cross_site(request: Request[Any, Any, Any]) -> None:
    if request.headers.get("sec-fetch-site", "same-origin") not in {"same-origin", "none"}:
        raise PermissionDeniedException(FROM_ANOTHER_SITE)


async def verified_form(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The posted form of a signed-in page, once its CSRF token checks out."""
    _refuse_cross_site(request)
    form = dict(await request.form())
    token = session_token(request)
    settings: Settings = request.app.state.settings
    expected = csrf_for(settings, token) if token else None
    given = form.pop(CSRF_FIELD, None) or request.headers.get(CSRF_HEADER)
    if not same(expected, given):
        raise PermissionDeniedException(FORM_EXPIRED)
    return form


async def verified_public_form(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The posted form of a page opened by a one-time link (no session yet):
    the link's secret token in the path is what another site cannot forge,
    and a POST another site sent is refused."""
    _refuse_cross_site(request)
    return dict(await request.form())


async def verified_login_form(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The posted login form, once its token matches the login cookie."""
    _refuse_cross_site(request)
    form = dict(await request.form())
    if not same(request.cookies.get(LOGIN_CSRF_COOKIE), form.pop(CSRF_FIELD, None)):
        raise PermissionDeniedException(FORM_EXPIRED)
    return form


class SessionMiddleware(ASGIMiddleware):
    """Puts the signed-in staff member of a complete session in ``scope["user"]``,
    and speaks their language (service.i18n) for the whole request, so words
    a handler translates (``_("…")``) come out in it too; before sign-in, the
    browser's language.

    Pages guard themselves (``requires``); a page without a principal answers
    401, which the ``/app`` router turns into a redirect to the login page."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        connection: ASGIConnection[Any, Any, Any, Any] = ASGIConnection(scope)
        token = session_token(connection)
        principal = None
        if token:
            async with session_scope(connection.app.state.sessionmaker) as session:
                principal = await login.authenticate_session(
                    session, token=token, settings=connection.app.state.settings
                )
            if principal is not None:
                scope["user"] = principal
        language = (
            principal.language
            if principal is not None
            else i18n.best_match(connection.headers.get("accept-language"))
        )
        with i18n.use(language):
            await next_app(scope, receive, send)


def redirect(location: str, *, cookies: list[Cookie] | None = None) -> Response[None]:
    # 303: after a POST, the browser follows with a GET.
    return Response(None, status_code=303, headers={"Location": location}, cookies=cookies)


async def signed_in(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """The guard of every ``/app`` page: someone must be signed in (both factors)."""
    if not isinstance(connection.scope.get("user"), Principal):
        raise NotAuthorizedException("sign in first")
