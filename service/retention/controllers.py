"""HTTP routes of the retention rules: the plan, for the web UI and scripts."""

from __future__ import annotations

from datetime import date

from litestar import Controller, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromQuery
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.auth.middleware import requires
from service.auth.permissions import Permission
from service.retention.plan import plan
from service.retention.schemas import Plan

Session = NamedDependency[AsyncSession]


class RetentionController(Controller):
    path = "/retention"
    tags = ["retention"]

    @get("/plan", guards=[requires(Permission.RIGHTS_MANAGE)])
    async def get_plan(
        self, state: State, db_session: Session, as_of: FromQuery[date | None] = None
    ) -> Plan:
        """Every erasure, transfer, notice and deletion the retention rules call
        for on ``as_of`` (YYYY-MM-DD; default today in Helsinki), each with its
        rule, due day and deadline; the same JSON as ``consentry retention plan
        --json``. Changes nothing."""
        return await plan(db_session, as_of=as_of or clock.today(), settings=state.settings)
