"""Authentication for ``/api`` (bearer tokens, or a browser login's session)
and the permission guard every route declares."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import Guard

from service.audit import trail
from service.auth import login
from service.auth.cookies import check_api_csrf, session_token
from service.auth.permissions import Permission
from service.auth.service import Principal, authenticate_token
from service.db import SessionMaker, session_scope


class TokenAuthenticationMiddleware(AbstractAuthenticationMiddleware):
    """A bearer token (scripts) or the session cookie of a browser login.

    With the cookie, a request that changes something must carry the
    session's CSRF token in ``X-CSRF-Token``: a page of another site can make
    the browser send the cookie, but cannot read the token."""

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        header = connection.headers.get("authorization")
        cookie = session_token(connection)
        if header is None and cookie:
            return await self._authenticate_session(connection, cookie)
        scheme, _, token = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthorizedException("a bearer token is required")
        sessionmaker: SessionMaker = connection.app.state.sessionmaker
        async with session_scope(sessionmaker) as session:
            principal = await authenticate_token(session, token.strip())
        if principal is None:
            # Recorded in a transaction of its own: the request fails.
            await trail.record_auth_failure(connection)
            raise NotAuthorizedException("the token is not valid")
        return AuthenticationResult(user=principal, auth=principal.token_id)

    async def _authenticate_session(
        self, connection: ASGIConnection[Any, Any, Any, Any], cookie: str
    ) -> AuthenticationResult:
        async with session_scope(connection.app.state.sessionmaker) as session:
            principal = await login.authenticate_session(
                session, token=cookie, settings=connection.app.state.settings
            )
        if principal is None:
            await trail.record_auth_failure(connection)
            raise NotAuthorizedException("the login session has ended; sign in again")
        if not check_api_csrf(connection, cookie):
            await trail.record_denial(connection, "csrf")
            raise PermissionDeniedException("a change needs the session's X-CSRF-Token header")
        return AuthenticationResult(user=principal, auth=None)


def requires(permission: Permission) -> Guard:
    """A guard letting through only principals whose role holds ``permission``."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        await demand(connection, permission)

    guard.permission = permission  # type: ignore[attr-defined]  # read by the route-by-role tests
    return guard


async def demand(connection: ASGIConnection[Any, Any, Any, Any], *permissions: Permission) -> None:
    """403 unless the principal holds every one of ``permissions``: the
    guard's check, for a handler that learns what it needs from the request
    itself (a PATCH that changes a gate input, a ban that turns out to be a
    direct-marketing one). Called before the body is validated, so a
    forbidden change answers 403 whatever else the body holds."""
    principal = connection.scope.get("user")
    if not isinstance(principal, Principal):
        raise NotAuthorizedException("a bearer token is required")
    for permission in permissions:
        if not principal.can(permission):
            # Recorded in a transaction of its own: the request fails.
            await trail.record_denial(connection, permission.value)
            raise PermissionDeniedException(f"your role lacks the permission {permission}")
