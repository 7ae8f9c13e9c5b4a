"""Campaign statistics: what a campaign did, in aggregate.

Opens and clicks exclude events flagged as automated (mail prefetchers, link
scanners). Unique counts are per person and so cover only people who allow
tracking; clicks of everyone else are counted, not attributed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC
from typing import Any

from pydantic import BaseModel
from sqlalchemy import distinct, func, or_, select
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service.campaigns import queries
from service.db import run
from service.models import (
    Ban,
    CampaignRecipient,
    ConsentEvent,
    DeliveryEventRecord,
    EngagementEvent,
)
from service.models.engagement import EngagementKind
from service.models.enums import ConsentAction, DeliveryEventKind, FailureReason, RecipientStatus


class Breakdown(BaseModel):
    opens: int = 0
    clicks: int = 0


class Statistics(BaseModel):
    campaign_id: int
    sent: int
    failed: int
    failures: dict[str, int]  # failed by reason (FailureReason)
    opens: int
    unique_opens: int
    clicks: int
    unique_clicks: int
    click_through_rate: float
    unsubscribes: int
    bounces: int
    by_browser: dict[str, Breakdown]
    by_os: dict[str, Breakdown]
    by_hour: dict[str, Breakdown]


async def of_campaign(session: AsyncSession, campaign_id: int) -> Statistics:
    counts = await queries.counts(session, campaign_id)
    human = (col(EngagementEvent.campaign_id) == campaign_id) & ~col(EngagementEvent.automated)
    kind = col(EngagementEvent.kind)
    totals = (
        await run(
            session,
            select(
                kind,
                func.count(),
                func.count(distinct(col(EngagementEvent.contact_id))),
            )
            .where(human)
            .group_by(kind),
        )
    ).all()
    by_kind = {str(k): (int(n), int(unique)) for k, n, unique in totals}
    opens, unique_opens = by_kind.get(EngagementKind.OPEN.value, (0, 0))
    clicks, unique_clicks = by_kind.get(EngagementKind.CLICK.value, (0, 0))
    withdrawals = await _count(
        session,
        select(func.count()).where(
            col(ConsentEvent.campaign_id) == campaign_id,
            col(ConsentEvent.action) == ConsentAction.WITHDRAW.value,
        ),
    )
    bans = await _count(session, select(func.count()).where(col(Ban.campaign_id) == campaign_id))
    bounces = await _count(
        session,
        select(func.count()).where(col(CampaignRecipient.campaign_id) == campaign_id, _bounced()),
    )
    sent = counts.get(RecipientStatus.SENT.value, 0)
    return Statistics(
        campaign_id=campaign_id,
        sent=sent,
        failed=counts.get(RecipientStatus.FAILED.value, 0),
        failures=await queries.failures(session, campaign_id),
        opens=opens,
        unique_opens=unique_opens,
        clicks=clicks,
        unique_clicks=unique_clicks,
        click_through_rate=round(unique_clicks / sent, 4) if sent else 0.0,
        unsubscribes=withdrawals + bans,
        bounces=bounces,
        by_browser=await _breakdown(session, human, col(EngagementEvent.browser_family)),
        by_os=await _breakdown(session, human, col(EngagementEvent.os_family)),
        by_hour=await _by_hour(session, human),
    )


def _bounced() -> Any:
    """Refused by the relay while sending, or accepted and then returned by a
    permanent delivery report (inbound: a report is linked to the message it
    returns). A message we could not make (render_error, …) is no bounce."""
    refused = (col(CampaignRecipient.status) == RecipientStatus.FAILED.value) & (
        col(CampaignRecipient.reason).is_(None)
        | (col(CampaignRecipient.reason) == FailureReason.REJECTED.value)
    )
    return or_(refused, col(CampaignRecipient.bounce_status).startswith("5."))


class Outcomes(BaseModel):
    """What came back from one campaign: the statistics page's sent, bounces
    and unsubscribes, and the sending panel's complaints."""

    sent: int = 0
    bounces: int = 0
    complaints: int = 0
    unsubscribes: int = 0


