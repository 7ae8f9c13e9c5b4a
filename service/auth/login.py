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

Every step, failed or not, is a row in ``login_attempts``; the callers commit
it even when the step fails. Failed steps throttle the next ones, per account
and per IP address (``service.auth.attempts``).

Step 1 is here; step 2 and enrolment are in ``service.auth.second_factor``,
the sessions in ``service.auth.sessions``. Every name callers use is
importable from this module.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.auth.attempts import (
    ATTEMPT_RETENTION,
    MAX_ACCOUNT_FAILURES,
    MAX_ADDRESS_FAILURES,
    WINDOW,
    LoginRefused,
    LoginThrottled,
    account_hash,
    record,
    refuse_if_throttled,
    throttled_until,
    unlock,
)
from service.auth.second_factor import (
    complete_with_code,
    confirm_enrolment,
    enrolment_secret,
    replace_recovery_codes,
    reset_second_factor,
    unused_recovery_codes,
)
from service.auth.sessions import (
    LAST_SEEN_RESOLUTION,
    SESSION_PREFIX,
    Opened,
    authenticate_session,
    end_all_sessions,
    end_session,
    find_session,
    hash_session_token,
    open_complete_session,
    open_session,
)
from service.crypto import DataCipher
from service.models import LoginAttempt, User
from service.models.enums import LoginOutcome
from service.validation import InvalidValue, normalize_email

__all__ = [
    "ATTEMPT_RETENTION",
    "LAST_SEEN_RESOLUTION",
    "MAX_ACCOUNT_FAILURES",
    "MAX_ADDRESS_FAILURES",
    "PENDING_MINUTES",
    "SESSION_PREFIX",
    "WINDOW",
    "LoginRefused",
    "LoginThrottled",
    "Opened",
    "account_hash",
    "authenticate_session",
    "check_password",
    "complete_with_code",
    "confirm_enrolment",
    "end_all_sessions",
    "end_session",
    "enrolment_secret",
    "find_session",
    "hash_session_token",
    "open_complete_session",
    "replace_recovery_codes",
    "reset_second_factor",
    "throttled_until",
    "unlock",
    "unused_recovery_codes",
]

PENDING_MINUTES = 5
_hasher = PasswordHasher()
# Checked when the email is no account, so that answer takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


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
    await refuse_if_throttled(session, account=account, user=user, ip=ip)
    if not _password_matches(user, password) or user is None or user.disabled_at is not None:
        record(session, account=account, user=user, ip=ip, outcome=LoginOutcome.PASSWORD_FAILED)
        raise LoginRefused(
            "The email or the password is wrong.", user_id=user.id if user is not None else None
        )
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
        session.add(user)
    record(session, account=account, user=user, ip=ip, outcome=LoginOutcome.PASSWORD_ACCEPTED)
    await session.exec(
        delete(LoginAttempt).where(col(LoginAttempt.at) < clock.now() - ATTEMPT_RETENTION)
    )
    return await open_session(session, user=user, lifetime=timedelta(minutes=PENDING_MINUTES))
