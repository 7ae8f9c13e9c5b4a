"""``consentry import contacts`` as an operator runs it: a real subprocess on
a private SQLite database. (Pending until service/cli.py registers
service.imports.cli.add_commands.)"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.support.consentry_run import consentry, make_env

pytestmark = pytest.mark.slow


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = make_env(tmp_path)
    assert consentry(env, "migrate").returncode == 0
    return env


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "people.csv"
    path.write_text(text, encoding="utf-8")
    return path


def emails(env: dict[str, str]) -> list[str]:
    database = env["CONSENTRY_DATABASE_URL"].removeprefix("sqlite+aiosqlite:///")
    with sqlite3.connect(database) as connection:
        return sorted(row[0] for row in connection.execute("SELECT email FROM contacts"))


def test_good_rows_go_in_and_bad_rows_are_reported(env: dict[str, str], tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "full_name,email,personal_identity_code,legal_basis\n"
        "Maija Meikäläinen,maija@example.fi,,consent\n"
        "Huono Tunnus,tunnus@example.fi,131052-308X,consent\n",
    )
    result = consentry(env, "import", "contacts", str(path))
    assert result.returncode == 1, result.stderr
    assert "created 1" in result.stdout
    assert "line 3: refused (invalid): personal_identity_code:" in result.stdout
    assert "131052-308X" not in result.stdout + result.stderr
    # Not a terminal: progress as plain lines, no carriage returns.
    assert "\r" not in result.stderr
    assert "rows/s" in result.stderr
    assert emails(env) == ["maija@example.fi"]


def test_all_or_nothing_and_dry_run_write_nothing(env: dict[str, str], tmp_path: Path) -> None:
    path = write(
        tmp_path, "full_name,email,legal_basis\nA B,ab@example.fi,consent\nC,bad,consent\n"
    )
    assert consentry(env, "import", "contacts", str(path), "--all-or-nothing").returncode == 1
    good = write(tmp_path, "full_name,email,legal_basis\nA B,ab@example.fi,consent\n")
    dry = consentry(env, "import", "contacts", str(good), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "(dry run)" in dry.stdout
    assert emails(env) == []
    assert consentry(env, "import", "contacts", str(good)).returncode == 0
    assert emails(env) == ["ab@example.fi"]


def test_an_unreadable_file_exits_2_with_one_line(env: dict[str, str], tmp_path: Path) -> None:
    path = write(tmp_path, "full_name,email,hobby\nA,a@example.fi,golf\n")
    result = consentry(env, "import", "contacts", str(path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "consentry: people.csv: unknown column(s) in the header: hobby; see docs/imports.md; "
        "nothing was imported"
    ]
    missing = consentry(env, "import", "contacts", str(tmp_path / "nope.csv"))
    assert missing.returncode == 2
    assert emails(env) == []


def test_rows_lists_each_rows_outcome(env: dict[str, str], tmp_path: Path) -> None:
    path = write(
        tmp_path, "full_name,email,legal_basis\nA B,ab@example.fi,consent\nC,bad,consent\n"
    )
    result = consentry(env, "import", "contacts", str(path), "--dry-run", "--rows")
    assert result.returncode == 1, result.stderr
    assert "line 2: created" in result.stdout
    assert "line 3: refused (invalid): email:" in result.stdout
    assert emails(env) == []
