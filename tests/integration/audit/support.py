"""Helpers shared by the audit-trail tests: reading the trail, and the people in it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select, text
from sqlmodel import col

from service.audit.verify import Result, verify
from service.db import SessionMaker, run, session_scope
from service.models import AuditEvent, CallList, CallListEntry
from service.models.enums import CallListStatus, Role
from tests.conftest import TokenFactory

Client = AsyncTestClient[Litestar]
HETU = "131052-308T"


async def trail(sessionmaker: SessionMaker) -> list[AuditEvent]:
    """Every audit row, oldest first."""
    async with sessionmaker() as session:
        query = select(AuditEvent).order_by(col(AuditEvent.id))
        return list((await run(session, query)).scalars().all())


async def trail_text(sessionmaker: SessionMaker) -> str:
    """Every cell of every audit row as one string, read raw (no model in between)."""
    async with sessionmaker() as session:
        rows = (await run(session, text("SELECT * FROM audit_events"))).all()
    return "\n".join(json.dumps([str(value) for value in row], ensure_ascii=False) for row in rows)


async def check(sessionmaker: SessionMaker, **kwargs: Any) -> Result:
    async with sessionmaker() as session:
        return await verify(session, **kwargs)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def as_role(make_token: TokenFactory, role: Role) -> dict[str, str]:
    return auth(await make_token(role))


async def ready_call_list(
    client: Client, headers: dict[str, str], sessionmaker: SessionMaker, contact_ids: list[int]
) -> tuple[int, int]:
    """A phone campaign with a built call list of these contacts: (campaign id, list id)."""
    response = await client.post(
        "/api/v1/campaigns", json={"name": "Calls", "channel": "phone"}, headers=headers
    )
    assert response.status_code == 201, response.text
    campaign_id = int(response.json()["id"])
    now = datetime.now(UTC)
    async with session_scope(sessionmaker) as session:
        call_list = CallList(
            campaign_id=campaign_id,
            status=CallListStatus.READY,
            entry_count=len(contact_ids),
            built_at=now,
            expires_at=now + timedelta(days=7),
        )
        session.add(call_list)
        await session.flush()
        assert call_list.id is not None
        session.add_all(
            [CallListEntry(call_list_id=call_list.id, contact_id=cid) for cid in contact_ids]
        )
        return campaign_id, call_list.id
