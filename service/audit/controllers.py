"""HTTP routes for searching the audit trail and naming its actors (``audit:read``:
privacy officers, admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit import service, trail
from service.audit.schemas import AuditPage, StaffMember
from service.auth.middleware import requires
from service.auth.permissions import Permission
from service.errors import InvalidInput

Session = NamedDependency[AsyncSession]
Limit = Annotated[int, QueryParameter(ge=1, le=500)]
# Beyond a 64-bit integer the database refuses the value itself (a 5xx otherwise).
Offset = Annotated[int, QueryParameter(ge=0, le=2**63 - 1)]
Id = Annotated[int | None, QueryParameter(ge=1, le=2**63 - 1)]
Action = Annotated[
    str | None,
    QueryParameter(
        max_length=64,
        pattern=r"^[a-z][a-z0-9_.]*$",
        description="An action name, e.g. contact.read or identity_code.reveal.",
    ),
]
Moment = Annotated[
    datetime | None,
    QueryParameter(description="ISO 8601 with an offset; since is inclusive, until exclusive."),
]


def _aware(name: str, value: datetime | None) -> datetime | None:
    if value is not None and value.utcoffset() is None:
        message = "must include a time zone offset, e.g. 2026-05-01T00:00:00+03:00"
        raise InvalidInput(f"{name} {message}", fields={name: message})
    return value


class AuditController(Controller):
    path = "/audit"
    tags = ["audit"]

    @get("/", guards=[requires(Permission.AUDIT_READ)], opt={"audit": "audit.search"})
    async def search(
        self,
        db_session: Session,
        contact_id: Id = None,
        user_id: Id = None,
        action: Action = None,
        since: Moment = None,
        until: Moment = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> Response[AuditPage]:
        """Who read or changed what, newest first: filter by person (``contact_id``),
        staff member (``user_id``), ``action`` and time (``since``, ``until``)."""
        filters = service.Filters(
            contact_id=contact_id,
            user_id=user_id,
            action=action,
            since=_aware("since", since),
            until=_aware("until", until),
        )
        items, total = await service.list_(db_session, filters=filters, limit=limit, offset=offset)
        # The search is itself a look at the person it names.
        trail.annotate(db_session, contact_id=contact_id, filters=filters.used())
        return Response(
            AuditPage(items=items, total=total, limit=limit, offset=offset),
            headers={"Cache-Control": "no-store"},
        )

    @get("/staff", guards=[requires(Permission.AUDIT_READ)])
    async def staff(self, db_session: Session) -> list[StaffMember]:
        """Every staff account (id, email, role), by email: who an event's
        ``actor_user_id`` is, and the ids the search's ``user_id`` takes."""
        return await service.staff_members(db_session)
