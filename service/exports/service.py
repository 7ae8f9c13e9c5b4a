"""Contacts as CSV for marketers: names and channels, nothing more.

The columns are fixed here, not chosen by the caller: name, nickname, email,
phone, language, tags and the direct-marketing consent state per channel.
Identity codes (not even masked), addresses, employer, profiles and every
other field stay out, whatever the role. The header names are the contact
import's (docs/imports.md), so a file can go back in.

People who restricted processing (GDPR 18) or objected to direct marketing
(GDPR 21(3)) are left out: an export for marketing is processing for it.

The file is written page by page (keyset on the contact id, each page in a
short transaction of its own), so a million contacts never sit in memory.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, exists, func, select
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service.contacts import service as contacts_service
from service.contacts.service import tags_of
from service.db import SessionMaker, run
from service.exports.cells import safe_cell
from service.imports.columns import TAG_SEPARATOR
from service.models import ConsentState, Contact, ContactTag
from service.models.enums import Channel, Language, Purpose

PAGE_SIZE = 1000
CONSENT_CHANNELS = (Channel.EMAIL, Channel.SMS, Channel.PHONE, Channel.POST)
CONSENT_COLUMNS = tuple(
    f"consent_{channel.value}_{Purpose.DIRECT_MARKETING.value}" for channel in CONSENT_CHANNELS
)
COLUMNS = ("full_name", "nickname", "email", "phone", "language", "tags", *CONSENT_COLUMNS)


@dataclass(frozen=True, slots=True)
class ContactFilter:
    """The contact list's filters: a text fragment, an exact email, a tag, a language."""

    q: str | None = None
    email: str | None = None
    tag: str | None = None
    language: Language | None = None

    def names(self) -> list[str]:
        """Which filters are set, for the audit trail (never their values)."""
        return [name for name in ("q", "email", "tag", "language") if getattr(self, name)]


def _conditions(filters: ContactFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        col(Contact.restricted_at).is_(None),
        col(Contact.objected_at).is_(None),
    ]
    if filters.email is not None:
        conditions.append(col(Contact.email) == filters.email)
    if filters.q:
        conditions.append(contacts_service.matches(filters.q))
    if filters.tag:
        conditions.append(
            exists(
                select(col(ContactTag.tag))
                .where(
                    col(ContactTag.contact_id) == col(Contact.id),
                    col(ContactTag.tag) == filters.tag.strip().lower(),
                )
                .correlate(Contact)
            )
        )
    if filters.language is not None:
        conditions.append(col(Contact.language) == filters.language.value)
    return conditions


async def count(session: AsyncSession, *, filters: ContactFilter) -> int:
    query = select(func.count()).select_from(Contact).where(*_conditions(filters))
    return int((await run(session, query)).scalar_one())


async def _consents(session: AsyncSession, ids: Sequence[int]) -> dict[int, dict[str, str]]:
    rows = await run(
        session,
        select(
            col(ConsentState.contact_id), col(ConsentState.channel), col(ConsentState.action)
        ).where(
            col(ConsentState.contact_id).in_(ids),
            col(ConsentState.purpose) == Purpose.DIRECT_MARKETING.value,
        ),
    )
    states: dict[int, dict[str, str]] = defaultdict(dict)
    for contact_id, channel, action in rows.all():
        states[contact_id][str(channel)] = str(action)
    return states


async def _page(
    session: AsyncSession, *, filters: ContactFilter, after: int, size: int
) -> tuple[list[list[str]], int | None]:
    """One page of rows after contact id ``after``, and the last id on it."""
    query = (
        select(
            col(Contact.id),
            col(Contact.full_name),
            col(Contact.nickname),
            col(Contact.email),
            col(Contact.phone),
            col(Contact.language),
        )
        .where(*_conditions(filters), col(Contact.id) > after)
        .order_by(col(Contact.id))
        .limit(size)
    )
    contacts = (await run(session, query)).all()
    if not contacts:
        return [], None
    ids = [int(row[0]) for row in contacts]
    tags = await tags_of(session, ids)
    consents = await _consents(session, ids)
    rows = []
    for contact_id, full_name, nickname, email, phone, language in contacts:
        state = consents.get(contact_id, {})
        rows.append(
            [
                safe_cell(full_name),
                safe_cell(nickname or ""),
                safe_cell(email or ""),
                # E.164 ("+" and digits only): no formula can be made of it.
                phone or "",
                str(language),
                safe_cell(TAG_SEPARATOR.join(tags.get(contact_id, []))),
                *(state.get(channel.value, "") for channel in CONSENT_CHANNELS),
            ]
        )
    return rows, ids[-1]


def _lines(rows: Iterable[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


async def csv_chunks(
    sessionmaker: SessionMaker, *, filters: ContactFilter, page_size: int = PAGE_SIZE
) -> AsyncIterator[str]:
    """The CSV file: the header, then one chunk of lines per page."""
    yield _lines([COLUMNS])
    after = 0
    while True:
        async with sessionmaker() as session:
            rows, last = await _page(session, filters=filters, after=after, size=page_size)
        if rows:
            yield _lines(rows)
        if last is None or len(rows) < page_size:
            return
        after = last
