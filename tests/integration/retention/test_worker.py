"""The daily retention job: its schedule in Helsinki, a real arq worker
running it against real Redis, and the lock that keeps two runs apart."""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from arq import create_pool
from arq.connections import ArqRedis
from arq.cron import next_cron
from arq.worker import Worker
from sqlalchemy import select
from sqlmodel import col

from service import clock
from service.db import SessionMaker, run
from service.models import Contact
from service.settings import Settings
from tests.integration.retention.conftest import NewContact, actions
from tests.support.clock import FrozenClock
from workers import retention
from workers.settings import WorkerSettings, redis_settings, sender_for


def test_the_job_runs_once_a_night_at_half_past_two_in_helsinki() -> None:
    assert WorkerSettings.timezone is clock.LOCAL_ZONE
    [job] = [job for job in WorkerSettings.cron_jobs if job.name == "cron:daily_retention"]
    assert (job.hour, job.minute, job.second) == ({2}, {30}, {0})
    assert job.unique and job.run_at_startup
    # Old engagement events and expired call lists are the run's now, so that
    # each deletion is recorded: their own crons are gone.
    names = {job.name for job in WorkerSettings.cron_jobs}
    assert not names & {"cron:purge_engagement", "cron:expire_call_lists"}
    # Across both clock changes of 2026 (29 March, 25 October), one run a day,
    # each at 02:30 Helsinki time.
    moment = datetime(2026, 3, 27, 12, tzinfo=clock.LOCAL_ZONE)
    runs = []
    for _ in range(240):
        moment = next_cron(
            moment, hour=job.hour, minute=job.minute, second=job.second, microsecond=0
        )
        runs.append(moment)
    assert all(run.time() == time(2, 30) for run in runs)
    assert [run.date() for run in runs] == [
        date(2026, 3, 28) + timedelta(days=n) for n in range(240)
    ]
    # The clocks move at 03:00 in spring and 04:00 in autumn: 02:30 is still
    # winter time on 29 March and still summer time on 25 October.
    offsets = {run.date(): run.utcoffset() for run in runs}
    assert offsets[date(2026, 3, 29)] == timedelta(hours=2)
    assert offsets[date(2026, 3, 30)] == timedelta(hours=3)
    assert offsets[date(2026, 10, 25)] == timedelta(hours=3)
    assert offsets[date(2026, 10, 26)] == timedelta(hours=2)
    # Instants a day apart: 23 and 25 hours across the changes.
    instants = [run.astimezone(UTC) for run in runs]
    gaps = {later - earlier for earlier, later in itertools.pairwise(instants)}
    assert gaps == {timedelta(hours=23), timedelta(hours=24), timedelta(hours=25)}


@pytest.fixture
async def arq_pool(redis_url: str) -> AsyncIterator[ArqRedis]:
    pool = await create_pool(redis_settings(redis_url))
    # A burst worker runs whatever other tests of this process left queued.
    await pool.flushdb()
    try:
        yield pool
    finally:
        await pool.delete(retention.LOCK_KEY)
        await pool.aclose()


@pytest.fixture
def ctx(arq_pool: ArqRedis, settings: Settings, sessionmaker: SessionMaker) -> dict[str, Any]:
    """What workers.settings.on_startup puts in ctx, built from the test settings."""
    context: dict[str, Any] = {
        "redis": arq_pool,
        "settings": settings,
        "sessionmaker": sessionmaker,
    }
    context["sender"] = sender_for(settings, context)
    return context


async def contact_ids(sessionmaker: SessionMaker) -> set[int]:
    async with sessionmaker() as session:
        return set((await run(session, select(col(Contact.id)))).scalars().all())


async def test_a_real_worker_runs_the_job_at_startup(
    ctx: dict[str, Any],
    arq_pool: ArqRedis,
    new_contact: NewContact,
    sessionmaker: SessionMaker,
    frozen_clock: FrozenClock,
) -> None:
    due = await new_contact(last_service_contact_at="2021-06-14")
    kept = await new_contact(last_service_contact_at="2021-06-15")
    frozen_clock.set(date(2026, 6, 15), at=time(2, 30))
    [job] = [job for job in WorkerSettings.cron_jobs if job.name == "cron:daily_retention"]
    worker = Worker(
        functions=[],
        # A copy: arq keeps each job's next run time on the job itself.
        cron_jobs=[dataclasses.replace(job, next_run=None)],
        queue_name=f"test-retention-{uuid.uuid4().hex}",
        redis_pool=arq_pool,
        ctx={key: value for key, value in ctx.items() if key != "redis"},
        burst=True,
        poll_delay=0,
        handle_signals=False,
        timezone=clock.LOCAL_ZONE,
    )
    try:
        await worker.main()
    finally:
        await worker.close()
    assert (worker.jobs_complete, worker.jobs_failed) == (1, 0)
    assert await contact_ids(sessionmaker) == {kept}
    assert await actions(sessionmaker) == [
        ("contact_5_years", "erase", f"contact {due}", date(2026, 6, 15))
    ]


async def test_the_job_reports_its_counts_and_keeps_out_of_a_run_in_progress(
    ctx: dict[str, Any],
    arq_pool: ArqRedis,
    new_contact: NewContact,
    sessionmaker: SessionMaker,
    frozen_clock: FrozenClock,
) -> None:
    due = await new_contact(last_service_contact_at="2020-01-01")
    frozen_clock.set(date(2026, 6, 15), at=time(2, 30))
    # Another worker's run holds the lock: this one does nothing.
    other = arq_pool.lock(retention.LOCK_KEY, timeout=60, blocking=False)
    assert await other.acquire()
    assert await retention.daily_retention(ctx) == {
        "skipped": "another retention run is in progress"
    }
    assert due in await contact_ids(sessionmaker)
    await other.release()

    assert await retention.daily_retention(ctx) == {
        "as_of": "2026-06-15",
        "done": 1,
        "skipped": 0,
        "no_longer_due": 0,
        "failed": 0,
    }
    assert due not in await contact_ids(sessionmaker)
    # The lock is given back: the next night's run is not kept out.
    assert not await arq_pool.exists(retention.LOCK_KEY)
