"""``/app/privacy`` on both databases: the requests register with its deadline
warnings, a request's page and its steps, the new-request form, the
register's sizes, the retention plan for a date, and who may see them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from service import i18n
from service.db import SessionMaker, run
from service.models import DataSubjectRequest, Erasure, LegalHold, Suppression
from service.models.enums import Role
from service.retention.cli import plan_table
from service.retention.plan import plan
from service.settings import Settings
from tests.integration.audit.support import trail
from tests.integration.web.conftest import csrf
from tests.integration.web.privacy.support import Staff
from tests.support.factories import add_contact

Client = AsyncTestClient[Litestar]
# 25 February 2026, noon in Helsinki.
NOW = datetime(2026, 2, 25, 10, 0, tzinfo=UTC)
HOME = "/app/privacy"


pytestmark = pytest.mark.usefixtures("frozen_clock")


@pytest.fixture
def clock_start() -> datetime:
    return NOW


async def _request(api: Client, received_on: str, **fields: Any) -> int:
    body = {"type": "access", "channel": "email", "received_on": received_on, **fields}
    response = await api.post("/api/v1/requests", json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _row(page: str, request_id: int) -> str:
    """The register's row of one request."""
    start = page.index(f'<a href="/app/privacy/requests/{request_id}">')
    return page[page.rindex("<tr", 0, start) : page.index("</tr>", start)]


async def _count(sessionmaker: SessionMaker, model: Any) -> int:
    async with sessionmaker() as session:
        return int((await run(session, select(func.count()).select_from(model))).scalar_one())


async def test_the_register_flags_overdue_and_soon_due_requests(
    staff: Staff, sessionmaker: SessionMaker
) -> None:
    api = staff.client
    late = await _request(api, "2026-01-10", requester="Maija Late")  # due 10 Feb
    soon = await _request(api, "2026-02-01", type="erasure")  # due 1 March: 4 days
    calm = await _request(api, "2026-02-20", type="objection")  # due 20 March
    done = await _request(api, "2026-01-05", type="rectification")
    verified = await api.post(
        f"/api/v1/requests/{done}/verification", json={"method": "registered_email_reply"}
    )
    assert verified.status_code == 200, verified.text
    closed = await api.post(f"/api/v1/requests/{done}/close", json={"status": "done"})
    assert closed.status_code == 200, closed.text

    officer = await staff.become(Role.PRIVACY_OFFICER)
    register = await officer.get(HOME)
    assert register.status_code == 200, register.text
    page = register.text
    assert 'class="row-overdue"' in _row(page, late)
    assert "overdue by 15 days" in _row(page, late)
    assert "10 Feb 2026" in _row(page, late) and "Maija Late" in _row(page, late)
    assert "due in 4 days" in _row(page, soon) and 'class="row-soon"' in _row(page, soon)
    assert "<tr>" in _row(page, calm) and "badge" not in _row(page, calm)
    assert f'/app/privacy/requests/{done}"' not in page  # closed: not among the open ones
    # The most urgent first.
    assert (
        page.index(f"requests/{late}")
        < page.index(f"requests/{soon}")
        < page.index(f"requests/{calm}")
    )
    assert '<span class="tile-number" id="overdue-count">1</span>' in page
    assert '<span class="tile-number" id="due-soon-count">2</span>' in page

    # Reading the register (names of requesters) is recorded as the API's is.
    listed = [e for e in await trail(sessionmaker) if e.action == "request.list"]
    assert [(e.actor_user_id, e.status_code) for e in listed] == [
        (staff.user_ids[Role.PRIVACY_OFFICER], 200)
    ]

    closed_view = (await officer.get(HOME, params={"show": "done"})).text
    assert f'/app/privacy/requests/{done}"' in closed_view
    assert f'/app/privacy/requests/{late}"' not in closed_view
    overdue_view = (await officer.get(HOME, params={"show": "overdue"})).text
    assert f"requests/{late}" in overdue_view and f"requests/{soon}" not in overdue_view


