"""Rate limits for the public forms that send mail (a signup's confirmation,
the privacy portal's link): at most so many per address and per IP network
in a window, counted in ``public_attempts`` under keyed hashes.

A request over a limit is answered exactly as any other (the caller just
sends nothing), so the limit tells nobody whether an address is registered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.crypto import DataCipher
from service.db import run
from service.models import PublicAttempt

# Rows are kept for the longest window and swept as new ones come in.
KEEP = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Limit:
    kind: str  # e.g. "signup-address", "signup-ip", "portal-address"
    count: int
    window: timedelta


async def allow(session: AsyncSession, cipher: DataCipher, limit: Limit, key: str) -> bool:
    """Whether one more use under ``key`` is within ``limit``; if it is, the
    use is counted. ``key`` is a normalised address or an IP network."""
    now = clock.now()
    key_hash = cipher.lookup_hash(f"public-limit:{limit.kind}", key)
    used = await session.scalar(
        select(func.count())
        .select_from(PublicAttempt)
        .where(
            col(PublicAttempt.kind) == limit.kind,
            col(PublicAttempt.key_hash) == key_hash,
            col(PublicAttempt.occurred_at) > now - limit.window,
        )
    )
    if (used or 0) >= limit.count:
        return False
    session.add(PublicAttempt(kind=limit.kind, key_hash=key_hash, occurred_at=now))
    await run(session, delete(PublicAttempt).where(col(PublicAttempt.occurred_at) < now - KEEP))
    return True
