"""Staff administration: list, invite, change role, disable, enable, reset.

The web page (``/app/staff``), the API (``/api/v1/users``) and the command
(``consentry user …``) call these functions; they never commit, and the
caller records each change in the audit trail.

- **One-time set-password links** (``staff_links``): an invitation makes an
  account without a password; a reset takes the password and the second
  factor away. Either hands out a link (only its SHA-256 is stored) that sets
  a password once, until it expires. A newer link of the same person
  replaces the older one.
- **At once.** Disabling ends the person's sessions and revokes their API
  tokens in the same transaction; so does a reset. A role change needs
  nothing ended: every request reads the role afresh. Enabling revives
  neither sessions nor tokens.
- **Never the last admin.** Disabling, demoting or resetting the last active
  admin is refused (409 ``last_admin``). The check is race-free:
  ``_lock_admins`` first takes a lock that every such change takes (the
  active admins' rows on PostgreSQL, the database's write lock on SQLite),
  then the change is made and the admins left are counted in the same
  transaction; two admins disabling each other at once cannot both succeed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import false, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock, i18n, onetime
from service.auth import service as auth_service
from service.auth.second_factor import reset_second_factor
from service.auth.sessions import end_all_sessions
from service.db import run
from service.errors import Conflict, InvalidInput, NotFound
from service.labels import N_
from service.models import ApiToken, StaffLink, User
from service.models.enums import Role, StaffLinkPurpose

INVITE_LIFETIME = timedelta(hours=72)
RESET_LIFETIME = timedelta(hours=24)
LIFETIMES = {StaffLinkPurpose.INVITE: INVITE_LIFETIME, StaffLinkPurpose.RESET: RESET_LIFETIME}
# Stored instead of a hash while no password is set: no argon2 hash looks so,
# so no password matches it (argon2 refuses it as a hash).
NO_PASSWORD = "!"  # noqa: S105  (a marker, not a secret)
LINK_PATH = "/app/set-password/"


class StaffState(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"
    # Invited and no password set yet (never signed in).
    INVITED = "invited"


@dataclass(frozen=True, slots=True)
class StaffMember:
    """A staff account as an admin sees it: never a hash or a secret."""

    id: int
    email: str
    role: Role
    state: StaffState
    created_at: datetime
    last_sign_in_at: datetime | None
    second_factor: bool
    password_set: bool
    language: str

    @classmethod
    def of(cls, user: User) -> StaffMember:
        assert user.id is not None
        return cls(
            id=user.id,
            email=user.email,
            role=user.role,
            state=state_of(user),
            created_at=user.created_at,
            last_sign_in_at=user.last_sign_in_at,
            second_factor=user.totp_secret is not None,
            password_set=has_password(user),
            language=user.language,
        )


@dataclass(frozen=True, slots=True)
class Link:
    """A link just made: the token (shown or mailed once) and its row."""

    token: str
    row: StaffLink

    def url(self, public_url: str) -> str:
        return f"{public_url.rstrip('/')}{LINK_PATH}{self.token}"


def has_password(user: User) -> bool:
    return user.password_hash != NO_PASSWORD


def state_of(user: User) -> StaffState:
    if user.disabled_at is not None:
        return StaffState.DISABLED
    if not has_password(user) and user.last_sign_in_at is None:
        return StaffState.INVITED
    return StaffState.ACTIVE


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        roles = ", ".join(role.value for role in Role)
        message = f"must be one of {roles}"
        raise InvalidInput(f"role {message}", fields={"role": message}) from None


async def list_staff(session: AsyncSession) -> list[StaffMember]:
    """Every staff account, by email."""
    users = await session.exec(select(User).order_by(col(User.email)))
    return [StaffMember.of(user) for user in users.all()]


async def get(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(N_("no user with this id"))
    return user


# -- the last admin -------------------------------------------------------------------


async def _lock_admins(session: AsyncSession) -> None:
    """Serialise every change that could leave no active admin. Called
    before the transaction reads anything (on SQLite a transaction that has
    read may not become the writer once another has written)."""
    if session.get_bind().dialect.name == "sqlite":
        # An UPDATE that changes nothing takes the database's write lock.
        await run(session, update(User).where(false()).values(id=User.id))
        return
    await session.exec(
        select(User.id)
        .where(User.role == Role.ADMIN, col(User.disabled_at).is_(None))
        .order_by(col(User.id))
        .with_for_update()
    )


async def _refuse_no_admin_left(session: AsyncSession) -> None:
    """After the change (in the same transaction, under ``_lock_admins``):
    refuse it when no active admin with a password is left."""
    await session.flush()
    left = await session.exec(
        select(func.count())
        .select_from(User)
        .where(
            User.role == Role.ADMIN,
            col(User.disabled_at).is_(None),
            col(User.password_hash) != NO_PASSWORD,
        )
    )
    if int(left.one()) == 0:
        raise Conflict(
            N_("this would leave no active admin: make another staff member an admin first"),
            reason="last_admin",
        )


async def _locked(session: AsyncSession, user_id: int) -> User:
    await _lock_admins(session)
    user = await get(session, user_id)
    await session.refresh(user)  # as it is now, after the lock
    return user


# -- links --------------------------------------------------------------------------


async def _new_link(
    session: AsyncSession, *, user: User, purpose: StaffLinkPurpose, by_user_id: int | None
) -> Link:
    """A fresh link; the person's earlier unused links stop working."""
    assert user.id is not None
    now = clock.now()
    await run(
        session,
        update(StaffLink)
        .where(col(StaffLink.user_id) == user.id, col(StaffLink.used_at).is_(None))
        .values(expires_at=now),
    )
    token, digest = onetime.new_token()
    row = StaffLink(
        user_id=user.id,
        purpose=purpose,
        token_hash=digest,
        created_at=now,
        expires_at=now + LIFETIMES[purpose],
        created_by_user_id=by_user_id,
    )
    session.add(row)
    await session.flush()
    return Link(token=token, row=row)


