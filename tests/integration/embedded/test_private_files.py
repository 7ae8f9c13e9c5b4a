"""Private files are private (issue 13 item 9), shown on real files: the SQLite
database with its WAL and shared-memory files after a write, the mail
catcher's outbox, the embedded Redis's folder, log and data, the backup
lock file, the dev keys — each 0600 in a 0700 folder, whatever the umask of
the process (these run under a lax 022, as uvicorn's or arq's own entry point
might), and `tighten` for what an older version left open."""

from __future__ import annotations

import os
import smtplib
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from service import private
from service.backup import schedule
from service.db import create_engine
from service.embedded import EmbeddedRedis, MailCatcher
from service.settings import load_settings


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def lax_umask() -> Iterator[None]:
    """The umask most shells give: without explicit modes files come out 0644."""
    before = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(before)


async def test_the_sqlite_database_wal_and_shm_are_private(tmp_path: Path) -> None:
    database = tmp_path / "data" / "consentry.db"
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (x TEXT)"))
            await connection.execute(text("INSERT INTO t VALUES ('personal')"))
        async with engine.connect() as connection:  # held open: the WAL stays
            await connection.execute(text("SELECT * FROM t"))
            wal, shm = (database.with_name(database.name + s) for s in ("-wal", "-shm"))
            assert wal.exists() and shm.exists()
            assert (mode(database), mode(wal), mode(shm)) == (0o600, 0o600, 0o600)
            assert mode(database.parent) == 0o700
    finally:
        await engine.dispose()


def test_an_outbox_message_of_the_real_mail_catcher_is_private(tmp_path: Path) -> None:
    outbox = tmp_path / "var" / "outbox"
    with MailCatcher(outbox) as (host, port), smtplib.SMTP(host, port) as client:
        client.sendmail("news@firma.fi", ["someone@example.fi"], b"Subject: Hi\r\n\r\nHello\r\n")
    (message,) = outbox.glob("*.eml")
    assert mode(outbox) == 0o700
    assert mode(message) == 0o600


async def test_the_embedded_redis_keeps_its_data_and_log_private(tmp_path: Path) -> None:
    data = tmp_path / "redis"
    with EmbeddedRedis(data) as url:
        from redis.asyncio import Redis

        client = Redis.from_url(url)
        try:
            await client.set("k", "personal")
            await client.save()  # the dump now exists
        finally:
            await client.aclose()
    written = [path for path in data.rglob("*")]
    assert data / "redis.log" in written and data / "dump.rdb" in written
    assert mode(data) == 0o700
    for path in written:
        assert mode(path) == (0o700 if path.is_dir() else 0o600), path


def test_the_backup_lock_file_and_the_dev_keys_are_private(tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    backups.mkdir(mode=0o700)
    with schedule._exclusive(backups) as mine:
        assert mine
    (lock,) = backups.iterdir()
    assert mode(lock) == 0o600

    load_settings({"CONSENTRY_VAR_DIR": str(tmp_path / "var")})
    assert mode(tmp_path / "var") == 0o700
    assert {mode(p) for p in (tmp_path / "var").iterdir()} == {0o600}


def test_tighten_fixes_what_was_left_open_and_says_what(tmp_path: Path) -> None:
    var = tmp_path / "var"
    (var / "outbox").mkdir(parents=True)
    (var / "secret_key").write_text("k")
    database = tmp_path / "c.db"
    database.write_bytes(b"")
    assert mode(var) == 0o755 and mode(database) == 0o644

    changed = private.tighten(private.installation_paths(var, database, [tmp_path / "none"]))

    assert (mode(var), mode(var / "outbox")) == (0o700, 0o700)
    assert (mode(var / "secret_key"), mode(database)) == (0o600, 0o600)
    line = private.tighten_line(changed)
    assert line is not None and "\n" not in line
    assert f"{database} (was 0644)" in line and f"{var} (was 0755)" in line
    assert private.tighten(private.installation_paths(var, database, [])) == []


def test_the_command_makes_an_open_var_dir_private_at_start_with_one_line(
    tmp_path: Path,
) -> None:
    from tests.support.consentry_run import consentry, make_env

    env = make_env(tmp_path)
    var = Path(env["CONSENTRY_VAR_DIR"])
    var.mkdir()  # 0755 under the lax umask: what an older version left
    (var / "secret_key").write_text("Qm7vT2xLp9RkW4zNc8HbJ5sYd3FgA6eU-dev")
    assert consentry(env, "migrate").returncode == 0  # creates c.db
    database = tmp_path / "c.db"
    os.chmod(database, 0o644)
    os.chmod(var, 0o755)  # noqa: S103 - the mistake being corrected

    result = consentry(env, "migrate")

    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "made private" in line]
    assert len(lines) == 1, result.stderr
    assert f"{database} (was 0644)" in lines[0] and f"{var} (was 0755)" in lines[0]
    assert (mode(var), mode(database), mode(var / "secret_key")) == (0o700, 0o600, 0o600)
    again = consentry(env, "migrate")
    assert "made private" not in again.stderr
