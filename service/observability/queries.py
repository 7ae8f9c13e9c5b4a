"""The few aggregate queries behind /metrics and ``consentry status``.

Each is cheap at a million contacts: the campaigns table is small, the
recipient counts read only the named campaigns through the index on
``(campaign_id, status, id)``, and the last retention action is the top of
the index on ``done_at``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import col
from sqlmodel import select as select_models
from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import run
from service.models import Campaign, CampaignRecipient, RetentionAction
from service.models.enums import CampaignStatus

# A campaign in one of these states changes its send list no more.
FINISHED = frozenset({CampaignStatus.DONE, CampaignStatus.CANCELLED})
# Shown by `consentry status`: what is, or will be, sending.
ACTIVE = (CampaignStatus.SENDING, CampaignStatus.PAUSED, CampaignStatus.SCHEDULED)
# Ids per IN list: far below SQLite's and asyncpg's bind-parameter limits.
_CHUNK = 500

RecipientCount = tuple[int, str, str | None, int]  # campaign, status, reason, rows


async def campaign_states(session: AsyncSession) -> list[tuple[int, CampaignStatus]]:
    """Every campaign's id and status."""
    rows = await run(session, select(col(Campaign.id), col(Campaign.status)))
    return [(int(campaign_id), CampaignStatus(status)) for campaign_id, status in rows.all()]


async def active_campaigns(session: AsyncSession) -> list[Campaign]:
    """Campaigns sending, paused or scheduled, oldest first."""
    query = (
        select_models(Campaign)
        .where(col(Campaign.status).in_([s.value for s in ACTIVE]))
        .order_by(col(Campaign.id))
    )
    return list((await session.exec(query)).all())


async def recipient_counts(
    session: AsyncSession, campaign_ids: Iterable[int]
) -> list[RecipientCount]:
    """Send-list rows of these campaigns by status and skip reason."""
    ids = sorted(set(campaign_ids))
    found: list[RecipientCount] = []
    for start in range(0, len(ids), _CHUNK):
        query = (
            select(
                col(CampaignRecipient.campaign_id),
                col(CampaignRecipient.status),
                col(CampaignRecipient.reason),
                func.count(),
            )
            .where(col(CampaignRecipient.campaign_id).in_(ids[start : start + _CHUNK]))
            .group_by(
                col(CampaignRecipient.campaign_id),
                col(CampaignRecipient.status),
                col(CampaignRecipient.reason),
            )
        )
        found += [
            (int(campaign), str(status), reason, int(n))
            for campaign, status, reason, n in (await run(session, query)).all()
        ]
    return found


async def last_retention_action(session: AsyncSession) -> tuple[datetime, str] | None:
    """When the newest retention action was done, and by which rule."""
    query = (
        select(col(RetentionAction.done_at), col(RetentionAction.rule))
        .order_by(col(RetentionAction.done_at).desc())
        .limit(1)
    )
    row = (await run(session, query)).first()
    return None if row is None else (row[0], str(row[1]))