async def usable_link(session: AsyncSession, token: str) -> tuple[StaffLink, User] | None:
    """The link and its person, if it is unused, unexpired and the account
    not disabled; reading it changes nothing."""
    if not onetime.looks_like_token(token):
        return None
    found = (
        await session.exec(
            select(StaffLink, User)
            .join(User, User.id == StaffLink.user_id)  # type: ignore[arg-type]
            .where(StaffLink.token_hash == onetime.token_hash(token))
        )
    ).first()
    if found is None:
        return None
    link, user = found
    if link.used_at is not None or link.expires_at <= clock.now() or user.disabled_at is not None:
        return None
    return link, user


class LinkUnusable(InvalidInput):
    """The link is unknown, used, expired, or its account is disabled."""


async def set_password(session: AsyncSession, *, token: str, password: str) -> User:
    """Use the link: set the password and spend the link. One conditional
    UPDATE spends it, so two uses at once cannot both succeed."""
    found = await usable_link(session, token)
    if found is None:
        raise LinkUnusable("this link is not valid any more: it was used, or it expired")
    link, user = found
    auth_service.check_password_rules(password)
    spent = await run(
        session,
        update(StaffLink)
        .where(
            col(StaffLink.id) == link.id,
            col(StaffLink.used_at).is_(None),
            col(StaffLink.expires_at) > clock.now(),
        )
        .values(used_at=clock.now()),
    )
    if spent.rowcount != 1:
        raise LinkUnusable("this link is not valid any more: it was used, or it expired")
    user.password_hash = auth_service.hash_password(password)
    user.failures_cleared_at = clock.now()
    session.add(user)
    await session.flush()
    return user


# -- the changes ------------------------------------------------------------------------


async def invite(
    session: AsyncSession,
    *,
    email: str,
    role: Role | str,
    by_user_id: int | None,
    language: str = i18n.DEFAULT,
) -> tuple[User, Link]:
    """A new account without a password, and its invitation link (72 h). The
    member sees the staff pages in ``language`` until they choose another."""
    role = parse_role(role) if isinstance(role, str) else role
    # create_user's checks (the address, no duplicate) with a placeholder
    # that meets the password rules; it is replaced at once.
    user = await auth_service.create_user(
        session,
        email=email,
        role=role,
        password="x" * auth_service.MIN_PASSWORD_LENGTH,
        language=language,
    )
    user.password_hash = NO_PASSWORD
    session.add(user)
    link = await _new_link(
        session, user=user, purpose=StaffLinkPurpose.INVITE, by_user_id=by_user_id
    )
    return user, link


async def _revoke_tokens(session: AsyncSession, *, user_id: int, by_user_id: int | None) -> int:
    result = await run(
        session,
        update(ApiToken)
        .where(col(ApiToken.user_id) == user_id, col(ApiToken.revoked_at).is_(None))
        .values(revoked_at=clock.now(), revoked_by_user_id=by_user_id),
    )
    return int(result.rowcount or 0)


@dataclass(frozen=True, slots=True)
class Ended:
    """What a disable or reset ended at once."""

    user: User
    tokens_revoked: int
    changed: bool = True


async def disable(session: AsyncSession, *, user_id: int, by_user_id: int | None) -> Ended:
    """Disable the account: its sessions end and its tokens are revoked now."""
    user = await _locked(session, user_id)
    if user.disabled_at is not None:
        return Ended(user=user, tokens_revoked=0, changed=False)
    user.disabled_at = clock.now()
    session.add(user)
    await end_all_sessions(session, user_id=user.id)
    revoked = await _revoke_tokens(session, user_id=user_id, by_user_id=by_user_id)
    await _refuse_no_admin_left(session)
    return Ended(user=user, tokens_revoked=revoked)


async def enable(session: AsyncSession, *, user_id: int) -> tuple[User, bool]:
    """Let the person sign in again; ended sessions and revoked tokens stay so.
    Returns the user and whether anything changed."""
    user = await get(session, user_id)
    if user.disabled_at is None:
        return user, False
    user.disabled_at = None
    user.failures_cleared_at = clock.now()
    session.add(user)
    await session.flush()
    return user, True


async def set_role(
    session: AsyncSession, *, user_id: int, role: Role | str
) -> tuple[User, Role, Role]:
    """Change the role; the next request of every session and token of the
    person has the new role's permissions. Returns (user, before, after)."""
    role = parse_role(role) if isinstance(role, str) else role
    user = await _locked(session, user_id)
    before = user.role
    user.role = role
    session.add(user)
    if before is Role.ADMIN and role is not Role.ADMIN:
        await _refuse_no_admin_left(session)
    await session.flush()
    return user, before, role


async def reset_password(
    session: AsyncSession, *, user_id: int, by_user_id: int | None
) -> tuple[Ended, Link]:
    """Take away the password and the second factor, end the sessions,
    revoke the tokens, and make a set-password link (24 h)."""
    user = await _locked(session, user_id)
    if user.disabled_at is not None:
        message = "the user is disabled: enable them first"
        raise Conflict(message, reason="user_disabled", fields={"user": message})
    user.password_hash = NO_PASSWORD
    session.add(user)
    await reset_second_factor(session, user=user)
    revoked = await _revoke_tokens(session, user_id=user_id, by_user_id=by_user_id)
    await _refuse_no_admin_left(session)
    link = await _new_link(
        session, user=user, purpose=StaffLinkPurpose.RESET, by_user_id=by_user_id
    )
    return Ended(user=user, tokens_revoked=revoked), link
