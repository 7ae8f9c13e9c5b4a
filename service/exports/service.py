"""Contacts as CSV or JSON for marketers: names and channels, nothing more.

The columns are fixed here, not chosen by the caller: name, nickname, email,
phone, language, tags, the direct-marketing consent state per channel (the
ledger's), and the consent gate's answer per channel (``gate_email`` …:
``eligible`` or the reason code, from ``consent.queries.states_among``).
Identity codes (not even masked), addresses, employer, profiles and every
other field stay out, whatever the role. The other header names are the
contact import's (docs/imports.md), so a file can go back in (an import
ignores the ``gate_*`` columns).

Left out: people who restricted processing (GDPR 18), always; and people who
refused direct marketing altogether (``consent.queries.REFUSALS``: a ban on
every channel, an objection, their address suppressed for it), unless the
exporter holds ``contacts:export_excluded`` (a privacy officer, an admin).
``summary`` counts them by reason, for the response and the audit row.

The file is written page by page (keyset on the contact id, each page in a
short transaction of its own), so a million contacts never sit in memory.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, not_, or_, select
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.consent.queries import EXPORT_CHANNELS, refusals, states_among
from service.contacts import service as contacts_service
from service.contacts.service import tags_of
from service.db import SessionMaker, run
from service.exports.cells import safe_cell
from service.imports.columns import TAG_SEPARATOR
from service.models import ConsentState, Contact, ContactTag
from service.models.enums import Language, Purpose

PAGE_SIZE = 1000
CONSENT_CHANNELS = EXPORT_CHANNELS
CONSENT_COLUMNS = tuple(
    f"consent_{channel.value}_{Purpose.DIRECT_MARKETING.value}" for channel in CONSENT_CHANNELS
)
# The gate's answer for direct marketing on each channel today.
GATE_COLUMNS = tuple(f"gate_{channel.value}" for channel in EXPORT_CHANNELS)
COLUMNS = (
    "full_name",
    "nickname",
    "email",
    "phone",
    "language",
    "tags",
    *CONSENT_COLUMNS,
    *GATE_COLUMNS,
)


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


@dataclass(frozen=True, slots=True)
class Scope:
    """What an export covers: the filters, and whether the people who refused
    direct marketing are in it (only for ``contacts:export_excluded``)."""

    filters: ContactFilter
    include_refused: bool = False


def _matching(filters: ContactFilter) -> list[ColumnElement[bool]]:
    """The filters alone."""
    conditions: list[ColumnElement[bool]] = []
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


def _restricted() -> ColumnElement[bool]:
    return col(Contact.restricted_at).is_not(None)


def _conditions(scope: Scope) -> list[ColumnElement[bool]]:
    """The contacts in the export: matching, never restricted, and not
    refused unless the scope includes them."""
    conditions = [*_matching(scope.filters), not_(_restricted())]
    if not scope.include_refused:
        conditions.append(not_(or_(*refusals(clock.today()).values())))
    return conditions


async def count(session: AsyncSession, *, scope: Scope) -> int:
    query = select(func.count()).select_from(Contact).where(*_conditions(scope))
    return int((await run(session, query)).scalar_one())


def _number(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def summary(session: AsyncSession, *, scope: Scope) -> dict[str, Any]:
    """How many contacts the export holds, how many the filters matched but
    it leaves out and why (by reason; a person may have several), and how
    many who refused direct marketing it holds (only with
    ``include_refused``). One pass over the matching contacts; no one named."""
    found = refusals(clock.today())
    refused = or_(*found.values())
    reasons: dict[str, ColumnElement[bool]] = {"restricted": _restricted()}
    if scope.include_refused:
        out = _restricted()
    else:
        out = or_(_restricted(), refused)
        reasons |= {reason.value: expression for reason, expression in found.items()}
    query = (
        select(
            func.count(),
            _number(out),
            _number(and_(refused, not_(_restricted()))),
            *(_number(expression) for expression in reasons.values()),
        )
        .select_from(Contact)
        .where(*_matching(scope.filters))
    )
    matched, left_out, refused_in, *by_reason = (await run(session, query)).one()
    return {
        "contacts": int(matched) - int(left_out),
        "left_out": int(left_out),
        "left_out_by_reason": {
            name: int(number) for name, number in zip(reasons, by_reason, strict=True) if number
        },
        "refused_included": int(refused_in) if scope.include_refused else 0,
    }


def audit_counts(summary: Mapping[str, Any]) -> dict[str, int]:
    """The summary as flat counts for the audit row (ids and counts only):
    ``left_out_objected`` … for each reason that left someone out."""
    return {
        "contacts": summary["contacts"],
        "left_out": summary["left_out"],
        **{f"left_out_{name}": n for name, n in summary["left_out_by_reason"].items()},
        "refused_included": summary["refused_included"],
    }


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
    session: AsyncSession, *, scope: Scope, after: int, size: int
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
        .where(*_conditions(scope), col(Contact.id) > after)
        .order_by(col(Contact.id))
        .limit(size)
    )
    contacts = (await run(session, query)).all()
    if not contacts:
        return [], None
    ids = [int(row[0]) for row in contacts]
    tags = await tags_of(session, ids)
    consents = await _consents(session, ids)
    gate = await states_among(session, clock.today(), ids)
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
                *(gate[contact_id][channel] for channel in EXPORT_CHANNELS),
            ]
        )
    return rows, ids[-1]


def _lines(rows: Iterable[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


async def _pages(
    sessionmaker: SessionMaker, *, scope: Scope, page_size: int
) -> AsyncIterator[list[list[str]]]:
    after = 0
    while True:
        async with sessionmaker() as session:
            rows, last = await _page(session, scope=scope, after=after, size=page_size)
        if rows:
            yield rows
        if last is None or len(rows) < page_size:
            return
        after = last


async def csv_chunks(
    sessionmaker: SessionMaker, *, scope: Scope, page_size: int = PAGE_SIZE
) -> AsyncIterator[str]:
    """The CSV file: the header, then one chunk of lines per page."""
    yield _lines([COLUMNS])
    async for rows in _pages(sessionmaker, scope=scope, page_size=page_size):
        yield _lines(rows)


async def json_chunks(
    sessionmaker: SessionMaker,
    *,
    scope: Scope,
    summary: Mapping[str, Any],
    page_size: int = PAGE_SIZE,
) -> AsyncIterator[str]:
    """The same as JSON: ``{"summary": …, "contacts": [{column: value}, …]}``,
    one chunk per page. Cells are as the CSV's (a formula-like name keeps its
    apostrophe: a JSON file is opened in spreadsheets too)."""
    yield '{"summary":' + json.dumps(summary, ensure_ascii=False) + ',"contacts":['
    first = True
    async for rows in _pages(sessionmaker, scope=scope, page_size=page_size):
        items = ",".join(
            json.dumps(dict(zip(COLUMNS, row, strict=True)), ensure_ascii=False) for row in rows
        )
        yield items if first else "," + items
        first = False
    yield "]}"
