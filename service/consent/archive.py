"""The archive of consent texts: every text shown to a person when they
decide (a form's checkbox, the preference centre's choices, the cookie
banner, the unsubscribe page's choices), stored once per version and
language with its SHA-256, never changed.

``archive`` is the one writer: given the words shown now, it returns the
archived version with exactly those words, making the next version when the
words changed. Ledger events point at the version they were given
(``ConsentEvent.text_id``), so the words behind any consent can be read and
their hash checked long after the text was changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.errors import NotFound
from service.models import ConsentText

MAX_TEXT_LENGTH = 4000


def text_hash(body: str) -> str:
    """The SHA-256 of the exact words (UTF-8), hex: what a receipt quotes."""
    return hashlib.sha256(body.encode()).hexdigest()


async def latest(session: AsyncSession, key: str, language: str) -> ConsentText | None:
    rows = await session.exec(
        select(ConsentText)
        .where(ConsentText.key == key, ConsentText.language == language)
        .order_by(col(ConsentText.version).desc())
        .limit(1)
    )
    return rows.first()


async def archive(
    session: AsyncSession, *, key: str, language: str, body: str, user_id: int | None = None
) -> ConsentText:
    """The archived version of ``key`` in ``language`` whose words are
    ``body``: the latest one if its words are the same, else a new version."""
    digest = text_hash(body)
    for _attempt in range(3):
        current = await latest(session, key, language)
        if current is not None and current.hash == digest:
            return current
        text = ConsentText(
            key=key,
            language=language,
            version=(current.version + 1) if current is not None else 1,
            body=body,
            hash=digest,
            created_by_user_id=user_id,
        )
        try:
            async with session.begin_nested():
                session.add(text)
                await session.flush()
        except IntegrityError:
            # Another request archived a version of this key at the same
            # moment: read again and compare with theirs.
            continue
        return text
    raise RuntimeError(f"could not archive a version of {key!r}")  # pragma: no cover


async def get(session: AsyncSession, text_id: int) -> ConsentText:
    text = await session.get(ConsentText, text_id)
    if text is None:
        raise NotFound(f"no consent text with id {text_id}")
    return text


async def many(session: AsyncSession, text_ids: Sequence[int]) -> dict[int, ConsentText]:
    if not text_ids:
        return {}
    rows = await session.exec(select(ConsentText).where(col(ConsentText.id).in_(text_ids)))
    return {text.id: text for text in rows.all() if text.id is not None}


async def versions(session: AsyncSession, key: str) -> Sequence[ConsentText]:
    """Every version of ``key`` in every language, oldest first."""
    rows = await session.exec(
        select(ConsentText)
        .where(ConsentText.key == key)
        .order_by(col(ConsentText.language), col(ConsentText.version))
    )
    return rows.all()
