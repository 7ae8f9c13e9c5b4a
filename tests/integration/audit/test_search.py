"""``GET /api/v1/audit``: privacy officers search the trail by person, staff
member, action and time, newest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from service.db import SessionMaker
from service.models.enums import Role
from tests.conftest import TokenFactory
from tests.integration.audit.support import Client, as_role, trail
from tests.support.clock import FrozenClock
from tests.support.factories import add_contact

AUDIT = "/api/v1/audit"


async def _search(client: Client, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = await client.get(AUDIT, params=params, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    return body


async def test_search_by_person_staff_member_action_and_time(
    client: Client,
    sessionmaker: SessionMaker,
    make_token: TokenFactory,
    frozen_clock: FrozenClock,
) -> None:
    officer = await as_role(make_token, Role.PRIVACY_OFFICER)
    viewer = await as_role(make_token, Role.VIEWER)
    start = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    frozen_clock.set(start)
    first = await add_contact(client, headers=officer)
    frozen_clock.advance(hours=1)
    second = await add_contact(client, headers=officer, email="second@example.fi")
    assert (await client.get(f"/api/v1/contacts/{first}", headers=viewer)).status_code == 200
    frozen_clock.advance(hours=1)
    assert (await client.get(f"/api/v1/contacts/{first}", headers=officer)).status_code == 200
    events = await trail(sessionmaker)
    officer_id, viewer_id = events[0].actor_user_id, events[2].actor_user_id

    everything = await _search(client, officer)
    assert everything["total"] == 4
    assert [item["id"] for item in everything["items"]] == [4, 3, 2, 1]  # newest first
    newest = everything["items"][0]
    assert (newest["action"], newest["contact_id"], newest["actor_role"]) == (
        "contact.read",
        first,
        "privacy_officer",
    )
    assert "row_hash" not in newest

    about_first = await _search(client, officer, contact_id=first)
    assert [item["id"] for item in about_first["items"]] == [4, 3, 1]
    about_second = await _search(client, officer, contact_id=second)
    assert [item["action"] for item in about_second["items"]] == ["contact.create"]
    by_viewer = await _search(client, officer, user_id=viewer_id)
    assert [item["id"] for item in by_viewer["items"]] == [3]
    reads = await _search(client, officer, action="contact.read", user_id=officer_id)
    assert [item["id"] for item in reads["items"]] == [4]
    window = await _search(
        client,
        officer,
        since=(start + timedelta(minutes=30)).isoformat(),
        until=(start + timedelta(hours=2)).isoformat(),  # exclusive
    )
    assert [item["id"] for item in window["items"]] == [3, 2]
    # Each search above was recorded too (rows 5-10).
    page = await _search(client, officer, limit=2, offset=1)
    assert [item["id"] for item in page["items"]] == [9, 8]
    assert (page["total"], page["limit"], page["offset"]) == (10, 2, 1)


async def test_a_search_is_recorded_with_its_filters_not_their_values(
    client: Client, sessionmaker: SessionMaker, make_token: TokenFactory
) -> None:
    officer = await as_role(make_token, Role.PRIVACY_OFFICER)
    await _search(client, officer, contact_id=5, action="contact.read")
    [search] = await trail(sessionmaker)
    assert (search.action, search.contact_id) == ("audit.search", 5)
    assert search.details == {"filters": ["contact_id", "action"]}


@pytest.mark.parametrize("role", [Role.MARKETER, Role.VIEWER, Role.CALLER])
async def test_only_audit_readers_may_search(
    client: Client, make_token: TokenFactory, role: Role
) -> None:
    response = await client.get(AUDIT, headers=await as_role(make_token, role))
    assert response.status_code == 403
    assert "audit:read" in response.json()["detail"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "2026-03-01T09:00:00"}, "since"),
        ({"until": "yesterday"}, "until"),
        ({"limit": 0}, "limit"),
        ({"action": "Contact Read"}, "action"),
        ({"contact_id": 0}, "contact_id"),
        ({"contact_id": 10**20}, "contact_id"),  # past a 64-bit integer: not a 5xx
        ({"user_id": 10**20}, "user_id"),
        ({"offset": 10**20}, "offset"),
    ],
)
async def test_bad_filters_are_refused(
    client: Client, make_token: TokenFactory, params: dict[str, Any], field: str
) -> None:
    officer = await as_role(make_token, Role.PRIVACY_OFFICER)
    response = await client.get(AUDIT, params=params, headers=officer)
    assert response.status_code in {400, 422}, response.text
    assert field in str(response.json().get("fields", {})) + response.json()["detail"]


async def test_the_staff_the_trail_names(client: Client, make_token: TokenFactory) -> None:
    officer = await as_role(make_token, Role.PRIVACY_OFFICER)
    await make_token(Role.CALLER)
    response = await client.get(f"{AUDIT}/staff", headers=officer)
    assert response.status_code == 200, response.text
    staff = response.json()
    assert [member["email"] for member in staff] == sorted(member["email"] for member in staff)
    assert {member["role"] for member in staff} == {"privacy_officer", "caller"}
    assert all(set(member) == {"id", "email", "role"} for member in staff)
    marketer = await as_role(make_token, Role.MARKETER)
    assert (await client.get(f"{AUDIT}/staff", headers=marketer)).status_code == 403
