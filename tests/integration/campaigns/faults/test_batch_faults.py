"""Faults of the whole batch, with real servers: the relay gone, Redis killed
between the relay's 250 and the journal write, a worker's lease expiring.

Nothing is lost and nothing is sent twice (issue 13 items 1, 3 and 4)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from arq.connections import ArqRedis
from sqlmodel import select

from service import queue
from service.campaigns import outcomes, sending
from service.delivery import batch
from service.delivery.smtp import SmtpConfig, SmtpPool
from service.embedded import EmbeddedRedis, free_port
from service.models import CampaignRecipient, Contact
from tests.integration.campaigns.test_campaigns import Client, campaign
from tests.support.factories import add_campaign, add_recipient
from tests.support.smtp import PickySink

HOST = "127.0.0.1"


async def statuses(ctx: dict[str, Any]) -> dict[str, tuple[str, int]]:
    """(status, attempts) of each recipient, by their address."""
    async with ctx["sessionmaker"]() as db:
        rows = (await db.exec(select(CampaignRecipient))).all()
        emails = {c.id: c.email for c in (await db.exec(select(Contact))).all()}
    return {emails[r.contact_id]: (r.status.value, r.attempts) for r in rows}


async def start_campaign(admin: Client, ctx: dict[str, Any], count: int) -> tuple[int, int, int]:
    for index in range(count):
        await add_recipient(admin, f"f{index}@example.fi")
    campaign_id = await add_campaign(admin)
    await admin.post(f"/api/v1/campaigns/{campaign_id}/send")
    await sending.start(ctx["sender"], campaign_id)
    async with ctx["sessionmaker"]() as db:
        ids = sorted(r.id or 0 for r in (await db.exec(select(CampaignRecipient))).all())
    return campaign_id, ids[0], ids[-1]


async def test_a_relay_outage_costs_no_recipient_a_try(
    admin: Client, ctx: dict[str, Any], sink: PickySink
) -> None:
    campaign_id, first, last = await start_campaign(admin, ctx, 3)
    sender = ctx["sender"]
    live, sender.smtp = sender.smtp, SmtpPool(SmtpConfig(HOST, free_port()))
    try:
        with pytest.raises(batch.RelayUnavailable, match="relay is unavailable"):
            await sending.send_batch(sender, campaign_id, first, last)
    finally:
        await sender.smtp.close()
        sender.smtp = live
    assert set((await statuses(ctx)).values()) == {("queued", 0)}
    # The relay is back: the retry sends everyone once.
    assert await sending.send_batch(sender, campaign_id, first, last) == "sent 3"
    assert sorted(a for a, _ in sink.accepted) == [f"f{i}@example.fi" for i in range(3)]
    assert (await campaign(admin, campaign_id))["status"] == "done"


class _KillOnData:
    """Accepts every message, and kills Redis just before the 250 of the nth."""

    def __init__(self, redis: EmbeddedRedis, nth: int) -> None:
        self.redis, self.nth = redis, nth
        self.accepted: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.accepted.extend(envelope.rcpt_tos)
        if len(self.accepted) == self.nth:
            proc = self.redis._proc
            assert proc is not None
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        return "250 2.0.0 accepted"


@pytest.fixture
async def journal_pool(own_redis: EmbeddedRedis) -> AsyncIterator[ArqRedis]:
    pool = await queue.connect(f"redis://{HOST}:{own_redis.port}/0")
    try:
        yield pool
    finally:
        await pool.aclose()


async def test_redis_killed_after_a_250_loses_nothing_and_repeats_nothing(
    admin: Client, ctx: dict[str, Any], own_redis: EmbeddedRedis, journal_pool: ArqRedis
) -> None:
    campaign_id, first, last = await start_campaign(admin, ctx, 6)
    relay = _KillOnData(own_redis, nth=3)
    controller = Controller(relay, hostname=HOST, port=free_port())
    controller.start()
    sender = ctx["sender"]
    live_smtp, live_redis, live_settings = sender.smtp, sender.redis, sender.settings
    # One connection: the messages go out in order, and Redis dies at the third.
    sender.settings = replace(sender.settings, send_connections=1)
    sender.smtp = SmtpPool(SmtpConfig(HOST, controller.port), size=1)
    sender.redis = journal_pool
    try:
        with pytest.raises(batch.QueueUnavailable):
            await sending.send_batch(sender, campaign_id, first, last)
        # Everything the relay accepted is recorded as sent, and the batch
        # stopped at once: nothing else went out while Redis was away.
        after_kill = await statuses(ctx)
        assert relay.accepted == [f"f{i}@example.fi" for i in range(3)]
        assert {a for a, (s, _) in after_kill.items() if s == "sent"} == set(relay.accepted)
        assert {s for a, (s, _) in after_kill.items() if a not in relay.accepted} == {"queued"}

        own_redis.restart()
        for _ in range(100):  # the pool reconnects on its next command
            try:
                await journal_pool.ping()
                break
            except Exception:
                await asyncio.sleep(0.05)
        assert await sending.send_batch(sender, campaign_id, first, last) == "sent 3"
    finally:
        await sender.smtp.close()
        sender.smtp, sender.redis, sender.settings = live_smtp, live_redis, live_settings
        controller.stop()
    assert sorted(relay.accepted) == [f"f{i}@example.fi" for i in range(6)]
    assert set((await statuses(ctx)).values()) == {("sent", 1)}
    assert (await campaign(admin, campaign_id))["status"] == "done"


# -- leases ----------------------------------------------------------------------


async def test_a_dead_workers_job_is_reclaimed_and_a_live_ones_is_not(
    ctx: dict[str, Any],
) -> None:
    redis: ArqRedis = ctx["redis"]
    dead, alive = queue.WorkerLease(redis), queue.WorkerLease(redis)
    await dead.take()  # never renewed: as if killed right after
    await alive.start()
    async with contextlib.AsyncExitStack() as jobs:
        for job, lease in (("job-of-dead", dead), ("job-of-alive", alive)):
            # What arq sets when a worker starts a job: its in-progress mark.
            await redis.set(f"arq:in-progress:{job}", b"1", px=310_000)
            await jobs.enter_async_context(lease.hold(job))
        # Its lease expires (five seconds after the kill; here at once), and
        # the live workers' next round (every RENEW_SECONDS) frees its job.
        await redis.delete(f"consentry:worker-lease:{dead.id}")
        for _ in range(int(3 * queue.RENEW_SECONDS / 0.05)):
            if not await redis.exists("arq:in-progress:job-of-dead"):
                break
            await asyncio.sleep(0.05)
        assert not await redis.exists("arq:in-progress:job-of-dead")
        assert await redis.exists("arq:in-progress:job-of-alive")
        assert await queue.reclaim_orphans(redis) == []
        await alive.stop()
    await redis.delete("arq:in-progress:job-of-alive")


async def test_a_job_whose_lease_expired_gives_up(ctx: dict[str, Any]) -> None:
    redis: ArqRedis = ctx["redis"]
    lease = queue.WorkerLease(redis)
    await lease.start()
    try:
        async with lease.hold("job-stalled") as held:
            await held.confirm()  # fresh: returns at once
            # The worker stalled past its lease; another may have the job now.
            await redis.delete(f"consentry:worker-lease:{lease.id}")
            await lease.renew()
            assert lease.fresh()  # the worker goes on under a new lease…
            assert not held.fresh()  # …but this job does not
            with pytest.raises(queue.LeaseLost):
                await held.confirm()
    finally:
        await lease.stop()


async def test_a_mark_left_without_an_owner_by_redis_is_freed_after_the_grace(
    ctx: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis lost the owner record written just after arq's mark (its AOF
    keeps the last second only on the next fsync)."""
    redis: ArqRedis = ctx["redis"]
    marks = {
        "campaign:99:batch:0": None,  # lost its owner: freed
        "campaign:99:batch:1": "some-live-worker",  # owned: kept
        "cron:sweep_campaigns": None,  # not a leased job: never touched
    }
    for job, owner in marks.items():
        await redis.set(f"arq:in-progress:{job}", b"1", px=310_000)
        if owner is not None:
            await redis.set(f"consentry:job-owner:{job}", owner)
    try:
        unowned = queue.UnownedMarks()
        assert await unowned.sweep(redis) == []  # first seen: it may be starting
        monkeypatch.setattr(queue, "UNOWNED_GRACE_SECONDS", 0.0)
        assert await unowned.sweep(redis) == ["campaign:99:batch:0"]
        assert not await redis.exists("arq:in-progress:campaign:99:batch:0")
        assert await redis.exists("arq:in-progress:campaign:99:batch:1")
        assert await redis.exists("arq:in-progress:cron:sweep_campaigns")
    finally:
        await redis.delete(
            *(f"arq:in-progress:{job}" for job in marks), "consentry:job-owner:campaign:99:batch:1"
        )


