"""Phone campaigns: call lists of the contacts who may be called.

A list is built by a worker through the consent gate for the phone channel,
holds only contact ids, and is downloaded as CSV with name, phone and
language — nothing else a caller does not need. Every download is recorded.
A list expires after ``CONSENTRY_CALL_LIST_TTL_DAYS`` and its entries are deleted.

A list is screened against the Robinson extract in force (the gate's
``robinson_listed``) and is not built at all without a fresh one
(``CONSENTRY_ROBINSON_MAX_AGE_DAYS``; docs/robinson.md): checked when it is
requested, and again when the worker builds it, since a day may turn between.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta

from sqlalchemy import select
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.campaigns import queries
from service.campaigns.service import gate_for
from service.db import run
from service.errors import Conflict, NotFound
from service.exports.cells import safe_cell
from service.labels import N_
from service.models import CallList, CallListDownload, CallListEntry, Campaign, Contact
from service.models.enums import CallListStatus, CampaignChannel
from service.robinson import service as robinson
from service.settings import Settings

CSV_COLUMNS = ("name", "phone", "language")


async def request(
    session: AsyncSession,
    *,
    campaign: Campaign,
    user_id: int | None,
    settings: Settings | None = None,
) -> CallList:
    """Record a list to build; the caller commits, then queues the build job.

    With ``settings``, a missing or stale Robinson extract is a 409 here;
    the build checks it again in any case."""
    if campaign.channel is not CampaignChannel.PHONE:
        raise Conflict(N_("only phone campaigns have call lists"), reason="not_phone")
    if settings is not None:
        await robinson.require_fresh(
            session, max_age_days=settings.robinson_max_age_days, today=clock.today()
        )
    assert campaign.id is not None
    call_list = CallList(campaign_id=campaign.id, created_by_user_id=user_id)
    session.add(call_list)
    await session.flush()
    return call_list


async def build(session: AsyncSession, *, call_list_id: int, settings: Settings) -> int:
    call_list = await session.get(CallList, call_list_id)
    if call_list is None or call_list.status is not CallListStatus.BUILDING:
        return 0
    campaign = await session.get(Campaign, call_list.campaign_id)
    assert campaign is not None
    now = clock.now()
    try:
        await robinson.require_fresh(
            session, max_age_days=settings.robinson_max_age_days, today=clock.today()
        )
    except Conflict as refusal:
        # The worker has no one to answer: the list says why it was not built.
        call_list.status = CallListStatus.REFUSED
        call_list.audience_at_build = {"refused": refusal.reason, "detail": refusal.detail}
        session.add(call_list)
        await session.flush()
        return 0
    gate = gate_for(campaign, settings, today=clock.today(), now=now)
    total, eligible, excluded = await queries.audience(session, gate)
    count = await queries.build_call_list(session, gate=gate, call_list_id=call_list_id)
    call_list.status = CallListStatus.READY
    call_list.entry_count = count
    call_list.audience_at_build = {
        "total": total,
        "eligible": eligible,
        "excluded": {reason.value: n for reason, n in excluded.items()},
    }
    call_list.built_at = now
    call_list.expires_at = now + timedelta(days=settings.call_list_ttl_days)
    session.add(call_list)
    await session.flush()
    return count


async def latest(session: AsyncSession, *, campaign: Campaign) -> CallList:
    query = (
        select(CallList)
        .where(col(CallList.campaign_id) == campaign.id)
        .order_by(col(CallList.id).desc())
        .limit(1)
    )
    call_list: CallList | None = (await run(session, query)).scalars().first()
    if call_list is None:
        raise NotFound(f"campaign {campaign.id} has no call list yet")
    return call_list


async def download(
    session: AsyncSession, *, campaign: Campaign, user_id: int | None
) -> tuple[CallList, str]:
    """The newest ready list as CSV, and a record that this user took a copy."""
    call_list = await latest(session, campaign=campaign)
    if call_list.status is CallListStatus.BUILDING:
        raise Conflict(N_("the call list is still being built"), reason="building")
    if call_list.status is CallListStatus.REFUSED:
        refusal = call_list.audience_at_build or {}
        raise Conflict(
            f"the call list was not built: {refusal.get('detail', 'refused')}",
            reason=str(refusal.get("refused", "refused")),
        )
    if call_list.status is CallListStatus.EXPIRED or (
        call_list.expires_at is not None and call_list.expires_at <= clock.now()
    ):
        raise Conflict(N_("the call list has expired; build a new one"), reason="expired")
    rows = await run(
        session,
        select(col(Contact.full_name), col(Contact.phone), col(Contact.language))
        .join(CallListEntry, col(CallListEntry.contact_id) == col(Contact.id))
        .where(col(CallListEntry.call_list_id) == call_list.id)
        .order_by(col(Contact.full_name), col(Contact.id)),
    )
    body = "".join(_csv_lines(rows.all()))
    assert call_list.id is not None
    session.add(
        CallListDownload(
            call_list_id=call_list.id, user_id=user_id, entry_count=call_list.entry_count
        )
    )
    await session.flush()
    return call_list, body


def _csv_lines(rows: list[tuple[str, str, str]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for name, phone, language in rows:
        writer.writerow((safe_cell(name), phone, str(language)))
    yield buffer.getvalue()
