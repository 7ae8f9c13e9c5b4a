"""Campaign jobs: thin wrappers over ``service.campaigns``."""

from __future__ import annotations

from typing import Any

from arq import Retry
from sqlalchemy import or_, select
from sqlmodel import col

from service import clock, queue
from service.campaigns import call_lists, sending
from service.db import run, session_scope
from service.models import Campaign
from service.models.enums import CampaignStatus

MAX_BACKOFF_SECONDS = 600


async def start_campaign(ctx: dict[str, Any], campaign_id: int) -> str:
    return await sending.start(ctx["sender"], campaign_id)


async def send_batch(ctx: dict[str, Any], campaign_id: int, first_id: int, last_id: int) -> str:
    try:
        return await sending.send_batch(ctx["sender"], campaign_id, first_id, last_id)
    except sending.TemporaryFailures:
        # The relay said "later" for some: come back with growing back-off.
        raise Retry(defer=min(MAX_BACKOFF_SECONDS, 5 * 2 ** ctx["job_try"])) from None


async def build_call_list(ctx: dict[str, Any], call_list_id: int) -> int:
    async with session_scope(ctx["sessionmaker"]) as session:
        return await call_lists.build(session, call_list_id=call_list_id, settings=ctx["settings"])


async def sweep_campaigns(ctx: dict[str, Any]) -> int:
    """Queue the start job of every campaign that should be moving.

    It is how a scheduled campaign starts on time after a restart, and how a
    campaign recovers if its start job was lost (the API committed, then Redis
    refused the job). A start job that is already queued is not queued twice.
    """
    now = clock.now()
    async with session_scope(ctx["sessionmaker"]) as session:
        due = (
            (
                await run(
                    session,
                    select(col(Campaign.id)).where(
                        or_(
                            col(Campaign.status) == CampaignStatus.SENDING,
                            (col(Campaign.status) == CampaignStatus.SCHEDULED)
                            & (col(Campaign.send_at) <= now),
                        )
                    ),
                )
            )
            .scalars()
            .all()
        )
    for campaign_id in due:
        await queue.enqueue(
            ctx["redis"],
            queue.START_CAMPAIGN,
            campaign_id,
            job_id=queue.start_campaign_job_id(campaign_id),
        )
    return len(due)
