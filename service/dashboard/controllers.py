"""``GET /api/v1/dashboard``: the staff home page's figures as JSON."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from sqlmodel.ext.asyncio.session import AsyncSession

from service.auth.middleware import requires
from service.auth.permissions import Permission
from service.auth.service import Principal
from service.dashboard import service
from service.dashboard.schemas import Dashboard

Session = NamedDependency[AsyncSession]
StaffRequest = Request[Principal, Any, State]


class DashboardController(Controller):
    path = "/dashboard"
    tags = ["dashboard"]

    @get("/", guards=[requires(Permission.CONTACTS_READ)])
    async def dashboard(self, request: StaffRequest, db_session: Session) -> Dashboard:
        """The register's health, counts only: contacts and who may be reached
        per channel today, consents granted and withdrawn per week, what came
        back from the latest campaigns, and the requests and breaches due.
        A part the caller's role may not see is null."""
        return await service.overview(db_session, can=request.user.can)
