"""``/app/call-lists`` on both databases: lists with their expiry and who was
left out, a download recorded exactly as the API's is, building through the
page, refusals shown as messages, and the roles that may do each."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlmodel import col

from service.db import SessionMaker, run
from service.models import CallList, CallListDownload
from service.models.enums import Role
from service.settings import Settings
from tests.integration.audit.support import trail
from tests.integration.robinson.support import load_extract
from tests.integration.web.conftest import csrf
from tests.integration.web.privacy.support import Staff
from tests.support.clock import FrozenClock
from tests.support.factories import add_campaign, add_phone_contact
from tests.support.worker import drain, worker_context

Client = AsyncTestClient[Litestar]
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # 12:00 in Helsinki
PAGE = "/app/call-lists"


pytestmark = pytest.mark.usefixtures("frozen_clock")


@pytest.fixture
def clock_start() -> datetime:
    return NOW


@pytest.fixture
def admin(staff: Staff) -> Client:
    """The API as an admin (bearer token), on the test's one client."""
    return staff.client


@pytest.fixture
async def ctx(settings: Settings, sessionmaker: SessionMaker) -> AsyncIterator[dict[str, Any]]:
    async with worker_context(settings, sessionmaker) as context:
        await context["redis"].flushdb()
        yield context


async def _built_list(
    admin: Client, ctx: dict[str, Any], sessionmaker: SessionMaker, settings: Settings
) -> int:
    """A phone campaign whose list holds two people, one more left out (Robinson)."""
    people = [
        ("Aino Callable", "0401111111"),
        ("Bertta Callable", "0405555555"),
        ("Robin Listed", "0402222222"),
    ]
    for name, phone in people:
        await add_phone_contact(admin, name, phone)
    await load_extract(sessionmaker, settings, "040 222 2222", extract_date=date(2026, 11, 20))
    campaign_id = await add_campaign(admin, channel="phone", name="Autumn calls")
    assert (await admin.post(f"/api/v1/campaigns/{campaign_id}/call-list")).status_code == 202
    await drain(ctx)
    return campaign_id


async def test_the_page_shows_each_list_with_its_expiry_and_who_was_left_out(
    admin: Client,
    ctx: dict[str, Any],
    sessionmaker: SessionMaker,
    settings: Settings,
    staff: Staff,
    frozen_clock: FrozenClock,
) -> None:
    campaign_id = await _built_list(admin, ctx, sessionmaker, settings)
    await add_campaign(admin, channel="phone", name="Spring calls")  # no list yet
    # An admin sees the extract in force, and may build.
    everything = await (await staff.become(Role.ADMIN)).get(PAGE)
    assert "20 Nov 2026 (5 days old)" in everything.text
    assert "Build a new list" in everything.text

    caller = await staff.become(Role.CALLER)
    shown = await caller.get(PAGE)
    assert shown.status_code == 200, shown.text
    card = shown.text.split(f'id="campaign-{campaign_id}"')[1]
    assert '<span class="badge state-ready">Ready</span>' in card
    assert "<dt>Entries</dt><dd>2</dd>" in card
    # Built at noon in Helsinki; kept CONSENTRY_CALL_LIST_TTL_DAYS (7) days.
    assert "25/11/2026, 12:00" in card
    assert "02/12/2026, 12:00" in card and "7 days left" in card
    assert "2 of 3 contacts may be called." in card
    assert "<td>On the Robinson register</td><td>1</td>" in card
    assert "Download CSV" in card
    assert "Build a new list" not in shown.text  # a caller downloads, never builds
    assert "No list has been built yet." in shown.text
    assert "Robinson extract" not in shown.text  # robinson:read is not the caller's

    # A week on the list has expired: no download button, and the service refuses one.
    frozen_clock.set(NOW + timedelta(days=7, minutes=1))
    caller = await staff.become(Role.CALLER)  # a week outlives any session
    later = await caller.get(PAGE)
    card = later.text.split(f'id="campaign-{campaign_id}"')[1].split("</section>")[0]
    assert '<span class="badge bad">expired</span>' in card
    assert "Download CSV" not in card
    refused = await caller.post(f"{PAGE}/{campaign_id}/download", data={"csrf_token": csrf(later)})
    assert refused.status_code == 409
    assert "the call list has expired; build a new one" in refused.text
    assert not await _downloads(sessionmaker)


async def _downloads(sessionmaker: SessionMaker) -> list[CallListDownload]:
    async with sessionmaker() as session:
        query = select(CallListDownload).order_by(col(CallListDownload.id))
        return list((await run(session, query)).scalars().all())


