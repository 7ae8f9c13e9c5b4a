"""API tokens over HTTP: admins manage everyone's (``users:manage``); every
staff member lists and revokes their own (``tokens:own``, held by every role)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.audit import trail
from service.auth import service as auth_service
from service.auth.middleware import requires
from service.auth.permissions import Permission
from service.auth.schemas import TokenCreate, TokenCreated, TokenOut
from service.auth.service import Principal
from service.errors import NotFound
from service.models import User

Session = NamedDependency[AsyncSession]
Staff = Request[Principal, Any, Any]


class TokenController(Controller):
    """Every staff member's tokens, for admins."""

    path = "/tokens"
    tags = ["tokens"]
    guards = [requires(Permission.USERS_MANAGE)]

    @get("/")
    async def list_tokens(self, db_session: Session) -> list[TokenOut]:
        """Every token, newest first: its name, owner, scope and dates; never the token."""
        return [TokenOut.listed(row) for row in await auth_service.list_tokens(db_session)]

    @post("/", status_code=201)
    async def create_token(self, db_session: Session, data: JSONBody[TokenCreate]) -> TokenCreated:
        """Issue a token for a user. 201 with the token, shown this once.
        422 when the scope grants something the user's role does not."""
        user = await db_session.get(User, data.user_id)
        if user is None:
            raise NotFound("no user with this id")
        expires_at = (
            clock.now() + timedelta(days=data.expires_in_days) if data.expires_in_days else None
        )
        row, token = await auth_service.create_token(
            db_session, user=user, name=data.name, expires_at=expires_at, scope=data.scope
        )
        trail.annotate(db_session, token_id=row.id, user_id=user.id)
        return TokenCreated(**TokenOut.of(row, user.email).model_dump(), token=token)

    @delete("/{token_id:int}", status_code=204)
    async def revoke_token(
        self, db_session: Session, request: Staff, token_id: FromPath[int]
    ) -> None:
        """Revoke a token: refused from now on. 409 if it already was."""
        await auth_service.revoke_token(
            db_session, token_id=token_id, by_user_id=request.user.user_id
        )


class OwnTokenController(Controller):
    """The caller's own tokens: any staff member may see and revoke them."""

    path = "/me/tokens"
    tags = ["tokens"]
    guards = [requires(Permission.TOKENS_OWN)]

    @get("/")
    async def list_own_tokens(self, db_session: Session, request: Staff) -> list[TokenOut]:
        """Your tokens, newest first; never the token."""
        rows = await auth_service.list_tokens(db_session, user_id=request.user.user_id)
        return [TokenOut.listed(row) for row in rows]

    @delete("/{token_id:int}", status_code=204)
    async def revoke_own_token(
        self, db_session: Session, request: Staff, token_id: FromPath[int]
    ) -> None:
        """Revoke one of your tokens (404 for anyone else's). 409 if already revoked."""
        await auth_service.revoke_token(
            db_session,
            token_id=token_id,
            by_user_id=request.user.user_id,
            owner_id=request.user.user_id,
        )
