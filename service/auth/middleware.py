"""Bearer-token authentication for ``/api`` and the permission guard every route declares."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import Guard

from service.audit import trail
from service.auth.permissions import Permission
from service.auth.service import Principal, authenticate_token
from service.db import SessionMaker, session_scope


class TokenAuthenticationMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        scheme, _, token = connection.headers.get("authorization", "").partition(" ")
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


def requires(permission: Permission) -> Guard:
    """A guard letting through only principals whose role holds ``permission``."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = connection.scope.get("user")
        if not isinstance(principal, Principal):
            raise NotAuthorizedException("a bearer token is required")
        if not principal.can(permission):
            # Recorded in a transaction of its own: the request fails.
            await trail.record_denial(connection, permission.value)
            raise PermissionDeniedException(f"your role lacks the permission {permission}")

    guard.permission = permission  # type: ignore[attr-defined]  # read by the route-by-role tests
    return guard
