"""``consentry import robinson FILE`` on both databases (the real command, run
in-process against the test database)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from service.cli import main
from service.db import SessionMaker
from service.settings import get_settings
from tests.integration.robinson.support import load_extract, stored


@pytest.fixture(autouse=True)
def cli_env(
    monkeypatch: pytest.MonkeyPatch, settings_env: dict[str, str], database_url: str
) -> Iterator[None]:
    for name, value in {**settings_env, "CONSENTRY_DATABASE_URL": database_url}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def consentry(*args: str) -> int:
    """Exit status of ``consentry ARGS`` (its own event loop, in a thread)."""

    def call() -> int:
        try:
            main(list(args))
        except SystemExit as exc:
            return int(exc.code or 0)
        return 0

    return await asyncio.to_thread(call)


def write(tmp_path: Path, text: str, name: str = "robinson.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


async def test_a_clean_file_loads_and_exits_0(
    tmp_path: Path, sessionmaker: SessionMaker, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "0401111111\n+358 50 222 2222\n")
    assert await consentry("import", "robinson", str(path), "--extract-date", "2026-11-20") == 0
    out = capsys.readouterr().out
    assert "the extract of 2026-11-20 is loaded" in out and "numbers 2" in out
    extracts, numbers = await stored(sessionmaker)
    assert [(e.extract_date, e.file_name, e.number_count) for e in extracts] == [
        (date(2026, 11, 20), "robinson.txt", 2)
    ]
    assert len(numbers) == 2


async def test_bad_lines_are_listed_and_exit_1(
    tmp_path: Path, sessionmaker: SessionMaker, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "phone\n0401111111\n12\n")
    assert await consentry("import", "robinson", str(path)) == 1
    out = capsys.readouterr().out
    assert "line 3: not a valid phone number: too short" in out
    extracts, _ = await stored(sessionmaker)
    assert extracts[0].extract_date == date(2026, 11, 25)


@pytest.mark.parametrize(
    ("text", "args", "message"),
    [
        ("12\nabc\n", (), "no valid phone number in robinson.txt"),
        ("0401111111\n", ("--extract-date", "2026-12-24"), "the extract date is in the future"),
    ],
    ids=["no-valid-number", "future-date"],
)
async def test_nothing_loaded_exits_2_and_keeps_the_extract_in_force(
    tmp_path: Path,
    sessionmaker: SessionMaker,
    capsys: pytest.CaptureFixture[str],
    text: str,
    args: tuple[str, ...],
    message: str,
) -> None:
    await load_extract(sessionmaker, get_settings(), "0409999999")
    before = await stored(sessionmaker)
    path = write(tmp_path, text)
    assert await consentry("import", "robinson", str(path), *args) == 2
    err = capsys.readouterr().err
    assert message in err
    assert await stored(sessionmaker) == before


async def test_a_missing_file_or_a_bad_date_is_a_usage_error(
    tmp_path: Path, sessionmaker: SessionMaker, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await consentry("import", "robinson", str(tmp_path / "nope.txt")) == 2
    assert "cannot read the file" in capsys.readouterr().err
    path = write(tmp_path, "0401111111\n")
    assert await consentry("import", "robinson", str(path), "--extract-date", "25.11.2026") == 2
    assert "must be a date like" in capsys.readouterr().err
    assert await stored(sessionmaker) == ([], [])