async def test_a_new_request_through_the_form(staff: Staff, sessionmaker: SessionMaker) -> None:
    officer = await staff.become(Role.PRIVACY_OFFICER)
    form = await officer.get(f"{HOME}/requests/new")
    assert form.status_code == 200
    assert '<label for="received_on">' in form.text and 'max="2026-02-25"' in form.text
    fields = {
        "type": "erasure",
        "channel": "post",
        "received_on": "2026-01-31",
        "requester": "Pekka Postitse",
        "description": "Poistakaa tietoni.",
    }

    # Without the form's token: refused, nothing stored.
    forged = await officer.post(f"{HOME}/requests", data=fields)
    assert forged.status_code == 403
    assert await _count(sessionmaker, DataSubjectRequest) == 0

    # A day in the future: the form again, the error next to the field, nothing stored.
    bad = await officer.post(
        f"{HOME}/requests",
        data={**fields, "received_on": "2026-03-01", "csrf_token": csrf(form)},
    )
    assert bad.status_code == 422
    assert '<p class="error field-error" id="received_on-error">must not be in the future' in (
        bad.text
    )
    assert 'aria-describedby="received_on-error"' in bad.text
    assert 'value="Pekka Postitse"' in bad.text  # what was typed is kept
    assert await _count(sessionmaker, DataSubjectRequest) == 0

    made = await officer.post(f"{HOME}/requests", data={**fields, "csrf_token": csrf(form)})
    assert made.status_code == 303, made.text
    location = made.headers["location"]
    assert location.startswith(f"{HOME}/requests/") and location.endswith("?done=created")
    shown = await officer.get(location)
    assert shown.status_code == 200
    assert "The request is registered." in shown.text
    # Received 31 January: due on the last day of February.
    assert '<dd id="request-due">28 Feb 2026 · 3 days left</dd>' in shown.text
    assert "Pekka Postitse" in shown.text and "Poistakaa tietoni." in shown.text
    actions = [e.action for e in await trail(sessionmaker)]
    assert "request.create" in actions and actions[-1] == "request.read"


async def test_a_requests_steps_as_the_api_allows(staff: Staff, sessionmaker: SessionMaker) -> None:
    api = staff.client
    request_id = await _request(api, "2026-02-20", requester="Liisa")
    contact_id = await add_contact(api)
    officer = await staff.become(Role.PRIVACY_OFFICER)
    url = f"{HOME}/requests/{request_id}"
    shown = await officer.get(url)
    token = csrf(shown)
    for step in ("Verify the requester", "Extend the deadline", "Link to a contact", "Close"):
        assert step in shown.text

    # Done before the identity is verified: the service's refusal, next to the form.
    early = await officer.post(f"{url}/close", data={"status": "done", "csrf_token": token})
    assert early.status_code == 409
    assert "cannot be answered before the requester&#39;s identity is verified" in early.text
    # A refusal needs its reason.
    bare = await officer.post(f"{url}/close", data={"status": "refused", "csrf_token": token})
    assert bare.status_code == 422
    assert 'id="outcome-error">required when refusing' in bare.text

    linked = await officer.post(
        f"{url}/link", data={"contact_id": str(contact_id), "csrf_token": token}
    )
    assert linked.status_code == 303
    verified = await officer.post(
        f"{url}/verification",
        data={"method": "strong_identification", "csrf_token": token},
    )
    assert verified.status_code == 303
    assert verified.headers["location"] == f"{url}?done=verification"
    extended = await officer.post(
        f"{url}/extension",
        data={"months": "1", "reason": "Many systems to search", "csrf_token": token},
    )
    assert extended.status_code == 303
    closed = await officer.post(
        f"{url}/close", data={"status": "done", "outcome": "Sent by post", "csrf_token": token}
    )
    assert closed.status_code == 303
    final = (await officer.get(closed.headers["location"])).text
    assert "The request is closed." in final
    assert '<dd id="request-status">Handled</dd>' in final
    assert "20 Apr 2026 (extended from 20 Mar 2026: Many systems to search)" in final
    assert "<td>Identity verified</td>" in final and "<td>Deadline extended</td>" in final
    assert "<td>Closed</td>" in final
    assert "Next steps" not in final  # nothing more to do
    again = await officer.post(f"{url}/close", data={"status": "done", "csrf_token": token})
    assert again.status_code == 409 and "is already closed" in again.text

    recorded = [e.action for e in await trail(sessionmaker) if e.route.startswith("/app/")]
    for action in ("request.update", "request.verification", "request.extension"):
        assert action in recorded
    assert recorded.count("request.close") == 1
    assert (await officer.get(f"{HOME}/requests/999")).status_code == 404


