"""Real worker processes, two sharing a campaign, each killed once with SIGKILL
mid-campaign and restarted, complete it: nobody missed, nobody mailed twice.

The relay is a real SMTP server (the mail catcher) that keeps every message it
accepts; the worker is `consentry worker`, a separate process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service import queue
from service.campaigns import service as campaigns
from service.db import SessionMaker
from service.embedded import MailCatcher
from service.models import Campaign
from tests.conftest import TEST_DATA_KEY, TEST_SECRET
from tests.support.seeding import seed_campaign

pytestmark = pytest.mark.slow

ELIGIBLE = 1200
INELIGIBLE = 60
JOB_TIMEOUT = 5  # arq re-runs a killed worker's job after this + 10 s
CONNECTIONS = 4
KILL_AT = (150, 650)  # messages received before each SIGKILL


@pytest.fixture
def catcher(tmp_path: Path) -> Iterator[MailCatcher]:
    server = MailCatcher(tmp_path / "outbox")
    with server:
        yield server


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "service.cli", "worker"], env=env, stdout=out, stderr=out
        )


def full(log: Path) -> str:
    return log.read_text()


def tail(log: Path) -> str:
    return full(log)[-4000:]


async def wait_for(condition: Any, seconds: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; worker log:\n{tail(log)}")
        await asyncio.sleep(0.05)


async def test_killed_worker_mails_everyone_exactly_once(
    database_url: str,
    sessionmaker: SessionMaker,
    redis_url: str,
    catcher: MailCatcher,
    tmp_path: Path,
) -> None:
    isolated_redis = redis_url.rsplit("/", 1)[0] + "/9"
    pool = await queue.connect(isolated_redis)
    await pool.flushdb()
    campaign_id = await seed_campaign(sessionmaker, eligible=ELIGIBLE, ineligible=INELIGIBLE)
    await queue.enqueue(
        pool, queue.START_CAMPAIGN, campaign_id, job_id=queue.start_campaign_job_id(campaign_id)
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSENTRY_")}
    env.update(
        CONSENTRY_DATABASE_URL=database_url,
        CONSENTRY_REDIS_URL=isolated_redis,
        CONSENTRY_SMTP_HOST="127.0.0.1",
        CONSENTRY_SMTP_PORT=str(catcher.port),
        CONSENTRY_VAR_DIR=str(tmp_path / "var"),
        CONSENTRY_SECRET_KEY=TEST_SECRET,
        CONSENTRY_DATA_KEY=TEST_DATA_KEY,
        CONSENTRY_MAIL_FROM="news@example.fi",
        CONSENTRY_SEND_JOB_TIMEOUT=str(JOB_TIMEOUT),
        CONSENTRY_SEND_BATCH_SIZE="100",
        CONSENTRY_SEND_CONNECTIONS=str(CONNECTIONS),
        CONSENTRY_FREQUENCY_CAP_MESSAGES="0",
    )
    log = tmp_path / "worker.log"
    # Two workers share the campaign; each kill takes one of them down.
    workers = [start_worker(env, log), start_worker(env, log)]
    try:
        for victim, threshold in enumerate(KILL_AT):

            async def reached(n: int = threshold) -> bool:
                assert all(w.poll() is None for w in workers), log.read_text()
                return catcher.received >= n

            await wait_for(reached, 120, f"{threshold} messages", log)
            workers[victim].send_signal(signal.SIGKILL)
            workers[victim].wait(10)
            workers[victim] = start_worker(env, log)

        async def finished() -> bool:
            async with sessionmaker() as session:
                campaign = await session.get(Campaign, campaign_id)
                return campaign is not None and campaign.status.value == "done"

        await wait_for(finished, 240, "the campaign to finish", log)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(20)
            except subprocess.TimeoutExpired:
                worker.kill()
        await pool.aclose()
    assert "Traceback" not in full(log), tail(log)

    copies: dict[str, list[str]] = defaultdict(list)
    for message in catcher.messages():
        copies[str(message["To"])].append(str(message["Message-ID"]))
    expected = {f"p{i}@example.fi" for i in range(ELIGIBLE)}
    assert set(copies) == expected, "someone eligible was missed, or someone else was mailed"
    # The only duplicate SMTP allows: a message the relay accepted in the few
    # microseconds before the journal write, re-sent with the same Message-ID
    # (README: "Exactly once"). At most one per connection per kill.
    repeated = {to: ids for to, ids in copies.items() if len(ids) > 1}
    assert all(len(set(ids)) == 1 for ids in repeated.values()), repeated
    assert sum(len(ids) - 1 for ids in repeated.values()) <= len(KILL_AT) * CONNECTIONS
    print(f"\nexactly-once: {len(repeated)} in-window re-sends after {len(KILL_AT)} kills")
    async with sessionmaker() as session:
        counts = await campaigns.read(session, await campaigns.get(session, campaign_id))
    assert (
        counts.counts.sent == ELIGIBLE and counts.counts.queued == 0 and counts.counts.failed == 0
    )
