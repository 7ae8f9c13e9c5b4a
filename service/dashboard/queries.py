"""The dashboard's set-based counts. Each is one statement over a whole table
(no query per contact or per campaign); the gate's own expressions decide
who is reachable, so these agree with the contact list's filters."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlmodel import col
from sqlmodel import select as select_rows
from sqlmodel.ext.asyncio.session import AsyncSession

from service.consent.queries import Gate, GateContext
from service.db import run
from service.models import Campaign, ConsentEvent, Contact
from service.models.enums import ConsentAction


async def contact_counts(session: AsyncSession) -> tuple[int, int]:
    """(contacts, of them unconfirmed signups) in one pass."""
    unconfirmed = func.count(col(Contact.pending_since))
    row = (await run(session, select(func.count(), unconfirmed).select_from(Contact))).one()
    return int(row[0]), int(row[1])


async def reachable(session: AsyncSession, context: GateContext) -> int:
    """How many contacts the gate lets through in ``context``: one COUNT over
    the gate's FROM clause, the eligible predicate as its WHERE. On PostgreSQL
    planned afresh, as the campaign audience is (campaigns.queries.audience):
    a generic plan kept for the connection can be far off for the gate."""
    gate = Gate(context)
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        await run(session, text("SET LOCAL plan_cache_mode = force_custom_plan"))
    count = (
        await run(session, select(func.count()).select_from(gate.source).where(gate.eligible()))
    ).scalar_one()
    if postgres:
        await run(session, text("SET LOCAL plan_cache_mode TO DEFAULT"))
    return int(count)


async def consent_days(
    session: AsyncSession, *, since: datetime
) -> list[tuple[date, ConsentAction, int]]:
    """Grants and withdrawals per UTC day from ``since``: a row per day and
    action that has any."""
    day = func.date(col(ConsentEvent.occurred_at))
    action = col(ConsentEvent.action)
    rows = (
        await run(
            session,
            select(day, action, func.count())
            .where(
                col(ConsentEvent.occurred_at) >= since,
                action.in_([ConsentAction.GRANT.value, ConsentAction.WITHDRAW.value]),
            )
            .group_by(day, action),
        )
    ).all()
    return [(_day(value), ConsentAction(kind), int(n)) for value, kind, n in rows]


def _day(value: Any) -> date:
    """SQLite's date() is text; PostgreSQL's a date."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


async def recent_campaigns(session: AsyncSession, *, limit: int) -> list[Campaign]:
    """The latest campaigns that started sending, newest first."""
    rows = await session.exec(
        select_rows(Campaign)
        .where(col(Campaign.started_at).is_not(None))
        .order_by(col(Campaign.started_at).desc(), col(Campaign.id).desc())
        .limit(limit)
    )
    return list(rows.all())
