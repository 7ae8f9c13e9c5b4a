"""HTTP routes of the breach register (BREACHES_MANAGE: admin, privacy_officer).

Every change goes through the API's audit trail (``breach.create``,
``breach.update``); the register names no one, so reading it is not a read
of personal data.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit import trail
from service.auth.middleware import requires
from service.auth.permissions import Permission
from service.auth.service import Principal
from service.breaches import service
from service.breaches.schemas import BreachCreate, BreachPage, BreachRead, BreachUpdate

Session = NamedDependency[AsyncSession]
StaffRequest = Request[Principal, Any, Any]
Limit = Annotated[int, QueryParameter(ge=1, le=500)]
Offset = Annotated[int, QueryParameter(ge=0, le=2**63 - 1)]
MANAGE = [requires(Permission.BREACHES_MANAGE)]


class BreachController(Controller):
    path = "/breaches"
    tags = ["breaches"]

    # "breaches" would derive "breache.create": the names are given.
    @post("/", guards=MANAGE, status_code=201, opt={"audit": "breach.create"})
    async def create_breach(
        self, request: StaffRequest, db_session: Session, data: JSONBody[BreachCreate]
    ) -> BreachRead:
        """Document a breach (GDPR 33(5)); the authority is due 72 hours after
        ``discovered_at`` (``authority_due_at``)."""
        row = await service.create(db_session, data=data, user_id=request.user.user_id)
        trail.annotate(db_session, breach_id=row.id)
        return service.to_read(row)

    @get("/", guards=MANAGE)
    async def list_breaches(
        self,
        db_session: Session,
        open: FromQuery[bool | None] = None,
        overdue: FromQuery[bool | None] = None,
        due_soon: FromQuery[bool | None] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> BreachPage:
        """Breaches: those the authority is still to be told of first, the most
        due first; then the rest, the newest first."""
        rows, total = await service.list_(
            db_session, open_=open, overdue=overdue, due_soon=due_soon, limit=limit, offset=offset
        )
        return service.page(rows, total, limit=limit, offset=offset)

    @get("/{breach_id:int}", guards=MANAGE)
    async def get_breach(self, db_session: Session, breach_id: FromPath[int]) -> BreachRead:
        return service.to_read(await service.get(db_session, breach_id))

    @patch("/{breach_id:int}", guards=MANAGE, opt={"audit": "breach.update"})
    async def update_breach(
        self, db_session: Session, breach_id: FromPath[int], data: JSONBody[BreachUpdate]
    ) -> BreachRead:
        """Add what became known (Art. 33(4)): the notification, its delay's
        reason, the people informed (Art. 34), the closing."""
        row = await service.get(db_session, breach_id)
        row = await service.update(db_session, breach=row, data=data)
        return service.to_read(row)
