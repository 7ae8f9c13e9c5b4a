"""Fixtures for health, metrics, logs and status: a Redis database of their
own (emptied before each test) and helpers that put send lists in place."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from arq.connections import ArqRedis

from service import queue
from service.db import SessionMaker, session_scope
from service.models import Campaign, CampaignRecipient
from service.models.enums import CampaignChannel, CampaignStatus, Purpose, RecipientStatus
from service.settings import Settings, load_settings

# Other modules flush database 0 between their tests; the numbers read here
# must be only ours.
REDIS_DB = 13
METRICS_TOKEN = "metrics-token-" + "m" * 32

Row = tuple[RecipientStatus, str | None]


@pytest.fixture
def settings(settings: Settings, settings_env: dict[str, str], redis_url: str) -> Settings:
    return load_settings(
        {
            **settings_env,
            "CONSENTRY_DATABASE_URL": settings.database_url,
            "CONSENTRY_REDIS_URL": f"{redis_url.rsplit('/', 1)[0]}/{REDIS_DB}",
            "CONSENTRY_METRICS_TOKEN": METRICS_TOKEN,
        }
    )


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[ArqRedis]:
    client = await queue.connect(settings.redis_url or "")
    await client.flushdb()
    try:
        yield client
    finally:
        await client.aclose()


async def add_campaign(
    sessionmaker: SessionMaker,
    status: CampaignStatus,
    rows: list[Row],
    *,
    name: str = "Spring offer",
    send_at: datetime | None = None,
    pause_reason: str | None = None,
) -> int:
    """A campaign in ``status`` whose send list has these (status, reason) rows."""
    async with session_scope(sessionmaker) as session:
        campaign = Campaign(
            name=name,
            channel=CampaignChannel.EMAIL,
            purpose=Purpose.DIRECT_MARKETING,
            status=status,
            send_at=send_at,
            pause_reason=pause_reason,
        )
        session.add(campaign)
        await session.flush()
        assert campaign.id is not None
        session.add_all(
            CampaignRecipient(
                campaign_id=campaign.id,
                channel=CampaignChannel.EMAIL,
                status=state,
                reason=reason,
            )
            for state, reason in rows
        )
        return campaign.id
