"""``/app/breaches`` on both databases: the register with its deadline flags,
documenting a breach from the form, editing it (the late notification's
reason), and who may see it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from service.db import SessionMaker
from service.models import Breach
from service.models.enums import Role
from tests.integration.audit.support import trail
from tests.integration.web.conftest import csrf
from tests.integration.web.privacy.support import Staff

NOW = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)  # noon in Helsinki
HOME = "/app/breaches"

pytestmark = pytest.mark.usefixtures("frozen_clock")


@pytest.fixture
def clock_start() -> datetime:
    return NOW


async def test_the_register_flags_overdue_and_soon_due_breaches(staff: Staff) -> None:
    api = staff.client
    ids = {}
    for name, hours in (("late", 80), ("soon", 60), ("calm", 1)):
        body = {"discovered_at": (NOW - timedelta(hours=hours)).isoformat(), "nature": name}
        response = await api.post("/api/v1/breaches", json=body)
        assert response.status_code == 201, response.text
        ids[name] = response.json()["id"]

    officer = await staff.become(Role.PRIVACY_OFFICER)
    page = await officer.get(HOME)
    assert page.status_code == 200, page.text
    html = page.text
    assert 'href="/app/breaches" aria-current="page"' in html  # in the navigation
    assert "authority overdue by 8 h" in html and "authority due in 12 h" in html
    assert '<span class="tile-number" id="breach-overdue-count">1</span>' in html
    assert '<span class="tile-number" id="breach-due-soon-count">1</span>' in html
    # The most due first.
    assert (
        html.index(f'/app/breaches/{ids["late"]}"')
        < html.index(f'/app/breaches/{ids["soon"]}"')
        < html.index(f'/app/breaches/{ids["calm"]}"')
    )
    # The privacy page links to the register too (the same navigation).
    assert 'href="/app/breaches"' in (await officer.get("/app/privacy")).text


async def test_documenting_and_editing_a_breach(staff: Staff, sessionmaker: SessionMaker) -> None:
    officer = await staff.become(Role.PRIVACY_OFFICER)
    form = await officer.get(f"{HOME}/new")
    assert form.status_code == 200, form.text
    token = csrf(form)
    created = await officer.post(
        HOME,
        data={
            "csrf_token": token,
            "discovered_at": "2026-03-06T09:00",  # Helsinki time: 07:00 UTC
            "nature": "An export file was mailed to a wrong address.",
            "data_categories": "email, name",
            "approx_people": "40",
            "risk": "risk",
        },
    )
    assert created.status_code == 303, created.text
    location = created.headers["location"]
    assert location.endswith("?done=created")
    async with sessionmaker() as session:
        row = (await session.exec(select(Breach))).one()
    assert row.discovered_at == datetime(2026, 3, 6, 7, 0, tzinfo=UTC)
    assert (row.data_categories, row.approx_people) == (["email", "name"], 40)

    shown = await officer.get(location)
    assert "The breach is documented." in shown.text
    assert "09/03/2026, 09:00" in shown.text  # due 72 h later, Helsinki time, the member's way
    fields = {
        "csrf_token": csrf(shown),
        "discovered_at": "2026-03-06T09:00",
        "nature": "An export file was mailed to a wrong address.",
        "risk": "risk",
        "authority_notified_at": "2026-03-10T11:00",
    }
    late = await officer.post(f"{HOME}/{row.id}", data=fields)
    assert late.status_code == 422
    assert "more than 72 hours" in late.text
    fields["delay_reason"] = "The recipient told us only on 9 March."
    saved = await officer.post(f"{HOME}/{row.id}", data=fields)
    assert saved.status_code == 303, saved.text
    async with sessionmaker() as session:
        row = (await session.exec(select(Breach))).one()
    assert row.delay_reason == "The recipient told us only on 9 March."
    assert row.data_categories == []  # emptied on the form: cleared
    actions = [e.action for e in await trail(sessionmaker)]
    assert actions.count("breach.create") == 1 and actions.count("breach.update") == 1


async def test_hostile_form_input_is_a_page_not_a_5xx(staff: Staff) -> None:
    officer = await staff.become(Role.ADMIN)
    token = csrf(await officer.get(f"{HOME}/new"))
    for data in (
        {"discovered_at": "not a time", "nature": "x"},
        {"discovered_at": "2030-01-01T00:00", "nature": "x"},
        {"discovered_at": "2026-03-06T09:00", "nature": "x", "approx_people": "-5"},
        {"discovered_at": "2026-03-06T09:00", "nature": "x", "risk": "<script>"},
        {"nature": "x" * 10_000},
    ):
        response = await officer.post(HOME, data={"csrf_token": token, **data})
        assert response.status_code == 422, response.text
        assert "<script>" not in response.text
    assert (await officer.get(f"{HOME}/999")).status_code == 404


async def test_a_marketer_gets_the_forbidden_page(staff: Staff) -> None:
    marketer = await staff.become(Role.MARKETER)
    page = await marketer.get(HOME)
    assert page.status_code == 403
    assert 'href="/app/breaches"' not in (await marketer.get("/app")).text
