"""The second step of a staff login: a code from the authenticator app or a
recovery code; and enrolment, for a user who has no second factor yet.

There is no way in without a second factor: a user without one must enrol
first (``enrolment_secret`` → ``confirm_enrolment``, which returns the
recovery codes to show once).
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.auth import totp
from service.auth.attempts import LoginRefused, account_hash, record, refuse_if_throttled
from service.auth.sessions import Opened, end_all_sessions, open_session
from service.crypto import DataCipher
from service.models import RecoveryCode, StaffSession, User
from service.models.enums import LoginOutcome
from service.settings import Settings


async def _second_factor_failed(
    session: AsyncSession, *, user: User, ip: str | None, cipher: DataCipher
) -> LoginRefused:
    record(
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
    # A sign-in is complete only here, with both factors: shown to admins.
    user.last_sign_in_at = now
    session.add(user)
    record(
        session,
        account=account_hash(cipher, user.email),
        user=user,
        ip=ip,
        outcome=LoginOutcome.SECOND_FACTOR_ACCEPTED,
    )
    opened = await open_session(
        session, user=user, lifetime=timedelta(hours=settings.session_max_hours)
    )
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
    await refuse_if_throttled(session, account=account_hash(cipher, user.email), user=user, ip=ip)
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
    await refuse_if_throttled(session, account=account_hash(cipher, user.email), user=user, ip=ip)
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
