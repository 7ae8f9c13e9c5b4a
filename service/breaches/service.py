"""The breach register (GDPR 33(5)): record, change, list.

The authority is due 72 hours after the company became aware of a breach
(Art. 33(1)). A breach whose risk is assessed ``unlikely`` is documented and
not notified; any other is pending until the authority is notified or the
breach is closed with the reason it was not. Pending breaches are flagged as
the requests register flags its requests: ``due_soon`` within the last 24
hours, ``overdue`` after them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, not_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.breaches.schemas import BreachCreate, BreachPage, BreachRead, BreachUpdate
from service.errors import InvalidInput, NotFound
from service.labels import N_
from service.models import Breach
from service.models.enums import BreachRisk

# Art. 33(1): "where feasible, not later than 72 hours after having become aware of it".
AUTHORITY_DEADLINE = timedelta(hours=72)
# "Due soon": the last day of the 72 hours.
SOON = timedelta(hours=24)
_LISTS_ARE_CLEARED = ("data_categories", "people_categories")


async def get(session: AsyncSession, breach_id: int) -> Breach:
    breach = await session.get(Breach, breach_id)
    if breach is None:
        raise NotFound(f"no breach with id {breach_id}")
    return breach


async def create(session: AsyncSession, *, data: BreachCreate, user_id: int | None) -> Breach:
    breach = Breach(**data.model_dump(), recorded_by_user_id=user_id)
    check(breach)
    session.add(breach)
    await session.flush()
    return breach


async def update(session: AsyncSession, *, breach: Breach, data: BreachUpdate) -> Breach:
    """Replace the fields given; the whole breach must still hold together."""
    changes = data.model_dump(exclude_unset=True)
    for name in ("discovered_at", "nature", "risk"):
        if name in changes and changes[name] is None:
            raise InvalidInput(
                f"{name} cannot be cleared", fields={name: N_("required; give a value")}
            )
    for name, value in changes.items():
        setattr(breach, name, [] if value is None and name in _LISTS_ARE_CLEARED else value)
    check(breach)
    breach.updated_at = clock.now()
    session.add(breach)
    await session.flush()
    return breach


def authority_due_at(breach: Breach) -> datetime:
    return breach.discovered_at + AUTHORITY_DEADLINE


def check(breach: Breach) -> None:
    """The rules a breach's facts keep together; every broken one is named."""
    fields: dict[str, str] = {}
    discovered = breach.discovered_at
    if breach.occurred_at is not None and breach.occurred_at > discovered:
        fields["occurred_at"] = "must not be after discovered_at"
    for name in ("authority_notified_at", "people_informed_at", "closed_at"):
        moment = getattr(breach, name)
        if moment is not None and moment < discovered:
            fields[name] = "must not be before discovered_at"
    notified = breach.authority_notified_at
    if notified is not None and notified > authority_due_at(breach) and not breach.delay_reason:
        fields["delay_reason"] = (
            "required: the authority was notified more than 72 hours after discovery (GDPR 33(1))"
        )
    if breach.closed_at is not None and notified is None and not breach.not_notified_reason:
        fields["not_notified_reason"] = (
            "required to close a breach the authority was not notified of"
        )
    if breach.authority_reference is not None and notified is None:
        fields["authority_reference"] = "give authority_notified_at with the reference"
    if breach.people_informed_how is not None and breach.people_informed_at is None:
        fields["people_informed_at"] = "required with people_informed_how"
    if fields:
        raise InvalidInput(N_("the breach's facts do not hold together"), fields=fields)


def _pending() -> Any:
    """A breach the authority is still to be told of."""
    return and_(
        col(Breach.authority_notified_at).is_(None),
        col(Breach.closed_at).is_(None),
        col(Breach.risk) != BreachRisk.UNLIKELY,
    )


async def list_(
    session: AsyncSession,
    *,
    open_: bool | None = None,
    overdue: bool | None = None,
    due_soon: bool | None = None,
    limit: int,
    offset: int,
) -> tuple[Sequence[Breach], int]:
    """Breaches matching every filter given: the pending ones first, the most
    urgent of them first, then the rest, the newest first."""
    now = clock.now()
    # Compared on discovered_at itself, so no database has to add hours.
    past_due = col(Breach.discovered_at) < now - AUTHORITY_DEADLINE
    conditions: list[Any] = []
    if open_ is True:
        conditions.append(col(Breach.closed_at).is_(None))
    elif open_ is False:
        conditions.append(col(Breach.closed_at).is_not(None))
    if overdue is True:
        conditions.append(and_(_pending(), past_due))
    elif overdue is False:
        conditions.append(not_(and_(_pending(), past_due)))
    if due_soon is True:
        # Due within SOON and not yet past due.
        soon_from = now - (AUTHORITY_DEADLINE - SOON)
        conditions.extend([_pending(), ~past_due, col(Breach.discovered_at) < soon_from])
    total = (await session.exec(select(func.count()).select_from(Breach).where(*conditions))).one()
    pending_first = case((_pending(), 0), else_=1)
    rows = await session.exec(
        select(Breach)
        .where(*conditions)
        .order_by(
            pending_first,
            # Pending: the oldest (the most due) first; the rest tie here.
            case((_pending(), col(Breach.discovered_at)), else_=None),
            col(Breach.discovered_at).desc(),
            col(Breach.id).desc(),
        )
        .limit(limit)
        .offset(offset)
    )
    return rows.all(), total


async def counts(session: AsyncSession) -> tuple[int, int]:
    """(overdue, due soon) among pending breaches: the dashboard's numbers."""
    _, overdue = await list_(session, overdue=True, limit=1, offset=0)
    _, soon = await list_(session, due_soon=True, limit=1, offset=0)
    return overdue, soon


def to_read(breach: Breach) -> BreachRead:
    now = clock.now()
    due = authority_due_at(breach)
    pending = (
        breach.authority_notified_at is None
        and breach.closed_at is None
        and breach.risk is not BreachRisk.UNLIKELY
    )
    return BreachRead(
        **breach.model_dump(),
        authority_due_at=due,
        due_soon=pending and now <= due < now + SOON,
        overdue=pending and now > due,
        hours_left=round((due - now).total_seconds() / 3600, 1) if pending else None,
        people_to_inform=breach.risk is BreachRisk.HIGH and breach.people_informed_at is None,
    )


def page(breaches: Sequence[Breach], total: int, *, limit: int, offset: int) -> BreachPage:
    return BreachPage(items=[to_read(b) for b in breaches], total=total, limit=limit, offset=offset)
