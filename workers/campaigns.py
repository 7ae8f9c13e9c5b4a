"""Campaign jobs: thin wrappers over ``service.campaigns``.

Each holds its worker's lease while it runs (service.queue), so a worker that
dies has its job taken up by another within seconds. A failure of the whole
job (the database, the relay or Redis gone, a bug) is retried with growing
back-off; after MAX_JOB_FAILURES tries the campaign is paused with the reason,
never retried silently for ever. Failures about one recipient never get here:
they are that recipient's outcome (service.campaigns.sending).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from arq import Retry
from redis.exceptions import RedisError
from sqlalchemy import or_, select
from sqlmodel import col

from service import clock, queue
from service.campaigns import call_lists, outcomes, sending
from service.db import run, session_scope
from service.delivery import batch
from service.models import Campaign
from service.models.enums import CampaignStatus

logger = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 300
# Tries of one job before its campaign is paused: with the back-off below,
# about four minutes of an outage (2 + 6 + 18 + 54 + 162 s). The first retry
# comes soon: most outages (a relay or database restarting) are short.
MAX_JOB_FAILURES = 6
# Recipients the relay told to try later: each is given up after
# batch.MAX_TEMPORARY_ATTEMPTS, spaced by this.
MAX_TEMPORARY_BACKOFF_SECONDS = 600


def backoff(job_try: int) -> int:
    """Seconds before a failed job's next try."""
    return int(min(MAX_BACKOFF_SECONDS, 2 * 3 ** max(0, job_try - 1)))


def retry_later(job_try: int) -> int:
    """Seconds before recipients the relay deferred are tried again."""
    return int(min(MAX_TEMPORARY_BACKOFF_SECONDS, 5 * 2**job_try))


def _failures_key(job_id: str) -> str:
    return f"consentry:job-failures:{job_id}"


async def _count_failure(ctx: dict[str, Any]) -> int:
    """This job's failures so far, this one included. Not arq's ``job_try``:
    that also counts kills, reclaims and deferred recipients' retries."""
    key = _failures_key(ctx["job_id"])
    try:
        async with ctx["redis"].pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, 86_400)
            count, _ = await pipe.execute()
        return int(count)
    except (RedisError, OSError):
        return int(ctx.get("job_try", 1))  # Redis is what failed: arq's count will do


async def _succeeded(ctx: dict[str, Any]) -> None:
    with contextlib.suppress(RedisError, OSError):
        await ctx["redis"].delete(_failures_key(ctx["job_id"]))


async def _retry_or_pause(ctx: dict[str, Any], campaign_id: int, what: str, exc: Exception) -> str:
    job_try = await _count_failure(ctx)
    kind = type(exc).__name__
    if job_try < MAX_JOB_FAILURES:
        logger.warning(
            "campaign %s: %s failed (%s), try %d of %d",
            campaign_id,
            what,
            kind,
            job_try,
            MAX_JOB_FAILURES,
        )
        raise Retry(defer=backoff(job_try)) from None
    detail = str(exc).splitlines()[0] if str(exc) else ""
    await outcomes.pause(
        ctx["sender"],
        campaign_id,
        f"{what} failed {job_try} times; last error: {kind}: {detail}",
    )
    return f"paused: {what} failed {job_try} times"


async def start_campaign(ctx: dict[str, Any], campaign_id: int) -> str:
    async with ctx["lease"].hold(ctx["job_id"]):
        try:
            result = await sending.start(ctx["sender"], campaign_id)
        except Exception as exc:
            return await _retry_or_pause(ctx, campaign_id, "starting the campaign", exc)
        await _succeeded(ctx)
        return result


async def send_batch(ctx: dict[str, Any], campaign_id: int, first_id: int, last_id: int) -> str:
    async with ctx["lease"].hold(ctx["job_id"]) as lease:
        try:
            result = await sending.send_batch(
                ctx["sender"], campaign_id, first_id, last_id, lease=lease
            )
        except batch.TemporaryFailures:
            await _succeeded(ctx)  # the batch itself worked
            # The relay said "later" for some: come back with growing back-off.
            # Each recipient is given up after its own bounded number of tries.
            raise Retry(defer=retry_later(ctx["job_try"])) from None
        except queue.LeaseLost:
            # Another worker may be running the batch now. Not a Retry: that
            # would put the job back in the queue beside the running copy.
            # Ending it drops it from the queue; if nobody had taken it, the
            # sweep (every 30 s) queues its unsent recipients again.
            return "stopped: this worker's lease expired"
        except Exception as exc:
            return await _retry_or_pause(
                ctx, campaign_id, f"sending recipients {first_id}-{last_id}", exc
            )
        await _succeeded(ctx)
        return result


async def build_call_list(ctx: dict[str, Any], call_list_id: int) -> int:
    async with ctx["lease"].hold(ctx["job_id"]), session_scope(ctx["sessionmaker"]) as session:
        return await call_lists.build(session, call_list_id=call_list_id, settings=ctx["settings"])


async def sweep_campaigns(ctx: dict[str, Any]) -> int:
    """Queue the start job of every campaign that should be moving.

    It is how a scheduled campaign starts on time after a restart, and how a
    campaign recovers if its start job was lost (the API committed, then Redis
    refused the job, or Redis lost its data). A start job that is already
    queued is not queued twice.
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
