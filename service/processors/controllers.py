"""HTTP routes of the processors register (PROCESSORS_MANAGE: admin, privacy_officer)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit import trail
from service.auth.middleware import requires
from service.auth.permissions import Permission
from service.auth.service import Principal
from service.processors import service
from service.processors.schemas import ProcessorCreate, ProcessorRead, ProcessorUpdate

Session = NamedDependency[AsyncSession]
StaffRequest = Request[Principal, Any, Any]
MANAGE = [requires(Permission.PROCESSORS_MANAGE)]


class ProcessorController(Controller):
    path = "/processors"
    tags = ["processors"]

    @post("/", guards=MANAGE, status_code=201)
    async def create_processor(
        self, request: StaffRequest, db_session: Session, data: JSONBody[ProcessorCreate]
    ) -> ProcessorRead:
        """Record a processor; ``outside_eea`` follows from the country."""
        row = await service.create(db_session, data=data, user_id=request.user.user_id)
        trail.annotate(db_session, processor_id=row.id)
        return service.to_read(row)

    @get("/", guards=MANAGE)
    async def list_processors(
        self, db_session: Session, active: FromQuery[bool | None] = None
    ) -> list[ProcessorRead]:
        """Every processor by name; ``active=true``: only those not ended."""
        return [
            service.to_read(row)
            for row in await service.list_(db_session, active_only=bool(active))
        ]

    @get("/{processor_id:int}", guards=MANAGE)
    async def get_processor(
        self, db_session: Session, processor_id: FromPath[int]
    ) -> ProcessorRead:
        return service.to_read(await service.get(db_session, processor_id))

    @patch("/{processor_id:int}", guards=MANAGE)
    async def update_processor(
        self, db_session: Session, processor_id: FromPath[int], data: JSONBody[ProcessorUpdate]
    ) -> ProcessorRead:
        """Correct a processor, or end it (``ended_on``)."""
        row = await service.get(db_session, processor_id)
        return service.to_read(await service.update(db_session, processor=row, data=data))
