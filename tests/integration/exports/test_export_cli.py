"""``consentry export contacts FILE.csv`` on both databases (the real command,
run in-process against the test database)."""

from __future__ import annotations

import asyncio
import csv
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import col, select

from service.cli import main
from service.crypto import DataCipher
from service.db import SessionMaker
from service.exports.service import COLUMNS
from service.models import AuditEvent
from service.settings import get_settings
from tests.conftest import TEST_DATA_KEY
from tests.support.factories import create_contact

HETU = "131052-308T"
CIPHER = DataCipher(TEST_DATA_KEY)


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
    def call() -> int:
        try:
            main(list(args))
        except SystemExit as exc:
            return int(exc.code or 0)
        return 0

    return await asyncio.to_thread(call)


async def test_the_file_is_private_complete_and_audited(
    tmp_path: Path, sessionmaker: SessionMaker, capsys: pytest.CaptureFixture[str]
) -> None:
    await create_contact(
        sessionmaker,
        cipher=CIPHER,
        full_name="Aino Suomi",
        personal_identity_code=HETU,
        language="fi",
    )
    await create_contact(
        sessionmaker,
        cipher=CIPHER,
        full_name="Bertil Svensk",
        email="bertil@example.fi",
        language="sv",
    )
    target = tmp_path / "contacts.csv"
    assert await consentry("export", "contacts", str(target), "--language", "sv") == 0
    assert "1 contacts written" in capsys.readouterr().err
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    body = target.read_text(encoding="utf-8")
    assert HETU not in body
    rows = list(csv.reader(body.splitlines()))
    assert rows[0] == list(COLUMNS)
    assert [row[0] for row in rows[1:]] == ["Bertil Svensk"]
    async with sessionmaker() as session:
        events = (
            await session.exec(select(AuditEvent).where(col(AuditEvent.action) == "contact.export"))
        ).all()
    assert [(e.method, e.route, e.details) for e in events] == [
        (
            "CLI",
            "consentry export contacts",
            {
                "filters": ["language"],
                "format": "csv",
                "contacts": 1,
                "left_out": 0,
                "refused_included": 0,
                "language": "sv",
            },
        )
    ]


async def test_an_existing_file_is_never_overwritten(
    tmp_path: Path, sessionmaker: SessionMaker, capsys: pytest.CaptureFixture[str]
) -> None:
    await create_contact(sessionmaker, cipher=CIPHER, full_name="Aino Suomi")
    target = tmp_path / "contacts.csv"
    target.write_text("keep me", encoding="utf-8")
    assert await consentry("export", "contacts", str(target)) == 2
    assert "the file exists" in capsys.readouterr().err
    assert target.read_text(encoding="utf-8") == "keep me"
    assert await consentry("export", "contacts", str(tmp_path / "x.csv"), "--email", "no") == 2
    assert not (tmp_path / "x.csv").exists()
    async with sessionmaker() as session:
        assert (await session.exec(select(AuditEvent))).all() == []
