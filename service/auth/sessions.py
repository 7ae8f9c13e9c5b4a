"""Staff login sessions: opened by the login steps, found again from the
cookie's token on every request, ended by logout, idleness or age.

A session is *pending* until the second factor is given (``second_factor_at``
unset); only a complete one authenticates. The cookie carries a token; the
table keeps only its hash.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.auth.service import Principal
from service.models import StaffSession, User
from service.settings import Settings

SESSION_PREFIX = "css_"
# Writing last_seen_at on every page would turn every read into a write; the
# idle timeout is counted in minutes, so a minute's resolution is enough.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Opened:
    """A session just opened: the row and the token for the cookie (shown once)."""

    row: StaffSession
    token: str


def hash_session_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def open_complete_session(session: AsyncSession, *, user: User, settings: Settings) -> Opened:
    """A signed-in session without the login steps: for tests and tools that
    stand in for a person who already proved both factors."""
    opened = await open_session(
        session, user=user, lifetime=timedelta(hours=settings.session_max_hours)
    )
    opened.row.second_factor_at = clock.now()
    return opened


async def open_session(session: AsyncSession, *, user: User, lifetime: timedelta) -> Opened:
    """A new session of `user`, valid for `lifetime` unless it ends sooner."""
    assert user.id is not None
    token = SESSION_PREFIX + secrets.token_urlsafe(32)
    now = clock.now()
    row = StaffSession(
        user_id=user.id,
        token_hash=hash_session_token(token),
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime,
    )
    session.add(row)
    await session.flush()
    return Opened(row=row, token=token)


async def find_session(
    session: AsyncSession, *, token: str, settings: Settings
) -> tuple[StaffSession, User] | None:
    """The live session (pending or complete) behind a cookie, or None."""
    if not token.startswith(SESSION_PREFIX):
        return None
    row = (
        await session.exec(
            select(StaffSession, User)
            .join(User, User.id == StaffSession.user_id)  # type: ignore[arg-type]
            .where(StaffSession.token_hash == hash_session_token(token))
        )
    ).first()
    if row is None:
        return None
    staff_session, user = row
    now = clock.now()
    idle = timedelta(minutes=settings.session_idle_minutes)
    if (
        staff_session.ended_at is not None
        or staff_session.expires_at <= now
        or now - staff_session.last_seen_at > idle
        or user.disabled_at is not None
    ):
        return None
    return staff_session, user


async def authenticate_session(
    session: AsyncSession, *, token: str, settings: Settings
) -> Principal | None:
    """The principal of a complete, live session; keeps it from going idle."""
    found = await find_session(session, token=token, settings=settings)
    if found is None or found[0].second_factor_at is None:
        return None
    staff_session, user = found
    now = clock.now()
    if now - staff_session.last_seen_at > LAST_SEEN_RESOLUTION:
        staff_session.last_seen_at = now
        session.add(staff_session)
    assert user.id is not None
    assert staff_session.id is not None
    return Principal(
        user_id=user.id,
        email=user.email,
        role=user.role,
        token_id=None,
        session_id=staff_session.id,
        language=user.language,
    )


async def end_session(session: AsyncSession, *, token: str) -> StaffSession | None:
    row = (
        await session.exec(
            select(StaffSession).where(StaffSession.token_hash == hash_session_token(token))
        )
    ).first()
    if row is not None and row.ended_at is None:
        row.ended_at = clock.now()
        session.add(row)
    return row


async def end_all_sessions(session: AsyncSession, *, user_id: int | None) -> None:
    await session.exec(
        update(StaffSession)
        .where(col(StaffSession.user_id) == user_id, col(StaffSession.ended_at).is_(None))
        .values(ended_at=clock.now())
    )
