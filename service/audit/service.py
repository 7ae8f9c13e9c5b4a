"""Reading the audit trail: the privacy officer's search, a person's access log,
and the staff members its rows name.

Writing it is service.audit.chain's alone; nothing here or anywhere else
updates or deletes a row.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit.schemas import AuditEventRead, StaffMember
from service.db import run
from service.models import AuditEvent, User


@dataclass(frozen=True, slots=True)
class Filters:
    contact_id: int | None = None
    user_id: int | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def conditions(self) -> list[Any]:
        conditions: list[Any] = []
        if self.contact_id is not None:
            conditions.append(col(AuditEvent.contact_id) == self.contact_id)
        if self.user_id is not None:
            conditions.append(col(AuditEvent.actor_user_id) == self.user_id)
        if self.action is not None:
            conditions.append(col(AuditEvent.action) == self.action)
        if self.since is not None:
            conditions.append(col(AuditEvent.occurred_at) >= self.since)
        if self.until is not None:
            conditions.append(col(AuditEvent.occurred_at) < self.until)
        return conditions

    def used(self) -> list[str]:
        """The names of the filters given (the audit row of a search holds no values)."""
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]


def _with_role() -> Any:
    return select(AuditEvent, col(User.role)).outerjoin(
        User, col(User.id) == col(AuditEvent.actor_user_id)
    )


def _read(event: AuditEvent, role: Any) -> AuditEventRead:
    return AuditEventRead.model_validate(
        {**event.model_dump(exclude={"prev_hash", "row_hash"}), "actor_role": role}
    )


async def list_(
    session: AsyncSession, *, filters: Filters, limit: int, offset: int
) -> tuple[list[AuditEventRead], int]:
    """Matching events, newest first, and how many match in all."""
    conditions = filters.conditions()
    total = (
        await run(session, select(func.count()).select_from(AuditEvent).where(*conditions))
    ).scalar_one()
    query = (
        _with_role()
        .where(*conditions)
        .order_by(col(AuditEvent.id).desc())
        .limit(limit)
        .offset(offset)
    )
    rows = (await run(session, query)).all()
    return [_read(event, role) for event, role in rows], int(total)


async def about_contact(session: AsyncSession, contact_id: int) -> list[AuditEventRead]:
    """What staff did with the person's record, oldest first: the requests that
    succeeded (a refused attempt saw nothing)."""
    query = (
        _with_role()
        .where(col(AuditEvent.contact_id) == contact_id, col(AuditEvent.status_code) < 400)
        .order_by(col(AuditEvent.id))
    )
    return [_read(event, role) for event, role in (await run(session, query)).all()]


async def staff_members(session: AsyncSession) -> list[StaffMember]:
    """Every staff account, by email: who the trail's ``actor_user_id`` is, and
    the choices of the search's staff-member filter."""
    query = select(col(User.id), col(User.email), col(User.role)).order_by(col(User.email))
    return [
        StaffMember(id=user_id, email=email, role=role)
        for user_id, email, role in (await run(session, query)).all()
    ]
