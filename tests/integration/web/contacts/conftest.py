"""Helpers of the contacts page tests: contacts and their ledger made over the
JSON API (the pages must show what the API stored), and reading it back."""

from __future__ import annotations

import re
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlmodel import col

from service import clock
from service.consent import service as consent_service
from service.consent.queries import GateContext
from service.contacts import service as contacts_service
from service.db import SessionMaker, run
from service.models import AuditEvent
from service.models.enums import Channel, Purpose

Client = AsyncTestClient[Litestar]
HETU = "131052-308T"
# Any whole Finnish identity code; the masked form (131052-****) does not match.
IDENTITY_CODE = re.compile(r"\d{6}[-+A-FU-Y]\d{3}[0-9A-Y]")
GRANT_EVIDENCE = {"text": "Yes, send me offers by email.", "notice_version": "2026-01"}


async def reasons(sessionmaker: SessionMaker, contact_id: int, channel: str = "email") -> list[str]:
    """The consent gate's reasons today, asked through the service the API's
    ``GET …/eligibility`` calls. (Not over the API client: on PostgreSQL a
    pooled connection must not move between the page client's event loop and
    the API client's.)"""
    async with sessionmaker() as session:
        contact = await contacts_service.get(session, contact_id)
        context = GateContext(
            channel=Channel(channel), purpose=Purpose.DIRECT_MARKETING, today=clock.today()
        )
        answer = await consent_service.eligibility(session, contact=contact, context=context)
    return [reason.value for reason in answer.reasons]


async def count(sessionmaker: SessionMaker, model: Any) -> int:
    async with sessionmaker() as session:
        return int((await run(session, select(func.count()).select_from(model))).scalar_one())


async def audit_rows(sessionmaker: SessionMaker, action: str) -> list[AuditEvent]:
    async with sessionmaker() as session:
        query = (
            select(AuditEvent).where(col(AuditEvent.action) == action).order_by(col(AuditEvent.id))
        )
        return list((await run(session, query)).scalars().all())


def linked_ids(page: str) -> list[int]:
    """The contacts a list page links to, in order."""
    return [int(i) for i in re.findall(r'<a href="/app/contacts/(\d+)">', page)]


def row_of(page: str, channel: str) -> str:
    """The eligibility table's row of one channel."""
    found = re.search(rf'<tr id="eligibility-{channel}">(.*?)</tr>', page, re.DOTALL)
    assert found is not None, f"no eligibility row for {channel}"
    return found.group(1)
