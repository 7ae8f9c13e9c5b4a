"""``consentry user add --language``: the language of a new member's staff
pages (Finnish unless told), refused when not one the pages speak."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.support.consentry_run import consentry, make_env

PASSWORD = "correct horse battery staple"


def _languages(env: dict[str, str]) -> dict[str, str]:
    path = env["CONSENTRY_DATABASE_URL"].removeprefix("sqlite+aiosqlite:///")
    with sqlite3.connect(path) as db:
        return dict(db.execute("SELECT email, language FROM users").fetchall())


def test_user_add_stores_the_language_finnish_by_default(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    assert consentry(env, "migrate").returncode == 0
    plain = consentry(env, "user", "add", "fi@example.fi", "--role", "viewer", stdin=PASSWORD)
    assert plain.returncode == 0, plain.stderr
    swedish = consentry(
        env, "user", "add", "sv@example.fi", "--role", "viewer", "--language", "sv", stdin=PASSWORD
    )
    assert swedish.returncode == 0, swedish.stderr
    assert _languages(env) == {"fi@example.fi": "fi", "sv@example.fi": "sv"}

    refused = consentry(
        env, "user", "add", "de@example.fi", "--role", "viewer", "--language", "de", stdin=PASSWORD
    )
    assert refused.returncode == 2
    assert "invalid choice: 'de'" in refused.stderr and "Traceback" not in refused.stderr
    assert "de@example.fi" not in _languages(env)
