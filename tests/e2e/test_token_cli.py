"""``consentry token issue|list|revoke`` as an operator runs them: real subprocesses
on a private SQLite database."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from tests.support.consentry_run import PASSWORD, consentry, make_env

pytestmark = pytest.mark.slow


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = make_env(tmp_path)
    assert consentry(env, "migrate").returncode == 0
    for email, role in (("admin@example.fi", "admin"), ("v@example.fi", "viewer")):
        added = consentry(env, "user", "add", email, "--role", role, stdin=PASSWORD + "\n")
        assert added.returncode == 0, added.stderr
    return env


def stored(env: dict[str, str]) -> list[tuple[object, ...]]:
    database = env["CONSENTRY_DATABASE_URL"].removeprefix("sqlite+aiosqlite:///")
    with sqlite3.connect(database) as connection:
        return list(connection.execute("SELECT * FROM api_tokens ORDER BY id"))


def test_issue_list_revoke(env: dict[str, str]) -> None:
    issued = consentry(
        env, "token", "issue", "admin@example.fi", "--name", "stats", "--scope", "viewer",
        "--expires-in-days", "30",
    )  # fmt: skip
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    assert token.startswith("cst_")
    assert "\n" not in token

    listed = consentry(env, "token", "list")
    assert listed.returncode == 0, listed.stderr
    header, line = listed.stdout.strip().splitlines()
    assert header.split("\t")[:4] == ["id", "name", "user", "scope"]
    token_id, name, email, scope, *_ = line.split("\t")
    assert (name, email, scope) == ("stats", "admin@example.fi", "viewer")
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert token not in listed.stdout
    assert digest not in listed.stdout
    rows = stored(env)
    assert digest in str(rows[0])
    assert token.removeprefix("cst_") not in str(rows[0])

    only_viewer = consentry(env, "token", "list", "--email", "v@example.fi")
    assert only_viewer.stdout.strip().splitlines()[1:] == []

    revoked = consentry(env, "token", "revoke", token_id)
    assert revoked.returncode == 0, revoked.stderr
    database = env["CONSENTRY_DATABASE_URL"].removeprefix("sqlite+aiosqlite:///")
    with sqlite3.connect(database) as connection:
        (revoked_at,) = connection.execute("SELECT revoked_at FROM api_tokens").fetchone()
    assert revoked_at is not None
    again = consentry(env, "token", "revoke", token_id)
    assert again.returncode == 1
    assert "already revoked" in again.stderr
    assert "Traceback" not in again.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["issue", "v@example.fi", "--scope", "admin"], "may not hold a token scoped to admin"),
        (["issue", "nobody@example.fi"], "no user with this email"),
        (["issue", "v@example.fi", "--expires-in-days", "0"], "must be from 1"),
        (["revoke", "999"], "no token with this id"),
        (["revoke", "x"], "must be a token id"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(
    env: dict[str, str], args: list[str], message: str
) -> None:
    result = consentry(env, "token", *args)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert stored(env) == []
