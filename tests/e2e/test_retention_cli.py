"""``consentry retention plan`` and ``consentry retention run`` as an operator
runs them: real subprocesses on a private SQLite database."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from service import clock
from service.crypto import DataCipher
from service.db import create_engine, create_sessionmaker, session_scope
from service.models import Contact, LegalHold, Profile
from service.models.enums import LegalBasis, Source
from service.profiles.service import seal_content
from service.settings import load_settings
from tests.support.consentry_run import consentry, make_env

pytestmark = pytest.mark.slow

ITEM_KEYS = {
    "rule",
    "action",
    "subject",
    "reference",
    "due_on",
    "deadline",
    "overdue",
    "skipped_because",
    "note",
}


def one_line(stream: str) -> str:
    lines = stream.splitlines()
    assert len(lines) == 1, stream
    return lines[0]


async def _seed(env: dict[str, str], *, vendor_profile: bool) -> dict[str, int]:
    settings = load_settings(env)
    engine = create_engine(settings.database_url)
    ids: dict[str, int] = {}
    try:
        async with session_scope(create_sessionmaker(engine)) as session:
            for name, last in (
                ("old", date(2019, 1, 1)),
                ("recent", None),
                ("held", date(2019, 1, 1)),
            ):
                contact = Contact(
                    full_name=f"Henkilö {name}",
                    email=f"{name}@example.fi",
                    legal_basis=LegalBasis.CUSTOMER_RELATIONSHIP,
                    source=Source.SELF,
                    last_service_contact_at=last,
                )
                session.add(contact)
                await session.flush()
                assert contact.id is not None
                ids[name] = contact.id
            session.add(LegalHold(contact_id=ids["held"], reason="a dispute"))
            profile = Profile(
                contact_id=ids["recent"],
                completed_on=date(2020, 5, 5),
                has_vendor_account=False,
                content_encrypted=seal_content("report", DataCipher(settings.data_key)),
            )
            session.add(profile)
            if vendor_profile:
                # Its notice is due, and no relay is configured: that item fails.
                session.add(
                    Profile(
                        contact_id=ids["recent"],
                        completed_on=date(2020, 5, 5),
                        has_vendor_account=True,
                        content_encrypted=seal_content("report", DataCipher(settings.data_key)),
                    )
                )
            await session.flush()
            assert profile.id is not None
            ids["profile"] = profile.id
    finally:
        await engine.dispose()
    return ids


def seeded(
    tmp_path: Path, *, vendor_profile: bool = False
) -> tuple[dict[str, str], dict[str, int]]:
    env = make_env(tmp_path)
    migrated = consentry(env, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    return env, asyncio.run(_seed(env, vendor_profile=vendor_profile))


def rows(database: Path, query: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(database) as connection:
        return list(connection.execute(query))


def test_plan_json_lists_every_due_action_and_changes_nothing(tmp_path: Path) -> None:
    env, ids = seeded(tmp_path)
    database = tmp_path / "c.db"
    before = database.read_bytes()

    result = consentry(env, "retention", "plan", "--as-of", "2026-06-15", "--json")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    plan = json.loads(result.stdout)
    assert set(plan) == {"as_of", "items", "summary"}
    assert plan["as_of"] == "2026-06-15"
    assert plan["summary"] == {"due": 2, "skipped": 1, "overdue": 3}
    assert all(set(item) == ITEM_KEYS for item in plan["items"])
    found = [
        (item["rule"], item["action"], item["subject"], item["deadline"], item["skipped_because"])
        for item in plan["items"]
    ]
    assert found == [
        (
            "contact_5_years",
            "erase",
            {"kind": "contact", "id": ids["old"], "count": None},
            "2024-01-02",
            None,
        ),
        (
            "contact_5_years",
            "erase",
            {"kind": "contact", "id": ids["held"], "count": None},
            "2024-01-02",
            "legal_hold",
        ),
        (
            "profile_no_account",
            "destroy",
            {"kind": "profile", "id": ids["profile"], "count": None},
            "2023-06-30",
            None,
        ),
    ]
    assert "Henkilö" not in result.stdout and "@example.fi" not in result.stdout
    # Nothing changed: not a byte of the database.
    assert database.read_bytes() == before
    assert rows(database, "SELECT count(*) FROM retention_actions") == [(0,)]


def test_plan_as_a_table(tmp_path: Path) -> None:
    env, ids = seeded(tmp_path)
    result = consentry(env, "retention", "plan", "--as-of", "2026-06-15")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Retention plan for 2026-06-15: 2 due, 1 skipped, 3 overdue"
    assert lines[1].split() == ["RULE", "ACTION", "SUBJECT", "DUE", "DEADLINE", "STATE"]
    assert f"contact {ids['held']}" in result.stdout and "skipped: legal_hold" in result.stdout
    empty = consentry(env, "retention", "plan", "--as-of", "2019-01-01")
    assert empty.stdout.splitlines()[1] == "Nothing is due."


@pytest.mark.parametrize("bad", ["2026-02-30", "15.6.2026", "today"])
def test_a_bad_date_is_one_line_and_exit_2(tmp_path: Path, bad: str) -> None:
    env = make_env(tmp_path)
    result = consentry(env, "retention", "plan", "--as-of", bad, "--json")
    assert result.returncode == 2
    assert one_line(result.stderr) == (
        f"consentry: --as-of: {bad!r} is not a date; write it as YYYY-MM-DD"
    )
    assert result.stdout == ""


def test_plan_before_migrating_says_so(tmp_path: Path) -> None:
    result = consentry(make_env(tmp_path), "retention", "plan")
    assert result.returncode == 1
    assert one_line(result.stderr) == (
        "consentry: the database has no tables yet; run `consentry migrate`"
    )


def test_run_carries_out_today_records_each_action_and_is_idempotent(tmp_path: Path) -> None:
    env, ids = seeded(tmp_path)
    database = tmp_path / "c.db"
    today = clock.today().isoformat()

    result = consentry(env, "retention", "run")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == (f"Retention run for {today}: 2 done, 1 skipped, 0 no longer due, 0 failed")
    assert rows(database, "SELECT rule, action, reference FROM retention_actions ORDER BY id") == [
        ("profile_no_account", "destroy", f"profile {ids['profile']}"),
        ("contact_5_years", "erase", f"contact {ids['old']}"),
    ]
    assert rows(database, "SELECT id FROM contacts ORDER BY id") == [
        (ids["recent"],),
        (ids["held"],),
    ]
    assert rows(database, "SELECT state, content_encrypted FROM profiles") == [("destroyed", None)]
    assert rows(database, "SELECT contact_id, cause FROM erasures") == [
        (ids["old"], "retention:contact_5_years")
    ]

    again = consentry(env, "retention", "run", "--json")
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert (report["done"], report["skipped"], report["failed"]) == (0, 1, 0)
    assert rows(database, "SELECT count(*) FROM retention_actions") == [(2,)]


def test_run_reports_a_failed_item_and_exits_1_after_doing_the_rest(tmp_path: Path) -> None:
    env, _ = seeded(tmp_path, vendor_profile=True)
    result = consentry(env, "retention", "run")
    assert result.returncode == 1
    assert one_line(result.stderr) == (
        "consentry: 1 retention action(s) failed; the next run tries them again"
    )
    assert "failed         send_transfer_notice" in result.stdout
    assert "no SMTP relay is configured" in result.stdout
    assert rows(tmp_path / "c.db", "SELECT count(*) FROM retention_actions") == [(2,)]
