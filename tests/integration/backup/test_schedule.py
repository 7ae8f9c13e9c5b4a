"""Scheduled backups: the settings, the nightly job (a process of its own), and pruning."""

from __future__ import annotations

import asyncio
import fcntl
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from service.backup import schedule
from service.backup.fileformat import read_header
from service.settings import Settings, SettingsError, load_settings
from workers import backup as backup_job
from workers.settings import WorkerSettings, backup_cron

NOW = datetime(2026, 3, 31, 22, 30, tzinfo=UTC)


def touch(directory: Path, name: str, *, days_old: float = 0) -> Path:
    path = directory / name
    path.write_bytes(b"x")
    # An old mtime: pruning must go by the name, and leave other files alone.
    stamp = (NOW - timedelta(days=days_old)).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def test_pruning_deletes_only_old_files_of_the_pattern(tmp_path: Path) -> None:
    old = [
        touch(tmp_path, schedule.file_name(NOW - timedelta(days=31))),
        touch(tmp_path, schedule.file_name(NOW - timedelta(days=400))),
    ]
    young = [
        touch(tmp_path, schedule.file_name(NOW - timedelta(days=29, hours=23))),
        touch(tmp_path, schedule.file_name(NOW)),
    ]
    others = [
        touch(tmp_path, "consentry-20200101T000000Z.backup.bak", days_old=2000),
        touch(tmp_path, "my-own-20200101T000000Z.backup", days_old=2000),
        touch(tmp_path, "consentry-2020.backup", days_old=2000),
        touch(tmp_path, "consentry-20201399T000000Z.backup", days_old=2000),
        touch(tmp_path, "notes.txt", days_old=2000),
    ]
    (tmp_path / "consentry-20200101T000000Z.backup.d").mkdir()

    deleted = schedule.prune(tmp_path, keep_days=30, now=NOW)

    assert sorted(deleted) == sorted(old)
    assert not any(path.exists() for path in old)
    assert all(path.exists() for path in young + others)


def test_pruning_keeps_the_newest_backup_however_old(tmp_path: Path) -> None:
    older = touch(tmp_path, schedule.file_name(NOW - timedelta(days=90)))
    newest = touch(tmp_path, schedule.file_name(NOW - timedelta(days=60)))
    assert schedule.prune(tmp_path, keep_days=30, now=NOW) == [older]
    assert newest.exists()


def test_backup_settings(tmp_path: Path) -> None:
    env = {"CONSENTRY_VAR_DIR": str(tmp_path / "var")}
    defaults = load_settings(env)
    assert defaults.backup_dir == tmp_path / "var" / "backups"
    assert defaults.backup_keep_days == 30
    assert defaults.backup_time == (1, 30)
    assert defaults.pg_bin_dir is None
    chosen = load_settings(
        env
        | {
            "CONSENTRY_BACKUP_DIR": str(tmp_path / "b"),
            "CONSENTRY_BACKUP_KEEP_DAYS": "7",
            "CONSENTRY_BACKUP_TIME": "23:05",
            "CONSENTRY_PG_BIN_DIR": "/opt/pg/bin",
        }
    )
    assert chosen.backup_dir == tmp_path / "b"
    assert (chosen.backup_keep_days, chosen.backup_time) == (7, (23, 5))
    assert chosen.pg_bin_dir == Path("/opt/pg/bin")
    assert load_settings(env | {"CONSENTRY_BACKUP_TIME": "OFF"}).backup_time is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BACKUP_KEEP_DAYS", "0"),
        ("BACKUP_KEEP_DAYS", "thirty"),
        ("BACKUP_TIME", "24:00"),
        ("BACKUP_TIME", "1:5"),
        ("BACKUP_TIME", "130"),
        ("BACKUP_TIME", "01:60"),
    ],
)
def test_a_bad_backup_setting_names_itself(tmp_path: Path, name: str, value: str) -> None:
    env = {"CONSENTRY_VAR_DIR": str(tmp_path / "var"), f"CONSENTRY_{name}": value}
    with pytest.raises(SettingsError, match=f"^CONSENTRY_{name}: "):
        load_settings(env)


def test_the_nightly_backup_is_on_the_cron_table_at_01_30(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    jobs = [job for job in WorkerSettings.cron_jobs if job.name == "cron:scheduled_backup"]
    assert len(jobs) == 1
    assert (jobs[0].hour, jobs[0].minute, jobs[0].second) == ({1}, {30}, {0})
    assert jobs[0].timeout_s is None  # the worker's own job timeout, no longer one
    monkeypatch.setenv("CONSENTRY_BACKUP_TIME", "off")
    assert backup_cron() == []
    monkeypatch.setenv("CONSENTRY_BACKUP_TIME", "04:15")
    assert (backup_cron()[0].hour, backup_cron()[0].minute) == ({4}, {15})


async def test_the_nightly_job_backs_up_and_prunes_in_a_process_of_its_own(
    backup_settings: Settings,
    settings_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    directory = backup_settings.backup_dir
    directory.mkdir()
    stale = touch(directory, schedule.file_name(datetime.now(UTC) - timedelta(days=45)))
    # The process reads the worker's environment, as `consentry worker` has it.
    for name, value in settings_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CONSENTRY_DATABASE_URL", backup_settings.database_url)
    monkeypatch.setenv("CONSENTRY_BACKUP_DIR", str(directory))
    ctx: dict[str, object] = {"settings": backup_settings}

    started = await backup_job.scheduled_backup(ctx)
    process = ctx[backup_job.PROCESS]
    assert isinstance(process, asyncio.subprocess.Process)
    assert started == {"started": process.pid}
    assert await process.wait() == 0

    made = schedule.scheduled_backups(directory)
    assert len(made) == 1 and not stale.exists()
    header = read_header(made[0][1])
    assert header.database == (
        "sqlite" if "sqlite" in backup_settings.database_url else "postgresql"
    )


async def test_the_nightly_job_starts_nothing_while_the_last_one_runs(
    backup_settings: Settings,
) -> None:
    running = await asyncio.create_subprocess_exec("sleep", "60")
    ctx: dict[str, object] = {"settings": backup_settings, backup_job.PROCESS: running}
    try:
        assert await backup_job.scheduled_backup(ctx) == {
            "skipped": "the previous backup is still running"
        }
        assert ctx[backup_job.PROCESS] is running
    finally:
        running.kill()
        await running.wait()


def test_a_scheduled_run_waits_for_no_other(backup_settings: Settings) -> None:
    directory = backup_settings.backup_dir
    directory.mkdir()
    with (directory / schedule.LOCK_FILE).open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert schedule.run_scheduled(backup_settings) == schedule.ScheduledRun(None)
    assert schedule.scheduled_backups(directory) == []
