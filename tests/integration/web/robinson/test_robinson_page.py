"""``/app/robinson`` on both databases: the extract in force with its date,
count and due day; an upload that replaces it, audited as the API's; bad
files refused with the extract in force kept; roles."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import httpx
import pytest

from service.models.enums import Role
from service.settings import Settings
from tests.integration.audit.support import trail
from tests.integration.robinson.support import load_extract, stored
from tests.integration.web.conftest import csrf
from tests.integration.web.privacy.support import Staff

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
PAGE = "/app/robinson"

pytestmark = pytest.mark.usefixtures("frozen_clock")


@pytest.fixture
def clock_start() -> datetime:
    return NOW


async def _upload(client, raw: bytes, extract_date: str | None = None) -> httpx.Response:
    form = await client.get(PAGE)
    data = {"csrf_token": csrf(form)}
    if extract_date is not None:
        data["extract_date"] = extract_date
    return await client.post(
        f"{PAGE}/upload", data=data, files={"file": ("asml.txt", raw, "text/plain")}
    )


async def test_the_page_shows_the_extract_and_when_the_next_is_due(
    staff: Staff, sessionmaker, settings: Settings
) -> None:
    viewer = await staff.become(Role.VIEWER)
    empty = await viewer.get(PAGE)
    assert empty.status_code == 200
    assert 'id="robinson-missing"' in empty.text
    await load_extract(
        sessionmaker, settings, "040 222 2222", "050 333 3333", extract_date=date(2026, 11, 1)
    )
    shown = await viewer.get(PAGE)
    assert '<dd id="robinson-count">2</dd>' in shown.text
    due = shown.text.split('id="robinson-due"')[1].split("</dd>")[0]
    left = settings.robinson_max_age_days - 24  # the extract is 24 days old
    assert ("stale" in due) == (left < 0)
    assert "Load the extract" not in shown.text  # a viewer reads, never loads


async def test_a_stale_extract_says_so(staff: Staff, sessionmaker, settings: Settings) -> None:
    old = date(2026, 11, 25).toordinal() - settings.robinson_max_age_days - 3
    await load_extract(sessionmaker, settings, "040 222 2222", extract_date=date.fromordinal(old))
    page = await (await staff.become(Role.MARKETER)).get(PAGE)
    due = page.text.split('id="robinson-due"')[1].split("</dd>")[0]
    assert "stale for 3 days" in due


async def test_an_upload_replaces_the_extract_and_is_audited(
    staff: Staff, sessionmaker, settings: Settings
) -> None:
    await load_extract(sessionmaker, settings, "040 111 1111", extract_date=date(2026, 11, 1))
    officer = await staff.become(Role.PRIVACY_OFFICER)
    answer = await _upload(officer, b"040 222 2222\nnot a number\n+358 50 3333333\n", "2026-11-24")
    assert answer.status_code == 200, answer.text
    assert '<dd id="loaded-numbers">2</dd>' in answer.text
    assert '<dd id="loaded-bad-lines">1</dd>' in answer.text
    assert "line 2" in answer.text and "not a number" not in answer.text.split('id="bad-lines"')[1]
    assert '<dd id="robinson-count">2</dd>' in answer.text
    extracts, numbers = await stored(sessionmaker)
    assert extracts[-1].extract_date == date(2026, 11, 24)
    assert len(numbers) == 2 and {n[0] for n in numbers} == {extracts[-1].id}
    audit = [row for row in await trail(sessionmaker) if row.route == "/app/robinson/upload"]
    assert [row.action for row in audit] == ["robinson_extract.load"]
    assert audit[0].details["numbers"] == 2 and audit[0].details["bad_lines"] == 1


@pytest.mark.parametrize(
    ("raw", "extract_date", "words"),
    [
        (b"not a number\n", None, "no valid phone number"),
        ("040 222 2222\n".encode("utf-16"), None, "UTF-8"),
        (b"040 222 2222\n", "2026-12-31", "in the future"),
        (b"040 222 2222\n", "yesterday", "not a date"),
        (b"\x00\x00\x00", None, ""),
    ],
)
async def test_a_bad_file_is_refused_and_the_extract_in_force_stays(
    staff: Staff, sessionmaker, settings: Settings, raw: bytes, extract_date, words: str
) -> None:
    await load_extract(sessionmaker, settings, "040 111 1111", extract_date=date(2026, 11, 20))
    officer = await staff.become(Role.PRIVACY_OFFICER)
    answer = await _upload(officer, raw, extract_date)
    assert answer.status_code == 422, answer.text
    assert 'id="robinson-error"' in answer.text and words in answer.text
    extracts, numbers = await stored(sessionmaker)
    assert len(extracts) == 1 and len(numbers) == 1
    assert not [row for row in await trail(sessionmaker) if row.route == "/app/robinson/upload"]


async def test_only_robinson_manage_may_upload(staff: Staff, sessionmaker) -> None:
    marketer = await staff.become(Role.MARKETER)
    page = await marketer.get(PAGE)
    assert page.status_code == 200
    refused = await marketer.post(
        f"{PAGE}/upload",
        data={"csrf_token": csrf(page)},
        files={"file": ("asml.txt", b"040 222 2222\n", "text/plain")},
    )
    assert refused.status_code == 403
    assert (await stored(sessionmaker))[0] == []
    assert re.search(r'href="/app/robinson"', (await marketer.get("/app")).text)
    caller = await staff.become(Role.CALLER)
    assert (await caller.get(PAGE)).status_code == 403