async def test_a_download_answers_csv_and_is_recorded_as_the_apis_is(
    admin: Client,
    ctx: dict[str, Any],
    sessionmaker: SessionMaker,
    settings: Settings,
    staff: Staff,
) -> None:
    campaign_id = await _built_list(admin, ctx, sessionmaker, settings)
    caller = await staff.become(Role.CALLER)
    shown = await caller.get(PAGE)

    # Without the form's token nothing is handed out, nothing recorded.
    forged = await caller.post(f"{PAGE}/{campaign_id}/download", data={})
    assert forged.status_code == 403
    assert not await _downloads(sessionmaker)

    answer = await caller.post(f"{PAGE}/{campaign_id}/download", data={"csrf_token": csrf(shown)})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["content-disposition"].startswith('attachment; filename="call-list-')
    lines = answer.text.splitlines()
    assert lines[0] == "name,phone,language"
    assert sorted(line.split(",")[0] for line in lines[1:]) == ["Aino Callable", "Bertta Callable"]
    assert "Robin" not in answer.text

    downloads = await _downloads(sessionmaker)
    assert len(downloads) == 1 and downloads[0].entry_count == 2
    events = [e for e in await trail(sessionmaker) if e.action == "call_list.download"]
    assert len(events) == 1
    event = events[0]
    assert event.actor_user_id == downloads[0].user_id is not None
    assert event.details == {
        "campaign_id": campaign_id,
        "call_list_id": downloads[0].call_list_id,
        "entries": 2,
    }
    assert event.contact_id is None and event.status_code == 200
    assert event.route == "/app/call-lists/{campaign_id}/download"


async def test_building_through_the_page(
    admin: Client,
    ctx: dict[str, Any],
    sessionmaker: SessionMaker,
    settings: Settings,
    staff: Staff,
) -> None:
    await add_phone_contact(admin, "Aino Callable", "0401111111")
    campaign_id = await add_campaign(admin, channel="phone", name="Autumn calls")
    builder = await staff.become(Role.ADMIN)
    shown = await builder.get(PAGE)
    assert "No Robinson extract is loaded" in shown.text

    # No extract: refused at once, with the reason, and nothing queued or kept.
    refused = await builder.post(f"{PAGE}/{campaign_id}/build", data={"csrf_token": csrf(shown)})
    assert refused.status_code == 409
    assert 'role="alert"' in refused.text and "no Robinson extract is loaded" in refused.text
    async with sessionmaker() as session:
        assert not (await run(session, select(CallList))).scalars().all()

    await load_extract(sessionmaker, settings, extract_date=date(2026, 11, 1))
    asked = await builder.post(f"{PAGE}/{campaign_id}/build", data={"csrf_token": csrf(shown)})
    assert asked.status_code == 303
    assert asked.headers["location"] == f"{PAGE}?requested=1"
    building = await builder.get(asked.headers["location"])
    assert "A new call list is being built." in building.text
    assert '<span class="badge state-building">Being built</span>' in building.text
    assert 'data-hx-trigger="every 3s"' in building.text  # htmx polls while it builds

    await drain(ctx)
    ready = await builder.get(PAGE)
    assert '<span class="badge state-ready">Ready</span>' in ready.text
    assert "<dt>Entries</dt><dd>1</dd>" in ready.text
    assert 'data-hx-trigger="every 3s"' not in ready.text
    asked_events = [e for e in await trail(sessionmaker) if e.action == "campaign.call_list"]
    assert [e.status_code for e in asked_events] == [202]

    # A stale extract: refused too, saying how old it is.
    await load_extract(sessionmaker, settings, extract_date=date(2026, 9, 1))
    stale = await builder.post(f"{PAGE}/{campaign_id}/build", data={"csrf_token": csrf(ready)})
    assert stale.status_code == 409
    assert "dated 2026-09-01, 85 days ago" in stale.text


@pytest.mark.parametrize("role", [Role.MARKETER, Role.VIEWER, Role.PRIVACY_OFFICER])
async def test_roles_without_the_download_permission_get_no_call_lists(
    staff: Staff, role: Role
) -> None:
    answer = await (await staff.become(role)).get(PAGE)
    assert answer.status_code == 403
    assert "Not for your role" in answer.text


async def test_a_caller_cannot_build(
    admin: Client, staff: Staff, sessionmaker: SessionMaker
) -> None:
    campaign_id = await add_campaign(admin, channel="phone", name="Autumn calls")
    caller = await staff.become(Role.CALLER)
    shown = await caller.get(PAGE)
    answer = await caller.post(f"{PAGE}/{campaign_id}/build", data={"csrf_token": csrf(shown)})
    assert answer.status_code == 403
    assert "Not for your role" in answer.text
    async with sessionmaker() as session:
        assert not (await run(session, select(CallList))).scalars().all()


async def test_building_needs_the_forms_token(
    admin: Client, staff: Staff, sessionmaker: SessionMaker, settings: Settings
) -> None:
    await load_extract(sessionmaker, settings, extract_date=date(2026, 11, 1))
    campaign_id = await add_campaign(admin, channel="phone", name="Autumn calls")
    answer = await (await staff.become(Role.ADMIN)).post(f"{PAGE}/{campaign_id}/build", data={})
    assert answer.status_code == 403
    async with sessionmaker() as session:
        assert not (await run(session, select(CallList))).scalars().all()
