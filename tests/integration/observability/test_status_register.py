"""``consentry status`` counts stored contacts that today's input checks would refuse
(rows written before them, or by hand), per problem, without naming anyone."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import insert

from service.cli import main
from service.contacts.queries import RegisterProblems, register_problems
from service.db import SessionMaker, run, session_scope
from service.models import Contact, ContactTag
from service.models.enums import LegalBasis, Source
from service.observability import cli as status_cli
from service.observability.service import status
from service.settings import Settings, get_settings

SECRET_NAME = "Salainen Nimi"


async def add_raw(sessionmaker: SessionMaker, tags: tuple[str, ...] = (), **fields: str) -> None:
    """A contact written straight to the table, past every check."""
    async with session_scope(sessionmaker) as session:
        contact = Contact(
            legal_basis=LegalBasis.CONSENT,
            source=Source.SELF,
            **{"full_name": SECRET_NAME, **fields},  # type: ignore[arg-type]
        )
        session.add(contact)
        await session.flush()
        if tags:
            await run(
                session,
                insert(ContactTag),
                [{"contact_id": contact.id, "tag": tag} for tag in tags],
            )


async def bad_register(sessionmaker: SessionMaker, database_url: str) -> None:
    await add_raw(sessionmaker, email="good@example.fi", phone="+358401234567", tags=("vip",))
    await add_raw(sessionmaker, email="k\u00e4ytt\u00e4j\u00e4@example.fi", city="Helsinki")
    await add_raw(sessionmaker, email="idn@b\u00fccher.de")  # a Unicode domain is fine
    await add_raw(sessionmaker, full_name=f"Anna\r\nBcc: {SECRET_NAME}")
    await add_raw(sessionmaker, city="Espoo\u2028", employer="Oy\x85Ab")  # one contact, two
    await add_raw(sessionmaker, tags=("ok", "bad\x7ftag"))
    await add_raw(sessionmaker, phone="+35840ABC1234")
    await add_raw(sessionmaker, email="Bob <bob@example.fi>")
    await add_raw(sessionmaker, email="no-at-sign.example.fi")
    if database_url.startswith("sqlite"):
        # PostgreSQL cannot store a NUL at all; SQLite can, and GLOB would not see it.
        await add_raw(sessionmaker, nickname="Nul\x00l")


async def test_the_register_check_counts_each_problem(
    sessionmaker: SessionMaker, database_url: str
) -> None:
    await bad_register(sessionmaker, database_url)
    async with sessionmaker() as session:
        found = await register_problems(session)
    nul = 1 if database_url.startswith("sqlite") else 0
    assert found == RegisterProblems(
        control_characters=2 + nul,
        control_characters_in_tags=1,
        phone_not_international=1,
        email_malformed=2,
        email_non_ascii_local_part=1,
    )


async def test_a_clean_register_has_no_problems(
    settings: Settings, sessionmaker: SessionMaker
) -> None:
    await add_raw(sessionmaker, email="good@example.fi", phone="+358401234567", tags=("vip",))
    async with sessionmaker() as session:
        assert await register_problems(session) == RegisterProblems()
        result = await status(session, settings=settings, redis=None, redis_error="no Redis")
    assert "Register: every contact passes the input checks" in status_cli.render(result)


@pytest.fixture
def command_env(
    settings: Settings, settings_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in settings_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CONSENTRY_DATABASE_URL", settings.database_url)
    monkeypatch.delenv("CONSENTRY_REDIS_URL", raising=False)
    get_settings.cache_clear()


async def test_status_reports_them_in_text_and_json_without_personal_data(
    command_env: None,
    sessionmaker: SessionMaker,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await bad_register(sessionmaker, database_url)
    nul = 1 if database_url.startswith("sqlite") else 0
    try:
        # The command runs its own event loop: in a thread of its own here.
        await asyncio.to_thread(main, ["status"])
        text = capsys.readouterr().out
        await asyncio.to_thread(main, ["status", "--json"])
        as_json = json.loads(capsys.readouterr().out)
    finally:
        get_settings.cache_clear()
    assert (
        "Register: rows that no longer validate (the sender fails each such recipient; "
        f"rectify them): contacts with control characters in a text field: {2 + nul}; "
        "contacts with control characters in a tag: 1; "
        "phone numbers not in international form (letters?): 1; "
        "malformed email addresses: 2; 1 address(es) with a non-ASCII local part, "
        "delivered only through a relay offering SMTPUTF8"
    ) in text
    assert as_json["register_problems"] == {
        "control_characters": 2 + nul,
        "control_characters_in_tags": 1,
        "phone_not_international": 1,
        "email_malformed": 2,
        "email_non_ascii_local_part": 1,
    }
    for output in (text, json.dumps(as_json)):
        assert SECRET_NAME not in output and "example.fi" not in output
