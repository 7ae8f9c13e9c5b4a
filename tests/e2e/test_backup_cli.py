"""``consentry backup`` as an operator runs it: a backup of the running
service, an erasure after it, and a restore that does not bring the person back.

Real subprocesses, a private var dir and SQLite file (tests/support/consentry_run.py).
"""

from __future__ import annotations

import sqlite3
import stat
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx

from tests.support.consentry_run import PASSWORD, consentry, make_env, running_service

ADMIN = "admin@example.fi"
KEPT = {"full_name": "Kaisa Kept", "email": "kaisa.kept@example.fi"}
ERASED = {"full_name": "Erkki Erased", "email": "erkki.erased@example.fi"}


def add(api: httpx.Client, person: dict[str, str]) -> int:
    body = {**person, "legal_basis": "customer_relationship", "source": "self"}
    response = api.post("/contacts", json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def rows(database: Path, query: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(database)) as connection:
        return connection.execute(query).fetchall()


def one_line(stream: str) -> str:
    lines = stream.splitlines()
    assert len(lines) == 1 and "Traceback" not in stream, stream
    return lines[0]


def test_a_backup_of_the_running_service_restores_without_the_erased(tmp_path: Path) -> None:
    backup = tmp_path / "live.backup"
    with running_service(tmp_path) as run:
        env = run.env
        added = consentry(env, "user", "add", ADMIN, "--role", "admin", stdin=PASSWORD)
        assert added.returncode == 0, added.stderr
        token = consentry(env, "token", "issue", ADMIN).stdout.strip()
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=f"{run.base_url}/api/v1", headers=headers) as api:
            kept, erased = add(api, KEPT), add(api, ERASED)
            made = consentry(env, "backup", "create", str(backup))
            assert made.returncode == 0, made.stderr
            assert made.stdout.startswith("consentry: encrypted backup of the sqlite database")
            assert api.delete(f"/contacts/{erased}").status_code == 204
        database = run.database

    raw = backup.read_bytes()
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert ERASED["email"].encode() not in raw and KEPT["full_name"].encode() not in raw

    restored = consentry(env, "backup", "restore", str(backup))
    assert restored.returncode == 0, restored.stderr
    assert "1 contact(s) in the backup erased again, 1 erasure record(s) put back" in (
        restored.stdout
    )
    assert ERASED["email"] not in restored.stdout + restored.stderr
    assert rows(database, "SELECT id FROM contacts") == [(kept,)]
    assert rows(database, "SELECT contact_id FROM erasures") == [(erased,)]
    assert len(rows(database, "SELECT id FROM suppressions WHERE reason = 'erasure'")) == 1


def test_a_damaged_or_foreign_backup_is_one_line_and_exit_1(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    assert consentry(env, "migrate").returncode == 0
    backup = tmp_path / "b.backup"
    assert consentry(env, "backup", "create", str(backup)).returncode == 0

    again = consentry(env, "backup", "create", str(backup))
    assert again.returncode == 1
    assert one_line(again.stderr).endswith("b.backup exists; name a new file")

    other_key = consentry({**env, "CONSENTRY_DATA_KEY": "k" * 40}, "backup", "restore", str(backup))
    assert other_key.returncode == 1
    assert one_line(other_key.stderr) == (
        "consentry: b.backup: made with another CONSENTRY_DATA_KEY"
    )

    backup.write_bytes(backup.read_bytes()[:-100])
    damaged = consentry(env, "backup", "restore", str(backup))
    assert damaged.returncode == 1
    assert one_line(damaged.stderr).startswith("consentry: b.backup: damaged")

    bad_setting = consentry({**env, "CONSENTRY_BACKUP_KEEP_DAYS": "0"}, "backup", "prune")
    assert bad_setting.returncode == 2
    assert one_line(bad_setting.stderr).startswith("consentry: CONSENTRY_BACKUP_KEEP_DAYS")
