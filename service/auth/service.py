"""Staff users and API tokens: create, authenticate, issue, list, revoke."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service import i18n
from service.auth.permissions import ROLE_PERMISSIONS, Permission
from service.errors import Conflict, InvalidInput, NotFound
from service.models import ApiToken, User
from service.models.base import utcnow
from service.models.enums import Role
from service.validation import InvalidValue, normalize_email

TOKEN_PREFIX = "cst_"  # noqa: S105  (a marker, not a secret)
MIN_PASSWORD_LENGTH = 12
# A bound, so a pasted novel is not hashed; far above any passphrase.
MAX_PASSWORD_LENGTH = 1000
MAX_TOKEN_NAME_LENGTH = 100
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
    scope: Role | None = None
    # A browser login's session (None for an API token).
    session_id: int | None = None
    # The language the member chose for the staff UI (service.i18n).
    language: str = "fi"
    permissions: frozenset[Permission] = field(init=False)

    def __post_init__(self) -> None:
        allowed = ROLE_PERMISSIONS[self.role]
        if self.scope is not None:
            # A scoped token can only narrow: what both the role and the scope allow.
            allowed = allowed & ROLE_PERMISSIONS[self.scope]
        object.__setattr__(self, "permissions", allowed)

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions


def scope_within(role: Role, scope: Role) -> bool:
    """Whether a token of a ``role`` user may be scoped to ``scope``: roles are
    not a ladder (a marketer is not above a privacy officer), so "at or below"
    means the scope grants nothing the role does not."""
    return ROLE_PERMISSIONS[scope] <= ROLE_PERMISSIONS[role]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_password_rules(password: str) -> None:
    """The rules every password meets (a new user's, and one set from a link)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        message = f"must be at least {MIN_PASSWORD_LENGTH} characters long"
        raise InvalidInput(f"password {message}", fields={"password": message})
    if len(password) > MAX_PASSWORD_LENGTH:
        message = f"must be at most {MAX_PASSWORD_LENGTH} characters long"
        raise InvalidInput(f"password {message}", fields={"password": message})


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _language(language: object) -> str:
    """One of the staff UI's languages (service.i18n.LANGUAGES), or InvalidInput."""
    if language not in i18n.LANGUAGES:
        message = "must be one of " + ", ".join(i18n.LANGUAGES)
        raise InvalidInput(f"language {message}", fields={"language": message})
    return str(language)


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    role: Role,
    password: str,
    language: str = i18n.DEFAULT,
) -> User:
    """A staff member who sees the staff pages in ``language`` (fi, sv or en)."""
    language = _language(language)
    try:
        email = normalize_email(email)
    except InvalidValue as exc:
        raise InvalidInput(str(exc), fields={"email": str(exc)}) from None
    check_password_rules(password)
    if (await session.exec(select(User).where(User.email == email))).first() is not None:
        raise Conflict("a user with this email already exists", reason="user_exists")
    user = User(email=email, role=role, password_hash=_hasher.hash(password), language=language)
    session.add(user)
    await session.flush()
    return user


async def set_language(session: AsyncSession, *, user_id: int, language: object) -> User:
    """The member's choice of language for the staff pages, from their next page on."""
    language = _language(language)
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("no such user")
    user.language = language
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
    session: AsyncSession,
    *,
    user: User,
    name: str,
    expires_at: datetime | None = None,
    scope: Role | None = None,
) -> str:
    """Create a token for the user and return it; only its hash is kept.

    The token string exists only in the return value: show it once."""
    return (await create_token(session, user=user, name=name, expires_at=expires_at, scope=scope))[
        1
    ]


async def create_token(
    session: AsyncSession,
    *,
    user: User,
    name: str,
    expires_at: datetime | None = None,
    scope: Role | None = None,
) -> tuple[ApiToken, str]:
    """``issue_token``, also returning the stored row (for its id and dates)."""
    assert user.id is not None
    name = name.strip()
    if not name or len(name) > MAX_TOKEN_NAME_LENGTH:
        message = f"must be 1 to {MAX_TOKEN_NAME_LENGTH} characters"
        raise InvalidInput(f"name {message}", fields={"name": message})
    if user.disabled_at is not None:
        message = "the user is disabled"
        raise InvalidInput(message, fields={"user_id": message})
    if scope is not None and not scope_within(user.role, scope):
        message = f"a {user.role} may not hold a token scoped to {scope}"
        raise InvalidInput(message, fields={"scope": message})
    if expires_at is not None and expires_at <= utcnow():
        message = "must be in the future"
        raise InvalidInput(f"expiry {message}", fields={"expires_in_days": message})
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user.id,
        name=name,
        scope=scope,
        token_hash=hash_token(token),
        expires_at=expires_at,
    )
    session.add(row)
    await session.flush()
    return row, token


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
    return Principal(
        user_id=user.id,
        email=user.email,
        role=user.role,
        token_id=api_token.id,
        scope=api_token.scope,
        language=user.language,
    )


@dataclass(frozen=True, slots=True)
class TokenListing:
    """A token as listed: never the token or its hash."""

    token: ApiToken
    user_email: str


async def list_tokens(session: AsyncSession, *, user_id: int | None = None) -> list[TokenListing]:
    """Every token (or one user's), newest first."""
    query = select(ApiToken, User.email).join(
        User,
        User.id == ApiToken.user_id,  # type: ignore[arg-type]
    )
    if user_id is not None:
        query = query.where(ApiToken.user_id == user_id)
    rows = await session.exec(query.order_by(col(ApiToken.id).desc()))
    return [TokenListing(token=token, user_email=email) for token, email in rows.all()]


async def get_token(session: AsyncSession, token_id: int) -> ApiToken:
    row = await session.get(ApiToken, token_id)
    if row is None:
        raise NotFound("no token with this id")
    return row


async def revoke_token(
    session: AsyncSession, *, token_id: int, by_user_id: int | None, owner_id: int | None = None
) -> ApiToken:
    """Revoke a token for good. ``owner_id``: only if it belongs to that user
    (someone else's token is reported as not found, not as forbidden)."""
    row = await get_token(session, token_id)
    if owner_id is not None and row.user_id != owner_id:
        raise NotFound("no token with this id")
    if row.revoked_at is not None:
        raise Conflict("the token is already revoked", reason="token_revoked")
    row.revoked_at = utcnow()
    row.revoked_by_user_id = by_user_id
    session.add(row)
    await session.flush()
    return row
