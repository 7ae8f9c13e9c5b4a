"""``consentry status``: what it reads from the database and Redis, and what it prints."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from arq.connections import ArqRedis
from arq.worker import Worker

from service import clock, queue
from service.cli import main
from service.db import SessionMaker, session_scope
from service.embedded import free_port
from service.models import RetentionAction
from service.models.enums import CampaignStatus, RecipientStatus
from service.observability import cli as status_cli
from service.observability.service import status
from service.settings import Settings, get_settings
from tests.integration.observability.conftest import add_campaign
from tests.support.clock import FrozenClock
from tests.support.worker import worker_context
from workers import heartbeat
from workers.settings import WorkerSettings

SENT, SKIPPED, FAILED, QUEUED = (
    RecipientStatus.SENT,
    RecipientStatus.SKIPPED,
    RecipientStatus.FAILED,
    RecipientStatus.QUEUED,
)
BACKUP = "consentry-20260301T233000Z.backup"


async def run_nightly_retention(ctx: dict[str, Any]) -> None:
    """The worker's own cron entry, run once by a real arq worker."""
    (nightly,) = [job for job in WorkerSettings.cron_jobs if job.name == "cron:daily_retention"]
    worker = Worker(
        functions=[],
        cron_jobs=[copy.copy(nightly)],
        queue_name=queue.QUEUE_NAME,
        redis_pool=ctx["redis"],
        burst=True,
        poll_delay=0,
        handle_signals=False,
        ctx=dict(ctx),
    )
    await worker.main()


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return replace(settings, backup_dir=tmp_path / "backups")


async def test_status_reads_campaigns_queue_worker_retention_and_backup(
    settings: Settings, sessionmaker: SessionMaker, redis: ArqRedis
) -> None:
    sending = await add_campaign(
        sessionmaker,
        CampaignStatus.SENDING,
        [(SENT, None)] * 5 + [(SKIPPED, "no_consent"), (FAILED, None)] + [(QUEUED, None)] * 3,
    )
    starts = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
    scheduled = await add_campaign(
        sessionmaker, CampaignStatus.SCHEDULED, [], name="Winter", send_at=starts
    )
    await add_campaign(sessionmaker, CampaignStatus.DONE, [(SENT, None)], name="Old")
    async with session_scope(sessionmaker) as session:
        session.add(RetentionAction(rule="engagement_events", action="delete", reference="3"))
    async with worker_context(settings, sessionmaker) as ctx:
        await run_nightly_retention(ctx)
    await queue.enqueue(redis, queue.SEND_BATCH, sending, 1, 10, job_id="test:batch")
    await heartbeat.heartbeat({"redis": redis})
    settings.backup_dir.mkdir()
    (settings.backup_dir / BACKUP).write_bytes(b"x" * 2_500_000)

    async with sessionmaker() as session:
        result = await status(session, settings=settings, redis=redis, redis_error=None)

    assert [(c.id, c.status) for c in result.campaigns] == [
        (sending, CampaignStatus.SENDING),
        (scheduled, CampaignStatus.SCHEDULED),
    ]
    first, second = result.campaigns
    assert (first.total, first.sent, first.skipped, first.failed, first.queued) == (10, 5, 1, 1, 3)
    assert second.total == 0 and second.send_at == starts
    assert (result.queue.reachable, result.queue.depth, result.queue.ready) == (True, 1, 1)
    assert result.worker.alive is True
    assert result.retention.last_action_rule == "engagement_events"
    assert result.retention.last_run is not None
    assert result.retention.last_run["failed"] == 0
    assert result.retention.last_run["as_of"] == clock.today().isoformat()
    assert result.backup.file == BACKUP and result.backup.size_bytes == 2_500_000

    text = status_cli.render(result)
    assert f"#{sending:<5} Spring offer" in text
    assert "[################........]  70% 7/10: sent 5, skipped 1, failed 1" in text
    assert "starts 2026-12-01 09:00" in text  # Helsinki time
    assert "Old" not in text
    assert "Queue: 1 job(s) (1 due now, 0 deferred)" in text
    assert "Worker: alive (last heartbeat" in text
    assert "Retention: last run " in text and "(engagement_events)" in text
    assert "Backup: last 2026-03-02 01:30" in text and "2.5 MB" in text


async def test_a_paused_campaign_shows_why_and_failures_by_reason(
    settings: Settings, sessionmaker: SessionMaker
) -> None:
    reason = "sending recipients 1-100 failed 6 times; last error: RelayUnavailable: …"
    paused = await add_campaign(
        sessionmaker,
        CampaignStatus.PAUSED,
        [(SENT, None), (FAILED, "render_error"), (FAILED, "render_error"), (FAILED, None)],
        pause_reason=reason,
    )
    async with sessionmaker() as session:
        result = await status(session, settings=settings, redis=None, redis_error="no Redis")
    (campaign,) = result.campaigns
    assert campaign.id == paused and campaign.pause_reason == reason
    # Rows failed before reasons were kept were refused by the relay.
    assert campaign.failures == {"render_error": 2, "rejected": 1}
    text = status_cli.render(result)
    assert "failed 3 (rejected 1, render_error 2)" in text
    assert f"paused: {reason}" in text
    assert json.loads(result.model_dump_json())["campaigns"][0]["pause_reason"] == reason


