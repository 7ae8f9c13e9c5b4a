"""``/app/audit`` on both databases: the trail searched by person, staff member,
action and days, each search recorded; the chain check, before and after a
row is tampered with; and who may see it."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from service import rules
from service.db import SessionMaker
from service.models.enums import Role
from tests.conftest import audit_trail_unlocked
from tests.integration.audit.support import check, trail
from tests.integration.web.conftest import csrf
from tests.integration.web.privacy.support import Staff
from tests.support.factories import add_contact

PAGE = "/app/audit"
_ROW_ID = re.compile(r"<tr>\s*<td>(\d+)</td>")


def _shown_ids(page: str) -> list[int]:
    table = page.split('<table id="audit-events">')[1].split("</table>")[0]
    return [int(found) for found in _ROW_ID.findall(table)]


async def test_the_trail_filtered_by_person_and_by_staff_member(
    staff: Staff, sessionmaker: SessionMaker
) -> None:
    api = staff.client
    first = await add_contact(api, email="first@example.fi")
    second = await add_contact(api, email="second@example.fi")
    assert (await api.get(f"/api/v1/contacts/{first}")).status_code == 200
    assert (await api.get(f"/api/v1/contacts/{second}")).status_code == 200
    officer = await staff.become(Role.PRIVACY_OFFICER)
    officer_id = staff.user_ids[Role.PRIVACY_OFFICER]

    about_first = await officer.get(PAGE, params={"contact_id": str(first)})
    assert about_first.status_code == 200, about_first.text
    events = await trail(sessionmaker)
    search = events[-1]  # this search's own row, written as it answered
    expected = sorted(
        (e.id for e in events if e.contact_id == first and e.id != search.id), reverse=True
    )
    assert len(expected) == 2  # created, read
    assert _shown_ids(about_first.text) == expected  # newest first, only that person
    assert "contact.read" in about_first.text and "GET /api/v1/contacts/{contact_id}" in (
        about_first.text
    )
    # The search is recorded as the API's is: who searched, for whom, which filters.
    assert (search.action, search.contact_id, search.actor_user_id) == (
        "audit.search",
        first,
        officer_id,
    )
    assert search.details == {"filters": ["contact_id"]}

    # The staff member is picked from a list and travels as an id.
    everyone = await officer.get(PAGE)
    assert f'<option value="{officer_id}">' in everyone.text
    api_user = events[0].actor_user_id
    assert api_user is not None
    by_admin = await officer.get(PAGE, params={"user_id": str(api_user)})
    shown = _shown_ids(by_admin.text)
    admin_events = [e.id for e in await trail(sessionmaker) if e.actor_user_id == api_user]
    assert shown == sorted(admin_events, reverse=True) and len(shown) == 4
    assert f'<option value="{api_user}" selected>' in by_admin.text
    assert "@example.fi" not in str(by_admin.url)

    by_officer = await officer.get(PAGE, params={"user_id": str(officer_id)})
    assert "audit.search" in by_officer.text and "contact.create" not in by_officer.text
    by_action = await officer.get(PAGE, params={"action": "contact.create"})
    assert len(_shown_ids(by_action.text)) == 2
    # Days are Helsinki days; the last one is included.
    today = rules.local_date(events[0].occurred_at).isoformat()
    in_range = await officer.get(PAGE, params={"since": today, "until": today})
    assert len(_shown_ids(in_range.text)) >= 4
    past = await officer.get(PAGE, params={"since": "2020-01-01", "until": "2020-01-31"})
    assert "0 events" in past.text and 'id="audit-events"' not in past.text


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"contact_id": "abc"}, "contact_id"),
        ({"user_id": "-3"}, "user_id"),
        ({"action": "DROP TABLE"}, "action"),
        ({"since": "2026-13-01"}, "since"),
        ({"since": "2026-03-02", "until": "2026-03-01"}, "until"),
    ],
)
async def test_a_filter_that_cannot_be_read_is_said_next_to_it(
    staff: Staff, params: dict[str, str], field: str
) -> None:
    answer = await (await staff.become(Role.ADMIN)).get(PAGE, params=params)
    assert answer.status_code == 422
    assert f'id="{field}-error"' in answer.text
    assert f'aria-describedby="{field}-error"' in answer.text


async def test_verify_the_chain_then_find_a_tampered_row(
    staff: Staff, sessionmaker: SessionMaker
) -> None:
    api = staff.client
    for number in range(3):
        await add_contact(api, email=f"c{number}@example.fi")
    officer = await staff.become(Role.PRIVACY_OFFICER)
    shown = await officer.get(PAGE)

    forged = await officer.post(f"{PAGE}/verify", data={})
    assert forged.status_code == 403

    intact = await officer.post(f"{PAGE}/verify", data={"csrf_token": csrf(shown)})
    assert intact.status_code == 200, intact.text
    # The same walk as `consentry audit verify`: every row written before this check.
    result = await check(sessionmaker)
    assert result.intact
    assert f"The audit trail is intact: {result.events - 1} events checked." in intact.text

    engine = sessionmaker.kw["bind"]
    async with engine.begin() as connection, audit_trail_unlocked(connection):
        await connection.execute(text("UPDATE audit_events SET action = 'x.y' WHERE id = 2"))
    broken = await officer.post(f"{PAGE}/verify", data={"csrf_token": csrf(shown)})
    assert broken.status_code == 200
    assert "The audit trail is broken at event #2: its content does not match its hash" in (
        broken.text
    )
    assert 'role="alert"' in broken.text


@pytest.mark.parametrize("role", [Role.MARKETER, Role.VIEWER, Role.CALLER])
async def test_only_audit_readers_see_the_trail(staff: Staff, role: Role) -> None:
    client = await staff.become(role)
    assert (await client.get(PAGE)).status_code == 403
    refused = await client.post(f"{PAGE}/verify", data={})
    assert refused.status_code == 403
    assert "Not for your role" in refused.text
