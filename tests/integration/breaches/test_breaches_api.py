"""The breach register through the API (GDPR 33(5)): the 72-hour deadline,
the due-soon and overdue flags on a frozen clock, the rules that keep a
breach's facts together, who may use it, and hostile input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.models import Breach
from service.models.audit import AuditEvent
from service.models.enums import Role
from tests.conftest import TokenFactory
from tests.support.clock import FrozenClock

Client = AsyncTestClient[Litestar]
URL = "/api/v1/breaches"
NOW = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)

pytestmark = pytest.mark.usefixtures("frozen_clock")


@pytest.fixture
def clock_start() -> datetime:
    return NOW


def at(hours_ago: float) -> str:
    return (NOW - timedelta(hours=hours_ago)).isoformat()


def breach(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "discovered_at": at(1),
        "nature": "A laptop holding an export of about 120 contacts was stolen.",
        "data_categories": ["email", "name", "Email"],
        "people_categories": ["customers"],
        "approx_people": 120,
        "approx_records": 120,
    }
    body.update(overrides)
    return body


async def create(api: Client, **overrides: Any) -> dict[str, Any]:
    response = await api.post(URL, json=breach(**overrides))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def count(session: AsyncSession) -> int:
    return int((await session.exec(select(func.count()).select_from(Breach))).one())


async def test_create_get_list_and_the_72_hours(admin: Client, session: AsyncSession) -> None:
    created = await create(admin, discovered_at="2026-03-10T09:15:00+02:00")
    assert created["authority_due_at"] == "2026-03-13T07:15:00Z"
    due = datetime.fromisoformat(created["authority_due_at"])
    assert due - datetime.fromisoformat(created["discovered_at"]) == timedelta(hours=72)
    assert created["data_categories"] == ["email", "name"]
    assert (created["risk"], created["overdue"], created["due_soon"]) == ("risk", False, False)
    assert created["hours_left"] == 69.2
    assert isinstance(created["recorded_by_user_id"], int)
    assert (await admin.get(f"{URL}/{created['id']}")).json() == created
    listed = (await admin.get(URL)).json()
    assert (listed["total"], [i["id"] for i in listed["items"]]) == (1, [created["id"]])
    # Recorded in the audit trail with the change.
    actions = (await session.exec(select(col(AuditEvent.action)))).all()
    assert "breach.create" in actions


async def test_due_soon_then_overdue_as_the_clock_moves(
    admin: Client, frozen_clock: FrozenClock
) -> None:
    fresh = await create(admin, discovered_at=at(10))
    unlikely = await create(admin, discovered_at=at(10), risk="unlikely")
    frozen_clock.advance(hours=50)  # 60 h after discovery: 12 h left
    item = (await admin.get(f"{URL}/{fresh['id']}")).json()
    assert (item["due_soon"], item["overdue"], item["hours_left"]) == (True, False, 12.0)
    soon = (await admin.get(URL, params={"due_soon": "true"})).json()
    assert [i["id"] for i in soon["items"]] == [fresh["id"]]

    frozen_clock.advance(hours=13)  # 73 h: one hour late
    item = (await admin.get(f"{URL}/{fresh['id']}")).json()
    assert (item["due_soon"], item["overdue"], item["hours_left"]) == (False, True, -1.0)
    overdue = (await admin.get(URL, params={"overdue": "true"})).json()
    assert [i["id"] for i in overdue["items"]] == [fresh["id"]]
    # Unlikely to result in a risk: documented, never due.
    quiet = (await admin.get(f"{URL}/{unlikely['id']}")).json()
    assert (quiet["overdue"], quiet["due_soon"], quiet["hours_left"]) == (False, False, None)
    assert (await admin.get(URL, params={"due_soon": "true"})).json()["total"] == 0

    # Notified, late, with the reason: no longer overdue.
    response = await admin.patch(
        f"{URL}/{fresh['id']}",
        json={
            "authority_notified_at": at(-63),
            "authority_reference": "TSV/123/2026",
            "delay_reason": "The extent was unclear until the forensic report.",
        },
    )
    assert response.status_code == 200, response.text
    assert (response.json()["overdue"], response.json()["hours_left"]) == (False, None)
    assert (await admin.get(URL, params={"overdue": "true"})).json()["total"] == 0


async def test_a_late_notification_needs_its_reason(admin: Client, session: AsyncSession) -> None:
    created = await create(admin, discovered_at=at(80))
    late = await admin.patch(f"{URL}/{created['id']}", json={"authority_notified_at": at(1)})
    assert late.status_code == 422, late.text
    assert "delay_reason" in late.json()["fields"]
    on_create = await admin.post(
        URL, json=breach(discovered_at=at(80), authority_notified_at=at(1))
    )
    assert on_create.status_code == 422
    assert "delay_reason" in on_create.json()["fields"]
    in_time = await admin.patch(f"{URL}/{created['id']}", json={"authority_notified_at": at(9)})
    assert in_time.status_code == 200, in_time.text
    assert await count(session) == 1


async def test_closing_an_unnotified_breach_needs_the_reason(admin: Client) -> None:
    created = await create(admin, risk="unlikely")
    refused = await admin.patch(f"{URL}/{created['id']}", json={"closed_at": at(0)})
    assert refused.status_code == 422
    assert "not_notified_reason" in refused.json()["fields"]
    closed = await admin.patch(
        f"{URL}/{created['id']}",
        json={"closed_at": at(0), "not_notified_reason": "Encrypted disk; key not lost."},
    )
    assert closed.status_code == 200, closed.text
    high = await create(admin, risk="high")
    assert high["people_to_inform"] is True
    informed = await admin.patch(
        f"{URL}/{high['id']}",
        json={"people_informed_at": at(0), "people_informed_how": "email to each"},
    )
    assert informed.json()["people_to_inform"] is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (breach(discovered_at=at(-1)), "discovered_at"),  # the future
        (breach(discovered_at="2026-03-10T09:00:00"), "discovered_at"),  # no offset
        (breach(discovered_at="yesterday"), "discovered_at"),
        (breach(approx_people=-1), "approx_people"),
        (breach(approx_records=2**70), "approx_records"),
        (breach(nature=""), "nature"),
        (breach(nature="x" * 4001), "nature"),
        (breach(risk="catastrophic"), "risk"),
        (breach(occurred_at=at(0)), "occurred_at"),  # after discovery
        (breach(authority_notified_at=at(2)), "authority_notified_at"),  # before discovery
        (breach(data_categories="email"), "data_categories"),
        (breach(data_categories=["x" * 65]), "data_categories.0"),
        (breach(surprise=True), "surprise"),
    ],
)
async def test_hostile_input_is_refused_and_changes_nothing(
    admin: Client, session: AsyncSession, body: dict[str, Any], field: str
) -> None:
    response = await admin.post(URL, json=body)
    assert response.status_code == 422, response.text
    assert field in response.json()["fields"]
    assert await count(session) == 0


@pytest.mark.parametrize(
    "raw", [b"{", b"[]", b"null", b'"x"', b"[" * 5000 + b"]" * 5000, b'{"nature": "\x00\xff"}']
)
async def test_malformed_bodies_are_400s(admin: Client, raw: bytes) -> None:
    response = await admin.post(URL, content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code in (400, 422), response.text
    created = await create(admin)
    patched = await admin.patch(
        f"{URL}/{created['id']}", content=raw, headers={"Content-Type": "application/json"}
    )
    assert patched.status_code in (400, 422), patched.text


async def test_clearing_a_required_field_and_unknown_ids(admin: Client) -> None:
    created = await create(admin)
    cleared = await admin.patch(f"{URL}/{created['id']}", json={"nature": None})
    assert cleared.status_code == 422 and "nature" in cleared.json()["fields"]
    assert (await admin.get(f"{URL}/999")).status_code == 404
    assert (await admin.get(f"{URL}/{2**70}")).status_code in (404, 422)
    assert (await admin.get(URL, params={"limit": 0})).status_code == 422


@pytest.mark.parametrize("role", [Role.MARKETER, Role.CALLER])
async def test_roles_without_the_permission_get_403(
    client: Client, make_token: TokenFactory, role: Role, session: AsyncSession
) -> None:
    headers = {"Authorization": f"Bearer {await make_token(role)}"}
    assert (await client.get(URL, headers=headers)).status_code == 403
    assert (await client.post(URL, json=breach(), headers=headers)).status_code == 403
    assert await count(session) == 0


async def test_a_privacy_officer_may(client: Client, make_token: TokenFactory) -> None:
    headers = {"Authorization": f"Bearer {await make_token(Role.PRIVACY_OFFICER)}"}
    assert (await client.post(URL, json=breach(), headers=headers)).status_code == 201
