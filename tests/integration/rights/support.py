"""Helpers shared by the rights tests: contacts, requests and row counts."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from service import clock
from service.db import SessionMaker, run, session_scope
from service.models import DataSubjectRequest, RequestAction
from service.models.enums import RequestChannel, RequestStatus, RequestType
from tests.support import factories

Client = AsyncTestClient[Litestar]

GRANT_EMAIL = {
    "channel": "email",
    "purpose": "direct_marketing",
    "action": "grant",
    "source": "self",
    "method": "web_form",
    "evidence": {"text": "Yes, send me news", "notice_version": "2026-01"},
}


# The rights tests' contacts are all in service recently (call lists and the
# gate read it).
add_contact = partial(factories.add_contact, last_service_contact_at=factories.SERVED)


async def add_request(
    sessionmaker: SessionMaker,
    type_: RequestType,
    *,
    contact_id: int | None = None,
    status: RequestStatus = RequestStatus.OPEN,
    **fields: Any,
) -> int:
    """A data-subject request, written through the model (the register's API
    belongs to service.requests)."""
    today = clock.today()
    async with session_scope(sessionmaker) as session:
        request = DataSubjectRequest(
            type=type_,
            contact_id=contact_id,
            channel=RequestChannel.EMAIL,
            received_on=today,
            due_on=today + timedelta(days=30),
            status=status,
            **fields,
        )
        session.add(request)
        await session.flush()
        assert request.id is not None
        return request.id


async def actions_of(sessionmaker: SessionMaker, request_id: int) -> list[str]:
    async with sessionmaker() as session:
        query = (
            select(RequestAction.action)
            .where(RequestAction.request_id == request_id)
            .order_by(RequestAction.id)
        )
        return list((await run(session, query)).scalars().all())


async def count(sessionmaker: SessionMaker, model: Any, *where: Any) -> int:
    async with sessionmaker() as session:
        query = select(func.count()).select_from(model).where(*where)
        return int((await run(session, query)).scalar_one())