async def test_a_held_job_is_not_queued_again_and_a_stale_worker_keeps_off_its_record(
    ctx: dict[str, Any],
) -> None:
    redis: ArqRedis = ctx["redis"]
    job = "campaign:77:batch:0"
    stalled, successor = queue.WorkerLease(redis), queue.WorkerLease(redis)
    await stalled.take()
    await successor.take()
    try:
        async with stalled.hold(job):
            # The stalled worker's lease expired; the successor took the job over.
            async with successor.hold(job):
                # While it is held, the sweep cannot queue a second copy.
                assert not await queue.enqueue(redis, queue.SEND_BATCH, 77, 1, 2, job_id=job)
            # (successor done) …
            assert not await redis.exists(f"consentry:job-owner:{job}")
            await redis.set(f"consentry:job-owner:{job}", successor.id)
        # The stalled worker ends its copy: the successor's record stays.
        assert await redis.get(f"consentry:job-owner:{job}") == successor.id.encode()
    finally:
        await redis.delete(f"consentry:job-owner:{job}", f"arq:job:{job}")
        await redis.zrem(queue.QUEUE_NAME, job)
        await stalled.stop()
        await successor.stop()


async def test_jobs_still_running_when_their_worker_stops_give_up(ctx: dict[str, Any]) -> None:
    lease = queue.WorkerLease(ctx["redis"])
    await lease.start()
    async with lease.hold("campaign:78:batch:0") as held:
        await lease.stop()  # arq gave up on this worker (Redis went away)
        with pytest.raises(queue.LeaseLost):
            await held.confirm()


async def test_a_pause_reason_names_no_address(
    admin: Client, ctx: dict[str, Any], sink: PickySink
) -> None:
    campaign_id, _, _ = await start_campaign(admin, ctx, 1)
    assert await outcomes.pause(
        ctx["sender"], campaign_id, "550 5.1.1 <f0@example.fi>: Recipient address rejected"
    )
    reason = (await campaign(admin, campaign_id))["pause_reason"]
    assert reason == "550 5.1.1 <<address>>: Recipient address rejected"
