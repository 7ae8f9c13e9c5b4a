"""The marketer's export carries the gate's answer per channel and leaves out
the people who refused direct marketing (a ban on every channel, an
objection, a suppression of their own), saying how many and why, unless a
privacy officer or an admin exports; in CSV and JSON, by the API and the CLI."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import update
from sqlmodel import col, select

from service import clock
from service.cli import main
from service.db import SessionMaker, run, session_scope
from service.models import AuditEvent, Contact
from service.models.enums import Role, SuppressionReason
from service.settings import get_settings
from service.suppressions import service as suppressions
from tests.conftest import TokenFactory
from tests.support.factories import add_contact, ban, grant

Client = AsyncTestClient[Litestar]
CSV = "/api/v1/contacts/export.csv"
JSON = "/api/v1/contacts/export.json"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def people(admin: Client, sessionmaker: SessionMaker) -> dict[str, int]:
    """One of each: mailable, banned on every channel, banned by SMS only,
    objecting, suppressed for an objection, a bounced address, restricted."""
    ids = {}
    for name in ("Aino", "Bea", "Cilla", "Olli", "Sami", "Pekka", "Rauha"):
        ids[name] = await add_contact(
            admin, full_name=name, email=f"{name.lower()}@example.fi", phone="040 123 4567"
        )
    await grant(admin, ids["Aino"], evidence={"notice_version": "1"})
    await ban(admin, ids["Bea"])
    await ban(admin, ids["Cilla"], channel="sms")
    async with session_scope(sessionmaker) as session:
        for name, column in (("Olli", "objected_at"), ("Rauha", "restricted_at")):
            await run(
                session,
                update(Contact).where(col(Contact.id) == ids[name]).values({column: clock.now()}),
            )
        for name, reason in (
            ("Sami", SuppressionReason.OBJECTION),
            ("Pekka", SuppressionReason.BOUNCE),
        ):
            contact = await session.get(Contact, ids[name])
            assert contact is not None
            await suppressions.record_contact(session, contact, reason=reason, phone=False)
    return ids


def rows(body: str) -> dict[str, dict[str, str]]:
    return {row["full_name"]: row for row in csv.DictReader(io.StringIO(body))}


async def test_a_marketer_gets_the_gates_answer_and_never_the_refused(
    admin: Client, make_token: TokenFactory, sessionmaker: SessionMaker
) -> None:
    await people(admin, sessionmaker)
    response = await admin.get(CSV, headers=auth(await make_token(Role.MARKETER)))
    assert response.status_code == 200, response.text

    exported = rows(response.text)
    assert sorted(exported) == ["Aino", "Cilla", "Pekka"]
    gate = {
        name: [row[f"gate_{c}"] for c in ("email", "sms", "phone", "post")]
        for name, row in exported.items()
    }
    assert gate == {
        "Aino": ["eligible", "no_consent", "eligible", "no_address"],
        "Cilla": ["no_consent", "no_consent", "eligible", "no_address"],
        # A bounced address is the address's state, not the person's refusal.
        "Pekka": ["no_consent", "no_consent", "eligible", "no_address"],
    }
    assert response.headers["x-export-contacts"] == "3"
    assert response.headers["x-export-left-out"] == "4"
    assert response.headers["x-export-left-out-reasons"] == (
        "restricted=1, direct_marketing_ban=1, objected=1, suppressed=1"
    )
    assert response.headers["x-export-refused-included"] == "0"
    async with sessionmaker() as session:
        [event] = (
            await session.exec(select(AuditEvent).where(col(AuditEvent.action) == "contact.export"))
        ).all()
    assert event.details == {
        "filters": [],
        "contacts": 3,
        "left_out": 4,
        "left_out_restricted": 1,
        "left_out_direct_marketing_ban": 1,
        "left_out_objected": 1,
        "left_out_suppressed": 1,
        "refused_included": 0,
    }


@pytest.mark.parametrize("role", [Role.PRIVACY_OFFICER, Role.ADMIN])
async def test_a_privacy_officer_or_admin_exports_the_refused_too_with_their_state(
    admin: Client, make_token: TokenFactory, sessionmaker: SessionMaker, role: Role
) -> None:
    await people(admin, sessionmaker)
    response = await admin.get(JSON, headers=auth(await make_token(role)))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")

    body = response.json()
    exported = {row["full_name"]: row for row in body["contacts"]}
    # Restricted processing is never exported for marketing.
    assert sorted(exported) == ["Aino", "Bea", "Cilla", "Olli", "Pekka", "Sami"]
    assert exported["Bea"]["gate_phone"] == "direct_marketing_ban"
    assert exported["Cilla"]["gate_sms"] == "no_consent"  # the first reason in the gate's order
    assert exported["Olli"]["gate_phone"] == "objected"
    assert exported["Sami"]["gate_email"] == "no_consent"
    assert exported["Sami"]["gate_phone"] == "eligible"  # only the address was suppressed
    assert body["summary"] == {
        "contacts": 6,
        "left_out": 1,
        "left_out_by_reason": {"restricted": 1},
        "refused_included": 3,
    }
    assert response.headers["x-export-refused-included"] == "3"


async def test_the_json_form_streams_valid_json_across_pages(
    admin: Client, sessionmaker: SessionMaker
) -> None:
    from service.exports import service
    from service.exports.service import ContactFilter, Scope

    for number in range(5):
        await add_contact(admin, full_name=f"Person {number}", email=f"p{number}@example.fi")
    summary = {"contacts": 5}
    chunks = [
        chunk
        async for chunk in service.json_chunks(
            sessionmaker, scope=Scope(ContactFilter()), summary=summary, page_size=2
        )
    ]
    assert len(chunks) == 5  # the opening, three pages, the close
    body = json.loads("".join(chunks))
    assert [row["full_name"] for row in body["contacts"]] == [f"Person {n}" for n in range(5)]
    nobody = Scope(ContactFilter(q="nobody"))
    empty = [c async for c in service.json_chunks(sessionmaker, scope=nobody, summary={})]
    assert json.loads("".join(empty)) == {"summary": {}, "contacts": []}


@pytest.fixture
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


@pytest.mark.usefixtures("cli_env")
async def test_the_command_leaves_the_refused_out_and_says_so(
    admin: Client, sessionmaker: SessionMaker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await people(admin, sessionmaker)
    target = tmp_path / "contacts.json"
    assert await consentry("export", "contacts", str(target), "--format", "json") == 0
    report = capsys.readouterr().err
    assert f"3 contacts written to {target}; 4 left out" in report
    assert "direct_marketing_ban: 1" in report and "objected: 1" in report
    body = json.loads(target.read_text(encoding="utf-8"))
    assert sorted(row["full_name"] for row in body["contacts"]) == ["Aino", "Cilla", "Pekka"]

    everyone = tmp_path / "everyone.csv"
    assert await consentry("export", "contacts", str(everyone), "--include-refused") == 0
    assert "3 who refused direct marketing included" in capsys.readouterr().err
    assert len(rows(everyone.read_text(encoding="utf-8"))) == 6
    async with sessionmaker() as session:
        events = (
            await session.exec(
                select(AuditEvent)
                .where(col(AuditEvent.action) == "contact.export")
                .order_by(col(AuditEvent.id))
            )
        ).all()
    assert [
        (e.details["format"], e.details["left_out"], e.details["refused_included"]) for e in events
    ] == [
        ("json", 4, 0),
        ("csv", 1, 3),
    ]


def test_an_exported_header_goes_back_into_an_import() -> None:
    from service.exports.service import COLUMNS
    from service.imports.columns import read_header

    # The gate_* columns are read today, not facts: an import ignores them.
    assert read_header(iter([list(COLUMNS)])) == list(COLUMNS)
