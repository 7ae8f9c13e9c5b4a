"""Every login step is a row in ``login_attempts``; the failures among them
throttle the next steps.

Failed steps are counted per account (a keyed hash of the email typed, so an
address with no account is throttled the same and cannot be told apart) and
per IP address over ``WINDOW``. Past the limits the account or address is
refused until its oldest counted failure leaves the window.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.crypto import DataCipher
from service.models import LoginAttempt, User
from service.models.enums import LoginOutcome
from service.validation import InvalidValue, normalize_email

WINDOW = timedelta(minutes=15)
# Login attempts carry IP addresses: kept long enough to look into an attack
# on an account, then deleted (each successful sign-in sweeps the old ones).
ATTEMPT_RETENTION = timedelta(days=90)
MAX_ACCOUNT_FAILURES = 5
MAX_ADDRESS_FAILURES = 20
_FAILED = (LoginOutcome.PASSWORD_FAILED, LoginOutcome.SECOND_FACTOR_FAILED)


class LoginRefused(Exception):
    """A login step failed. The message is what the person is told; ``user_id``
    is the account tried, when there is one (for the audit trail, not for them)."""

    def __init__(self, message: str, *, user_id: int | None = None) -> None:
        super().__init__(message)
        self.user_id = user_id


class LoginThrottled(LoginRefused):
    def __init__(self, until: datetime, *, user_id: int | None = None) -> None:
        minutes = max(1, int((until - clock.now()).total_seconds() + 59) // 60)
        super().__init__(
            f"Too many failed attempts. Try again in {minutes} minute{'s' * (minutes > 1)}.",
            user_id=user_id,
        )
        self.until = until


def account_hash(cipher: DataCipher, email: str) -> str:
    try:
        key = normalize_email(email)
    except InvalidValue:
        key = email.strip().lower()
    return cipher.lookup_hash("staff-login", key)


async def _locked_until(
    session: AsyncSession, *, where: ColumnElement[bool], limit: int, since: datetime
) -> datetime | None:
    """When the newest ``limit`` failures matching ``where`` drop below the
    limit, if they are at the limit now."""
    rows = await session.exec(
        select(LoginAttempt.at)
        .where(where, col(LoginAttempt.outcome).in_(_FAILED), LoginAttempt.at > since)
        .order_by(col(LoginAttempt.at).desc())
        .limit(limit)
    )
    recent = rows.all()
    return recent[-1] + WINDOW if len(recent) >= limit else None


async def throttled_until(
    session: AsyncSession, *, account: str, user: User | None, ip: str | None
) -> datetime | None:
    """The moment this account and address may try again, or None: they may now."""
    now = clock.now()
    since = now - WINDOW
    cleared = user.failures_cleared_at if user is not None else None
    account_since = max(since, cleared) if cleared is not None else since
    moments = [
        await _locked_until(
            session,
            where=col(LoginAttempt.account_hash) == account,
            limit=MAX_ACCOUNT_FAILURES,
            since=account_since,
        )
    ]
    if ip is not None:
        moments.append(
            await _locked_until(
                session,
                where=col(LoginAttempt.ip_address) == ip,
                limit=MAX_ADDRESS_FAILURES,
                since=since,
            )
        )
    return max((moment for moment in moments if moment is not None), default=None)


def record(
    session: AsyncSession,
    *,
    account: str,
    user: User | None,
    ip: str | None,
    outcome: LoginOutcome,
) -> None:
    session.add(
        LoginAttempt(
            account_hash=account,
            user_id=user.id if user is not None else None,
            ip_address=ip,
            outcome=outcome,
        )
    )


async def refuse_if_throttled(
    session: AsyncSession, *, account: str, user: User | None, ip: str | None
) -> None:
    until = await throttled_until(session, account=account, user=user, ip=ip)
    if until is not None:
        record(session, account=account, user=user, ip=ip, outcome=LoginOutcome.THROTTLED)
        raise LoginThrottled(until, user_id=user.id if user is not None else None)


async def unlock(session: AsyncSession, *, user: User) -> None:
    """Forget the account's failed attempts so far (an admin, after checking)."""
    user.failures_cleared_at = clock.now()
    session.add(user)