async def outcomes_of(session: AsyncSession, campaign_ids: Sequence[int]) -> dict[int, Outcomes]:
    """``Outcomes`` of several campaigns at once: one grouped count per kind
    (four statements whatever the number of campaigns), by the same rules as
    ``of_campaign`` and ``queries.complaints``."""
    found = {campaign_id: Outcomes() for campaign_id in campaign_ids}
    if not found:
        return found
    ids = list(found)
    recipient = col(CampaignRecipient.campaign_id)
    recipients = select(recipient, func.count()).where(recipient.in_(ids)).group_by(recipient)
    complaints = col(DeliveryEventRecord.campaign_id)
    withdrawals = col(ConsentEvent.campaign_id)
    grouped: list[tuple[str, Any]] = [
        ("sent", recipients.where(col(CampaignRecipient.status) == RecipientStatus.SENT.value)),
        ("bounces", recipients.where(_bounced())),
        (
            "complaints",
            select(complaints, func.count())
            .where(
                complaints.in_(ids),
                col(DeliveryEventRecord.kind) == DeliveryEventKind.COMPLAINT.value,
            )
            .group_by(complaints),
        ),
        (
            "unsubscribes",
            select(withdrawals, func.count())
            .where(withdrawals.in_(ids), col(ConsentEvent.action) == ConsentAction.WITHDRAW.value)
            .group_by(withdrawals),
        ),
    ]
    for name, query in grouped:
        for campaign_id, n in (await run(session, query)).all():
            setattr(found[int(campaign_id)], name, int(n))
    bans = (
        await run(
            session,
            select(col(Ban.campaign_id), func.count())
            .where(col(Ban.campaign_id).in_(ids))
            .group_by(col(Ban.campaign_id)),
        )
    ).all()
    for campaign_id, n in bans:
        found[int(campaign_id)].unsubscribes += int(n)
    return found


async def _count(session: AsyncSession, query: Any) -> int:
    return int((await run(session, query)).scalar_one())


async def _breakdown(session: AsyncSession, where: Any, column: Any) -> dict[str, Breakdown]:
    rows = (
        await run(
            session,
            select(column, col(EngagementEvent.kind), func.count())
            .where(where)
            .group_by(column, col(EngagementEvent.kind)),
        )
    ).all()
    result: dict[str, Breakdown] = {}
    for name, kind, n in rows:
        entry = result.setdefault(name or "unknown", Breakdown())
        setattr(entry, "opens" if str(kind) == "open" else "clicks", int(n))
    return result


async def _by_hour(session: AsyncSession, where: Any) -> dict[str, Breakdown]:
    """Per UTC hour, grouped in Python: hour truncation is spelt differently in
    SQLite and PostgreSQL, and a campaign's events fit in memory as (time, kind)."""
    rows = (
        await run(
            session,
            select(col(EngagementEvent.occurred_at), col(EngagementEvent.kind)).where(where),
        )
    ).all()
    result: dict[str, Breakdown] = {}
    for occurred_at, kind in rows:
        hour = occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:00Z")
        entry = result.setdefault(hour, Breakdown())
        if str(kind) == "open":
            entry.opens += 1
        else:
            entry.clicks += 1
    return dict(sorted(result.items()))


def as_csv(stats: Statistics) -> str:
    """One row per measure: section, key, opens or value, clicks."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(("section", "key", "value", "clicks"))
    for name in (
        "sent",
        "failed",
        "opens",
        "unique_opens",
        "clicks",
        "unique_clicks",
        "click_through_rate",
        "unsubscribes",
        "bounces",
    ):
        writer.writerow(("total", name, getattr(stats, name), ""))
    for reason, count in sorted(stats.failures.items()):
        writer.writerow(("failed", reason, count, ""))
    for section, table in (
        ("browser", stats.by_browser),
        ("os", stats.by_os),
        ("hour", stats.by_hour),
    ):
        for key, entry in table.items():
            writer.writerow((section, key, entry.opens, entry.clicks))
    return buffer.getvalue()
