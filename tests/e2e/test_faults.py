"""Fault injection against real processes (issue 13): one campaign meets a
poison row in the middle of a batch, a worker SIGKILLed and restarted, Redis
SIGKILLed and restarted, and the relay SIGKILLed and restarted; it still
reaches ``done`` with everyone deliverable mailed once and nobody else.

What "once" means: every deliverable recipient got exactly one distinct
Message-ID. SMTP itself leaves a message in doubt when the connection dies
between the relay's commit and our reading of its 250 (RFC 1047): a SIGKILL
of the worker inside that window (microseconds before the journal write), or
of the relay between storing a message and answering, makes the message go
again, with the same Message-ID, which receivers fold into one. Those re-sends
are counted and bounded, and the resume time after the worker's kill is
printed for BENCHMARKS.md.
"""

from __future__ import annotations

import asyncio
import email
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlmodel import select

from service import queue
from service.campaigns import service as campaigns
from service.db import SessionMaker
from service.embedded import EmbeddedRedis
from service.mail.render import HEADER_UNSAFE
from service.models import Campaign, CampaignRecipient
from tests.conftest import TEST_DATA_KEY, TEST_SECRET
from tests.support.relay import RelayProcess
from tests.support.seeding import address, seed_campaign

pytestmark = pytest.mark.slow

ELIGIBLE = 1000
INELIGIBLE = 40
POISON = 250  # in the middle of the third batch of a hundred
CONNECTIONS = 4
RATE = 300  # messages a second, so that each fault lands mid-campaign
RESUME_BOUND = 15.0  # seconds from a worker's death to the next delivery


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[RelayProcess]:
    process = RelayProcess(tmp_path / "outbox")
    process.start()
    try:
        yield process
    finally:
        process.stop()


class Workers:
    """`consentry worker` processes, logging into one file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "service.cli", "worker"],
                env=self.env,
                stdout=out,
                stderr=out,
            )
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        self.procs.remove(proc)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def reclaimed_at(log: Path, *, after: float) -> float | None:
    """When a worker logged taking over a dead worker's jobs (epoch seconds)."""
    for line in log.read_text(errors="replace").splitlines():
        if "reclaimed" in line and "of a worker that died" in line:
            stamp = datetime.fromisoformat(line.split(" ", 1)[0].replace("Z", "+00:00"))
            if stamp.timestamp() > after:
                return stamp.timestamp()
    return None


async def wait_for(
    condition: Callable[[], Awaitable[bool]], seconds: float, what: str, workers: Workers
) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; worker log:\n{workers.tail()}")
        await asyncio.sleep(0.02)


