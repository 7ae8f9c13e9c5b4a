"""``consentry breach``, ``consentry processors`` and ``consentry notice
--record|--dpia`` in-process against the test database (both backends)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from sqlmodel import col, select

from service.cli import main
from service.crypto import DataCipher
from service.db import SessionMaker, session_scope
from service.models import AuditEvent, Breach, Profile
from service.settings import get_settings
from tests.conftest import TEST_DATA_KEY
from tests.support.clock import FrozenClock
from tests.support.factories import create_contact

CIPHER = DataCipher(TEST_DATA_KEY)
NOW = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)

pytestmark = pytest.mark.usefixtures("frozen_clock")


@pytest.fixture
def clock_start() -> datetime:
    return NOW


@pytest.fixture(autouse=True)
def cli_env(
    monkeypatch: pytest.MonkeyPatch, settings_env: dict[str, str], database_url: str
) -> Iterator[None]:
    for name, value in {**settings_env, "CONSENTRY_DATABASE_URL": database_url}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def consentry(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    def call() -> int:
        try:
            main(list(args))
        except SystemExit as exc:
            return int(exc.code or 0)
        return 0

    code = await asyncio.to_thread(call)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def test_breach_add_list_show_update(
    sessionmaker: SessionMaker, capsys: pytest.CaptureFixture[str], frozen_clock: FrozenClock
) -> None:
    code, out, err = await consentry(
        capsys, "breach", "add", "--discovered-at", "2026-03-10T08:00",
        "--nature", "A lost USB stick with about 300 contacts.",
        "--data-category", "email", "--data-category", "name", "--approx-people", "300",
    )  # fmt: skip
    assert (code, err) == (0, ""), err
    assert out == (
        "consentry: breach 1 recorded; the authority is due by 2026-03-13T08:00+02:00 "
        "(72 hours after discovery)\n"
    )
    frozen_clock.set(datetime(2026, 3, 13, 7, 0, tzinfo=UTC))  # 09:00 in Helsinki: 1 h late
    code, out, _ = await consentry(capsys, "breach", "list")
    assert code == 0
    header, row = out.splitlines()
    assert header.split("\t")[:7] == [
        "id", "discovered", "risk", "authority_due", "notified", "closed", "flag",
    ]  # fmt: skip
    assert row.split("\t")[6] == "OVERDUE"
    code, out, _ = await consentry(capsys, "breach", "list", "--json")
    listed = json.loads(out)
    assert [(b["id"], b["overdue"], b["authority_due_at"]) for b in listed] == [
        (1, True, "2026-03-13T06:00:00Z")
    ]

    code, out, err = await consentry(capsys, "breach", "update", "1", "--notified-at", "now")
    assert code == 1 and "delay_reason" in err and out == ""
    code, out, err = await consentry(
        capsys, "breach", "update", "1", "--notified-at", "now", "--delay-reason", "late found"
    )
    assert (code, err) == (0, ""), err
    code, out, _ = await consentry(capsys, "breach", "show", "1", "--json")
    shown = json.loads(out)
    assert (shown["overdue"], shown["delay_reason"]) == (False, "late found")

    code, _, err = await consentry(capsys, "breach", "add", "--nature", "x")
    assert code == 1 and "discovered_at" in err
    code, _, err = await consentry(
        capsys, "breach", "add", "--discovered-at", "now", "--nature", "x", "--approx-people", "-1"
    )
    assert code == 2  # argparse: not a count
    async with sessionmaker() as session:
        assert len((await session.exec(select(Breach))).all()) == 1
        actions = (await session.exec(select(col(AuditEvent.action)))).all()
    assert actions == ["breach.create", "breach.update"]


async def test_processors_and_the_record(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = await consentry(
        capsys, "processors", "add", "--name", "Mailer Inc.", "--service", "sending email",
        "--country", "US",
    )  # fmt: skip
    assert code == 1 and "safeguard" in err
    code, out, err = await consentry(
        capsys, "processors", "add", "--name", "Mailer Inc.", "--service", "sending email",
        "--country", "US", "--safeguard", "SCCs 2021/914", "--contract-date", "2025-12-01",
    )  # fmt: skip
    assert (code, err) == (0, ""), err
    assert "outside the EU/EEA" in out
    code, out, _ = await consentry(capsys, "processors", "list", "--json")
    assert [(p["name"], p["outside_eea"]) for p in json.loads(out)] == [("Mailer Inc.", True)]

    code, out, _ = await consentry(capsys, "notice", "--record", "--lang", "en")
    assert code == 0
    assert "- Mailer Inc.: sending email; processed in US; agreement of 2025-12-01" in out
    transfers = out[out.index("## 5.") : out.index("## 6.")]
    assert "Mailer Inc.: sending email (US, outside the EU/EEA; safeguard: SCCs 2021/914)" in (
        transfers
    )

    code, out, _ = await consentry(capsys, "processors", "end", "1", "--on", "2026-03-10")
    assert code == 0
    code, out, _ = await consentry(capsys, "notice", "--record", "--lang", "en")
    assert "Mailer Inc." not in out


async def test_dpia_screening_without_and_with_profiling(
    sessionmaker: SessionMaker, capsys: pytest.CaptureFixture[str]
) -> None:
    await create_contact(sessionmaker, cipher=CIPHER)
    code, out, err = await consentry(capsys, "notice", "--dpia", "--lang", "en")
    assert (code, err) == (0, ""), err
    assert "# DPIA screening (GDPR Article 35)" in out
    assert "Criteria met: 0." in out
    assert "no DPIA is required" in out

    tracked = await create_contact(
        sessionmaker,
        cipher=CIPHER,
        email="tracked@example.fi",
        consent=["email_tracking", "profiling_report"],
    )
    async with session_scope(sessionmaker) as session:
        session.add(Profile(contact_id=tracked, completed_on=date(2026, 3, 1)))

    code, out, _ = await consentry(capsys, "notice", "--dpia", "--json")
    screening = json.loads(out)
    used = {c["key"]: (c["in_use"], c["evidence"]) for c in screening["criteria"]}
    assert used["evaluation"] == (True, {"disc_profiles_kept": 1})
    assert used["monitoring"][0] is True
    assert used["monitoring"][1]["email_tracking_consents"] == 1
    assert used["scale"] == (False, {"contacts": 2})
    assert (screening["criteria_met"], screening["dpia_required"]) == (2, True)

    code, out, _ = await consentry(capsys, "notice", "--dpia", "--lang", "fi")
    assert "Täyttyviä kriteerejä: 2." in out
    assert "vaikutustenarviointi (DPIA) on tehtävä" in out
    code, _, err = await consentry(capsys, "notice", "--json")
    assert code == 2 and "--dpia" in err
