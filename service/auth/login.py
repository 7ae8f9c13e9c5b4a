"""Interactive staff login: the password, then the second factor, then a session.

1. ``check_password`` opens a *pending* session: the password was right, the
   second factor is still owed. A pending session opens nothing but the next
   step, and lapses after ``PENDING_MINUTES``.
2. An enrolled user gives a code from the authenticator app, or a recovery
   code (``complete_with_code``). A user without a second factor must enrol
   first (``enrolment_secret`` → ``confirm_enrolment``, which returns the
   recovery codes to show once): there is no way in without one.
3. A complete session lasts until it is idle for ``session_idle_minutes`` or
   ``session_max_hours`` after it began, whichever comes first, or logout.

Throttling: failed steps are counted per account (a keyed hash of the email
typed, so an address with no account is throttled the same and cannot be
told apart) and per IP address over ``WINDOW``. Past the limits the account
or address is refused until its oldest counted failure leaves the window.
Every step, failed or not, is a row in ``login_attempts``; the callers commit
it even when the step fails.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, delete, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.auth import totp
from service.auth.service import Principal
from service.crypto import DataCipher
from service.models import LoginAttempt, RecoveryCode, StaffSession, User
from service.models.enums import LoginOutcome
from service.settings import Settings
from service.validation import InvalidValue, normalize_email

WINDOW = timedelta(minutes=15)
# Login attempts carry IP addresses: kept long enough to look into an attack
# on an account, then deleted (each successful sign-in sweeps the old ones).
ATTEMPT_RETENTION = timedelta(days=90)
MAX_ACCOUNT_FAILURES = 5
MAX_ADDRESS_FAILURES = 20
PENDING_MINUTES = 5
SESSION_PREFIX = "css_"
# Writing last_seen_at on every page would turn every read into a write; the
# idle timeout is counted in minutes, so a minute's resolution is enough.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)
_FAILED = (LoginOutcome.PASSWORD_FAILED, LoginOutcome.SECOND_FACTOR_FAILED)
_hasher = PasswordHasher()
# Checked when the email is no account, so that answer takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


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


@dataclass(frozen=True, slots=True)
class Opened:
    """A session just opened: the row and the token for the cookie (shown once)."""

    row: StaffSession
    token: str


def hash_session_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def account_hash(cipher: DataCipher, email: str) -> str:
    try:
        key = normalize_email(email)
    except InvalidValue:
        key = email.strip().lower()
    return cipher.lookup_hash("staff-login", key)


# -- throttling ---------------------------------------------------------------


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


def _record(
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


async def _refuse_if_throttled(
    session: AsyncSession, *, account: str, user: User | None, ip: str | None
) -> None:
    until = await throttled_until(session, account=account, user=user, ip=ip)
    if until is not None:
        _record(session, account=account, user=user, ip=ip, outcome=LoginOutcome.THROTTLED)
        raise LoginThrottled(until, user_id=user.id if user is not None else None)


# -- step 1: the password -------------------------------------------------------


async def _user_by_email(session: AsyncSession, email: str) -> User | None:
    try:
        email = normalize_email(email)
    except InvalidValue:
        return None
    return (await session.exec(select(User).where(User.email == email))).first()


def _password_matches(user: User | None, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash if user else _DUMMY_HASH, password) and bool(user)
    except (VerificationError, InvalidHashError):
        return False


async def check_password(
    session: AsyncSession, *, email: str, password: str, ip: str | None, cipher: DataCipher
) -> Opened:
    """Open a pending session for a right password; raise ``LoginRefused`` otherwise."""
    account = account_hash(cipher, email)
    user = await _user_by_email(session, email)
    await _refuse_if_throttled(session, account=account, user=user, ip=ip)
    if not _password_matches(user, password) or user is None or user.disabled_at is not None:
        _record(session, account=account, user=user, ip=ip, outcome=LoginOutcome.PASSWORD_FAILED)
        raise LoginRefused(
            "The email or the password is wrong.", user_id=user.id if user is not None else None
        )
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
        session.add(user)
    _record(session, account=account, user=user, ip=ip, outcome=LoginOutcome.PASSWORD_ACCEPTED)
    await session.exec(
        delete(LoginAttempt).where(col(LoginAttempt.at) < clock.now() - ATTEMPT_RETENTION)
    )
    return await _open(session, user=user, lifetime=timedelta(minutes=PENDING_MINUTES))


async def open_complete_session(session: AsyncSession, *, user: User, settings: Settings) -> Opened:
    """A signed-in session without the login steps: for tests and tools that
    stand in for a person who already proved both factors."""
    opened = await _open(session, user=user, lifetime=timedelta(hours=settings.session_max_hours))
    opened.row.second_factor_at = clock.now()
    return opened


async def _open(session: AsyncSession, *, user: User, lifetime: timedelta) -> Opened:
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


# -- step 2: the second factor ----------------------------------------------------


async def _second_factor_failed(
    session: AsyncSession, *, user: User, ip: str | None, cipher: DataCipher
) -> LoginRefused:
    _record(
        session,
        account=account_hash(cipher, user.email),
        user=user,
        ip=ip,
        outcome=LoginOutcome.SECOND_FACTOR_FAILED,
    )
    return LoginRefused("The code is wrong or was already used.", user_id=user.id)


async def _complete(
    session: AsyncSession,
    *,
    pending: StaffSession,
    user: User,
    ip: str | None,
    cipher: DataCipher,
    settings: Settings,
) -> Opened:
    """End the pending session and open a complete one under a new token: the
    token that was handed out before the second factor never grants anything."""
    now = clock.now()
    pending.ended_at = now
    session.add(pending)
    user.failures_cleared_at = now
    session.add(user)
    _record(
        session,
        account=account_hash(cipher, user.email),
        user=user,
        ip=ip,
        outcome=LoginOutcome.SECOND_FACTOR_ACCEPTED,
    )
    opened = await _open(session, user=user, lifetime=timedelta(hours=settings.session_max_hours))
    opened.row.second_factor_at = now
    return opened


async def complete_with_code(
    session: AsyncSession,
    *,
    pending: StaffSession,
    code: str,
    ip: str | None,
    cipher: DataCipher,
    settings: Settings,
) -> tuple[Opened, bool]:
    """Check an authenticator code or a recovery code for an enrolled user.

    Returns the complete session, and whether a recovery code was used."""
    user = await session.get(User, pending.user_id)
    assert user is not None
    assert user.totp_secret is not None
    await _refuse_if_throttled(session, account=account_hash(cipher, user.email), user=user, ip=ip)
    secret = cipher.decrypt(user.totp_secret, context=_totp_context(user))
    step = totp.verify(secret, code, now=clock.now(), last_step=user.totp_last_step)
    if step is not None:
        user.totp_last_step = step
        return await _complete(
            session, pending=pending, user=user, ip=ip, cipher=cipher, settings=settings
        ), False
    recovery = totp.normalize_recovery_code(code)
    if recovery is not None and await _use_recovery_code(
        session, user=user, code=recovery, settings=settings
    ):
        return await _complete(
            session, pending=pending, user=user, ip=ip, cipher=cipher, settings=settings
        ), True
    raise await _second_factor_failed(session, user=user, ip=ip, cipher=cipher)


async def _use_recovery_code(
    session: AsyncSession, *, user: User, code: str, settings: Settings
) -> bool:
    # One UPDATE that only matches an unused code: two requests racing with
    # the same code cannot both succeed.
    result = await session.exec(
        update(RecoveryCode)
        .where(
            col(RecoveryCode.user_id) == user.id,
            col(RecoveryCode.code_hash) == totp.hash_recovery_code(settings.secret_key, code),
            col(RecoveryCode.used_at).is_(None),
        )
        .values(used_at=clock.now())
    )
    return bool(result.rowcount)


async def unused_recovery_codes(session: AsyncSession, *, user_id: int) -> int:
    count = await session.exec(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user_id, col(RecoveryCode.used_at).is_(None))
    )
    return int(count.one())


# -- enrolment ----------------------------------------------------------------------


def _totp_context(user: User) -> bytes:
    # Bound to the user: a secret copied onto another user's row won't open.
    return f"consentry/totp/{user.id}".encode()


def enrolment_secret(pending: StaffSession, settings: Settings) -> str:
    """The secret offered at enrolment, derived from the pending session, so the
    QR code stays the same on reload and nothing is stored before it is confirmed."""
    digest = hashlib.sha256(
        settings.secret_key.encode()
        + b"\x00consentry/totp-enrol/v1\x00"
        + pending.token_hash.encode()
    ).digest()
    return totp.base32(digest[:20])


async def confirm_enrolment(
    session: AsyncSession,
    *,
    pending: StaffSession,
    code: str,
    ip: str | None,
    cipher: DataCipher,
    settings: Settings,
) -> tuple[Opened, list[str]]:
    """Store the second factor once the person proves the app has it; returns
    the complete session and the recovery codes to show, once."""
    user = await session.get(User, pending.user_id)
    assert user is not None
    assert user.id is not None
    await _refuse_if_throttled(session, account=account_hash(cipher, user.email), user=user, ip=ip)
    if user.totp_secret is not None:
        raise LoginRefused("A second factor is already set up for this account.")
    secret = enrolment_secret(pending, settings)
    step = totp.verify(secret, code, now=clock.now(), last_step=None)
    if step is None:
        raise await _second_factor_failed(session, user=user, ip=ip, cipher=cipher)
    user.totp_secret = cipher.encrypt(secret, context=_totp_context(user))
    user.totp_enabled_at = clock.now()
    user.totp_last_step = step
    codes = await replace_recovery_codes(session, user_id=user.id, settings=settings)
    opened = await _complete(
        session, pending=pending, user=user, ip=ip, cipher=cipher, settings=settings
    )
    return opened, codes


async def replace_recovery_codes(
    session: AsyncSession, *, user_id: int, settings: Settings
) -> list[str]:
    """New recovery codes; the old ones stop working."""
    await session.exec(
        update(RecoveryCode)
        .where(col(RecoveryCode.user_id) == user_id, col(RecoveryCode.used_at).is_(None))
        .values(used_at=clock.now())
    )
    codes = totp.new_recovery_codes()
    for code in codes:
        session.add(
            RecoveryCode(
                user_id=user_id, code_hash=totp.hash_recovery_code(settings.secret_key, code)
            )
        )
    await session.flush()
    return codes


async def reset_second_factor(session: AsyncSession, *, user: User) -> None:
    """Remove the second factor (lost phone): the next login enrols anew, and
    every open session of the user ends."""
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    session.add(user)
    await session.exec(
        update(RecoveryCode)
        .where(col(RecoveryCode.user_id) == user.id, col(RecoveryCode.used_at).is_(None))
        .values(used_at=clock.now())
    )
    await end_all_sessions(session, user_id=user.id)


async def unlock(session: AsyncSession, *, user: User) -> None:
    """Forget the account's failed attempts so far (an admin, after checking)."""
    user.failures_cleared_at = clock.now()
    session.add(user)


# -- sessions -------------------------------------------------------------------------


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