async def test_without_redis_the_database_part_is_whole(
    settings: Settings, sessionmaker: SessionMaker
) -> None:
    await add_campaign(sessionmaker, CampaignStatus.PAUSED, [(SENT, None), (QUEUED, None)])
    async with sessionmaker() as session:
        result = await status(
            session, settings=settings, redis=None, redis_error="Redis not reachable at x:1"
        )
    assert len(result.campaigns) == 1 and result.campaigns[0].total == 2
    assert result.queue.reachable is False and result.worker.alive is None
    text = status_cli.render(result)
    assert "Queue: unknown: Redis not reachable at x:1" in text
    assert "Worker: unknown" in text
    assert "Backup: none in" in text
    assert "Retention: no run in the last 24 hours" in text
    assert "no action recorded yet" in text


async def test_a_stale_heartbeat_is_shown_as_stale(
    settings: Settings,
    sessionmaker: SessionMaker,
    redis: ArqRedis,
    frozen_clock: FrozenClock,
) -> None:
    frozen_clock.advance(seconds=-100)
    await heartbeat.heartbeat({"redis": redis})
    frozen_clock.advance(seconds=100)
    async with sessionmaker() as session:
        result = await status(session, settings=settings, redis=redis, redis_error=None)
    assert result.worker.alive is False and result.worker.state == "stale"
    assert "Worker: STALE (last heartbeat 100 s ago; workers beat every 10 s): not ready" in (
        status_cli.render(result)
    )
    assert json.loads(result.model_dump_json())["worker"]["state"] == "stale"


async def test_a_heartbeat_of_two_intervals_ago_is_alive(
    settings: Settings,
    sessionmaker: SessionMaker,
    redis: ArqRedis,
    frozen_clock: FrozenClock,
) -> None:
    frozen_clock.advance(seconds=-20)
    await heartbeat.heartbeat({"redis": redis})
    frozen_clock.advance(seconds=20)
    async with sessionmaker() as session:
        result = await status(session, settings=settings, redis=redis, redis_error=None)
    assert (result.worker.alive, result.worker.state) == (True, "alive")
    assert "Worker: alive (last heartbeat 20 s ago)" in status_cli.render(result)


def test_progress_bar() -> None:
    assert status_cli.progress_bar(0, 0) == "[........................]   0%"
    assert status_cli.progress_bar(3, 4, width=8) == "[######..]  75%"
    assert status_cli.progress_bar(4, 4, width=8) == "[########] 100%"


# -- the command -------------------------------------------------------------------


@pytest.fixture
def command_env(
    settings: Settings, settings_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """The environment `consentry status` reads its settings from, in this process."""
    for name, value in settings_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CONSENTRY_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CONSENTRY_BACKUP_DIR", str(settings.backup_dir))
    monkeypatch.delenv("CONSENTRY_REDIS_URL", raising=False)
    get_settings.cache_clear()
    yield dict(settings_env)
    get_settings.cache_clear()


def test_the_command_says_when_redis_does_not_answer_and_exits_0(
    command_env: dict[str, str],
    sessionmaker: SessionMaker,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = free_port()
    monkeypatch.setenv("CONSENTRY_REDIS_URL", f"redis://:secret@127.0.0.1:{port}/0")
    get_settings.cache_clear()
    main(["status"])
    out = capsys.readouterr().out
    assert "Campaigns: none sending, paused or scheduled" in out
    assert f"Queue: unknown: Redis not reachable at 127.0.0.1:{port} (ConnectionError)" in out
    assert "secret" not in out


def test_the_command_finds_the_redis_consentry_run_started(
    command_env: dict[str, str],
    settings: Settings,
    sessionmaker: SessionMaker,
    redis_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    var_dir = Path(command_env["CONSENTRY_VAR_DIR"])
    main(["status", "--json"])
    alone = json.loads(capsys.readouterr().out)
    assert alone["queue"]["reachable"] is False
    assert "no Redis configured" in alone["queue"]["error"]

    with status_cli.embedded_redis_note(var_dir, settings.redis_url or ""):
        main(["status", "--json"])
    found = json.loads(capsys.readouterr().out)
    assert found["queue"]["reachable"] is True
    assert isinstance(found["queue"]["depth"], int)
    assert set(found) == {
        "as_of",
        "campaigns",
        "queue",
        "worker",
        "retention",
        "backup",
        "register_problems",
    }
    assert not (var_dir / status_cli.REDIS_NOTE).exists()