async def test_a_campaign_survives_every_fault(
    database_url: str,
    sessionmaker: SessionMaker,
    own_redis: EmbeddedRedis,
    relay: RelayProcess,
    tmp_path: Path,
) -> None:
    redis_url = f"redis://127.0.0.1:{own_redis.port}/0"
    campaign_id = await seed_campaign(
        sessionmaker,
        eligible=ELIGIBLE,
        ineligible=INELIGIBLE,
        names={POISON: "Poison\nBcc: everyone@example.fi"},
    )
    pool = await queue.connect(redis_url)
    await queue.enqueue(
        pool, queue.START_CAMPAIGN, campaign_id, job_id=queue.start_campaign_job_id(campaign_id)
    )
    await pool.aclose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSENTRY_")}
    env.update(
        CONSENTRY_DATABASE_URL=database_url,
        CONSENTRY_REDIS_URL=redis_url,
        CONSENTRY_SMTP_HOST=relay.host,
        CONSENTRY_SMTP_PORT=str(relay.port),
        CONSENTRY_VAR_DIR=str(tmp_path / "var"),
        CONSENTRY_SECRET_KEY=TEST_SECRET,
        CONSENTRY_DATA_KEY=TEST_DATA_KEY,
        CONSENTRY_MAIL_FROM="news@example.fi",
        CONSENTRY_SEND_BATCH_SIZE="100",
        CONSENTRY_SEND_CONNECTIONS=str(CONNECTIONS),
        CONSENTRY_SEND_RATE=str(RATE),
        CONSENTRY_FREQUENCY_CAP_MESSAGES="0",
    )
    workers = Workers(env, tmp_path / "worker.log")
    faults: dict[str, float] = {}
    try:
        worker = workers.start()

        async def received(n: int) -> bool:
            return relay.received() >= n

        # 1. A worker dies mid-batch and is started again.
        await wait_for(lambda: received(200), 60, "200 messages", workers)
        workers.kill(worker)
        killed_at, killed_wall, before = time.monotonic(), time.time(), relay.received()
        workers.start()

        async def moving() -> bool:
            return relay.received() > before

        await wait_for(moving, 60, "a delivery after the kill", workers)
        faults["worker resumed after (s)"] = time.monotonic() - killed_at

        async def reclaimed() -> bool:
            return reclaimed_at(workers.log, after=killed_wall) is not None

        # The batches the dead worker held wait for its lease to expire.
        await wait_for(reclaimed, 30, "the dead worker's batches to be reclaimed", workers)
        faults["its batches reclaimed after (s)"] = (
            reclaimed_at(workers.log, after=killed_wall) or 0
        ) - killed_wall

        # 2. Redis dies mid-send and comes back (same port, its AOF).
        await wait_for(lambda: received(450), 60, "450 messages", workers)
        own_redis.kill()
        await asyncio.sleep(1.0)
        own_redis.restart()
        # The worker waits for Redis by itself: nobody has to restart it.
        assert all(p.poll() is None for p in workers.procs), workers.tail()

        # 3. The relay dies mid-send and comes back.
        await wait_for(lambda: received(700), 90, "700 messages", workers)
        relay.kill()
        await asyncio.sleep(1.0)
        relay.start()

        async def finished() -> bool:
            async with sessionmaker() as session:
                campaign = await session.get(Campaign, campaign_id)
                assert campaign is not None
                assert campaign.status.value != "paused", campaign.pause_reason
                return campaign.status.value == "done"

        await wait_for(finished, 180, "the campaign to finish", workers)
    finally:
        workers.stop()

    copies: dict[str, list[str]] = defaultdict(list)
    outbox = sorted((tmp_path / "outbox").glob("*.eml"))
    for path in outbox:
        message = email.message_from_bytes(path.read_bytes())
        copies[str(message["To"])].append(str(message["Message-ID"]))
    deliverable = {address(i) for i in range(ELIGIBLE) if i != POISON}
    assert set(copies) == deliverable, "someone deliverable was missed, or someone else mailed"
    assert all(len(set(ids)) == 1 for ids in copies.values()), "a second, different message"
    resent = sum(len(ids) - 1 for ids in copies.values())
    # In-doubt messages only: at most one per connection per kill of a worker or relay.
    assert resent <= 2 * CONNECTIONS
    assert not any(HEADER_UNSAFE.search(to) for to in copies)

    async with sessionmaker() as session:
        read = await campaigns.read(session, await campaigns.get(session, campaign_id))
        poison = (
            await session.exec(
                select(CampaignRecipient).where(CampaignRecipient.status == "failed")  # type: ignore[arg-type]
            )
        ).all()
    assert read.counts.sent == ELIGIBLE - 1 and read.counts.queued == 0
    assert read.failures == {"render_error": 1} and len(poison) == 1
    print(
        f"\nfaults: worker resumed {faults['worker resumed after (s)']:.1f} s after SIGKILL, "
        f"its batches reclaimed after {faults['its batches reclaimed after (s)']:.1f} s; "
        f"{resent} in-doubt re-send(s) with the same Message-ID"
    )
    assert faults["worker resumed after (s)"] <= RESUME_BOUND
    assert faults["its batches reclaimed after (s)"] <= RESUME_BOUND