async def test_the_register_shows_the_sizes_of_suppression_erasure_and_holds(
    staff: Staff, sessionmaker: SessionMaker
) -> None:
    api = staff.client
    ids = [
        await add_contact(api, email=f"p{number}@example.fi", phone=f"040123456{number}")
        for number in range(3)
    ]
    assert (await api.delete(f"/api/v1/contacts/{ids[0]}")).status_code == 204
    hold = await api.post(f"/api/v1/contacts/{ids[1]}/legal-holds", json={"reason": "Dispute"})
    assert hold.status_code == 201, hold.text

    page = (await (await staff.become(Role.PRIVACY_OFFICER)).get(HOME)).text
    suppressed = await _count(sessionmaker, Suppression)
    assert suppressed == 2  # the erased person's email and phone
    assert f'id="suppression-count">{suppressed}</span>' in page
    assert f'id="erasure-count">{await _count(sessionmaker, Erasure)}</span>' in page
    assert await _count(sessionmaker, LegalHold) == 1
    assert 'id="hold-count">1</span>' in page


async def test_the_retention_plan_for_a_date_is_the_services(
    staff: Staff, sessionmaker: SessionMaker, settings: Settings
) -> None:
    api = staff.client
    for last in ("2019-01-01", "2020-06-30", "2024-01-01"):
        await add_contact(api, email=None, last_service_contact_at=last)
    officer = await staff.become(Role.PRIVACY_OFFICER)
    as_of = date(2026, 2, 25)

    answer = await officer.get(f"{HOME}/retention", params={"as_of": as_of.isoformat()})
    assert answer.status_code == 200, answer.text
    async with sessionmaker() as session:
        expected = await plan(session, as_of=as_of, settings=settings)
    assert len(expected.items) == 2
    # The heading says what the first line of `consentry retention plan --as-of`
    # says, the day written the member's way.
    cli = plan_table(expected).splitlines()[0]
    summary = cli.replace(as_of.isoformat(), "25 Feb 2026")
    assert f'<div role="status"><h2 id="plan-summary">{summary}</h2></div>' in answer.text
    table = answer.text.split('data-rule="contact_5_years"')[1].split("</table>")[0]
    rows = [row for row in table.split("<tr>")[2:]]
    assert len(rows) == len(expected.items)
    for row, item in zip(rows, expected.items, strict=True):
        with i18n.use("en"):  # the staff factories' members read English
            days = (i18n.format_date(item.due_on), i18n.format_date(item.deadline))
        for cell in (item.reference, *days, "overdue"):
            assert cell in row
    # Nothing is due on an earlier day.
    before = await officer.get(f"{HOME}/retention", params={"as_of": "2023-01-01"})
    assert "0 due, 0 skipped, 0 overdue" in before.text and "Nothing is due." in before.text
    # Today's plan without a date.
    today = await officer.get(f"{HOME}/retention")
    assert "Retention plan for 25 Feb 2026" in today.text


@pytest.mark.parametrize("bad", ["2026-02-30", "yesterday"])
async def test_a_bad_date_is_said_next_to_the_field(staff: Staff, bad: str) -> None:
    officer = await staff.become(Role.PRIVACY_OFFICER)
    answer = await officer.get(f"{HOME}/retention", params={"as_of": bad})
    assert answer.status_code == 422
    assert 'id="as_of-error">' in answer.text and "write it as YYYY-MM-DD" in answer.text
    assert "plan-summary" not in answer.text


@pytest.mark.parametrize("role", [Role.MARKETER, Role.VIEWER, Role.CALLER])
@pytest.mark.parametrize(
    "path", [HOME, f"{HOME}/retention", f"{HOME}/requests/new", f"{HOME}/requests/1"]
)
async def test_only_those_managing_rights_see_the_privacy_pages(
    staff: Staff, role: Role, path: str
) -> None:
    answer = await (await staff.become(role)).get(path)
    assert answer.status_code == 403
    assert "Not for your role" in answer.text
    assert "Maija" not in answer.text
