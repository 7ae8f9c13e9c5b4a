"""Staff users and API tokens: create, authenticate, issue."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.auth.permissions import ROLE_PERMISSIONS, Permission
from service.contacts.validation import InvalidValue, normalize_email
from service.errors import Conflict, InvalidInput, NotFound
from service.models import ApiToken, User
from service.models.base import utcnow
from service.models.enums import Role

TOKEN_PREFIX = "cst_"  # noqa: S105  (a marker, not a secret)
MIN_PASSWORD_LENGTH = 12
# Writing last_used_at on every request would turn every read into a write;
# a minute's resolution is enough to see which tokens are alive.
LAST_USED_RESOLUTION = timedelta(minutes=1)

_hasher = PasswordHasher()


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated staff member behind a request."""

    user_id: int
    email: str
    role: Role
    token_id: int | None

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_user(session: AsyncSession, *, email: str, role: Role, password: str) -> User:
    try:
        email = normalize_email(email)
    except InvalidValue as exc:
        raise InvalidInput(str(exc), fields={"email": str(exc)}) from None
    if len(password) < MIN_PASSWORD_LENGTH:
        message = f"must be at least {MIN_PASSWORD_LENGTH} characters long"
        raise InvalidInput(f"password {message}", fields={"password": message})
    if (await session.exec(select(User).where(User.email == email))).first() is not None:
        raise Conflict("a user with this email already exists", reason="user_exists")
    user = User(email=email, role=role, password_hash=_hasher.hash(password))
    session.add(user)
    await session.flush()
    return user


async def get_user_by_email(session: AsyncSession, email: str) -> User:
    try:
        email = normalize_email(email)
    except InvalidValue as exc:
        raise InvalidInput(str(exc), fields={"email": str(exc)}) from None
    user = (await session.exec(select(User).where(User.email == email))).first()
    if user is None:
        raise NotFound("no user with this email")
    return user


async def issue_token(
    session: AsyncSession, *, user: User, name: str, expires_at: datetime | None = None
) -> str:
    """Create a token for the user and return it; only its hash is kept."""
    assert user.id is not None
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(user_id=user.id, name=name, token_hash=hash_token(token), expires_at=expires_at)
    )
    await session.flush()
    return token


async def authenticate_token(session: AsyncSession, token: str) -> Principal | None:
    """The principal for a live token of an active user, or None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = (
        await session.exec(
            select(ApiToken, User)
            .join(User, User.id == ApiToken.user_id)  # type: ignore[arg-type]
            .where(ApiToken.token_hash == hash_token(token))
        )
    ).first()
    if row is None:
        return None
    api_token, user = row
    now = utcnow()
    if api_token.revoked_at is not None or user.disabled_at is not None:
        return None
    if api_token.expires_at is not None and api_token.expires_at <= now:
        return None
    if api_token.last_used_at is None or now - api_token.last_used_at > LAST_USED_RESOLUTION:
        api_token.last_used_at = now
        session.add(api_token)
    assert user.id is not None
    return Principal(user_id=user.id, email=user.email, role=user.role, token_id=api_token.id)
