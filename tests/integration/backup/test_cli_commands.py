"""``consentry backup …`` through ``add_commands`` on a parser like service.cli's:
one line and exit 1 on a problem, a summary without personal data on success."""

from __future__ import annotations

import argparse
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from service.backup import schedule
from service.backup.cli import add_commands
from service.migrate import upgrade
from service.settings import Settings, load_settings
from tests.conftest import TEST_DATA_KEY


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A private SQLite database: these tests delete it, too."""
    env = {
        "CONSENTRY_VAR_DIR": str(tmp_path / "var"),
        "CONSENTRY_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'c.db'}",
        "CONSENTRY_DATA_KEY": TEST_DATA_KEY,
        "CONSENTRY_BACKUP_DIR": str(tmp_path / "backups"),
    }
    loaded = load_settings(env)
    upgrade(loaded.database_url)
    return loaded


def consentry(settings: Settings, *argv: str) -> None:
    parser = argparse.ArgumentParser(prog="consentry")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    args.handler(settings, args)


def failing(settings: Settings, capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_:
        consentry(settings, *argv)
    assert exit_.value.code == 1
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and captured.out == "", captured
    assert lines[0].startswith("consentry: ")
    return lines[0]


def add_suppression(settings: Settings, value_hash: str) -> None:
    with closing(sqlite3.connect(settings.database_url.split("///", 1)[1])) as connection:
        connection.execute(
            "INSERT INTO suppressions (value_hash, kind, reason, created_at) "
            "VALUES (?, 'email', 'erasure', '2026-01-01 00:00:00.000000')",
            (value_hash,),
        )
        connection.commit()


def test_create_then_restore(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backup = tmp_path / "b.backup"
    consentry(settings, "backup", "create", str(backup))
    created = capsys.readouterr()
    assert created.out.startswith("consentry: encrypted backup of the sqlite database (revision ")
    assert f"written to {backup} (" in created.out and created.err == ""

    assert "exists; name a new file" in failing(settings, capsys, "backup", "create", str(backup))

    add_suppression(settings, "f" * 64)
    consentry(settings, "backup", "restore", str(backup))
    restored = capsys.readouterr()
    lines = restored.out.splitlines()
    assert lines[0].startswith("consentry: restored the sqlite backup taken ")
    assert lines[1] == (
        "consentry: re-applied erasures: 0 contact(s) in the backup erased again, "
        "0 erasure record(s) put back; 1 suppression(s) added; 0 withdrawal(s), 0 ban(s), "
        "0 objection(s), 0 restriction(s) and 0 profile transfer ban(s) recorded since the "
        "backup put back; 0 profile(s) handed over or destroyed since ended again"
    )


def test_a_damaged_backup_is_one_line_and_exit_1(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backup = tmp_path / "b.backup"
    consentry(settings, "backup", "create", str(backup))
    capsys.readouterr()
    backup.write_bytes(backup.read_bytes()[:-1])
    line = failing(settings, capsys, "backup", "restore", str(backup))
    assert line.startswith("consentry: b.backup: damaged")
    missing = failing(settings, capsys, "backup", "restore", str(tmp_path / "nothing"))
    assert missing.endswith("nothing: no such file")


def test_a_lost_database_is_restored_only_with_no_replay(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backup = tmp_path / "b.backup"
    consentry(settings, "backup", "create", str(backup))
    capsys.readouterr()
    live = Path(settings.database_url.split("///", 1)[1])
    live.unlink()

    line = failing(settings, capsys, "backup", "restore", str(backup))
    assert "cannot be re-applied" in line and "--no-replay" in line
    assert not live.exists()

    consentry(settings, "backup", "restore", "--no-replay", str(backup))
    captured = capsys.readouterr()
    assert captured.out.startswith("consentry: restored the sqlite backup")
    assert "NOT re-applied (--no-replay)" in captured.err
    with closing(sqlite3.connect(live)) as connection:
        assert connection.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)


def test_list_and_prune(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    consentry(settings, "backup", "list")
    assert capsys.readouterr().out == f"consentry: no scheduled backups in {settings.backup_dir}\n"
    assert schedule.run_scheduled(settings).path is not None
    (settings.backup_dir / "consentry-20200101T000000Z.backup").write_bytes(b"junk")

    consentry(settings, "backup", "list")
    listed = capsys.readouterr().out.splitlines()
    assert listed[0] == (
        "consentry-20200101T000000Z.backup  unreadable: "
        "consentry-20200101T000000Z.backup: not a Consentry backup"
    )
    assert "  sqlite  revision " in listed[1]

    consentry(settings, "backup", "prune")
    assert capsys.readouterr().out == (
        f"consentry: deleted 1 backup(s) older than 30 days from {settings.backup_dir}\n"
    )
    assert len(schedule.scheduled_backups(settings.backup_dir)) == 1
