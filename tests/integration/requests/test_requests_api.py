"""The requests register through the HTTP API: deadlines, verification,
extension and closing (GDPR 12, the notice §13)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.models import DataSubjectRequest, RequestAction
from service.models.audit import AuditEvent
from service.models.enums import Role
from tests.conftest import TokenFactory
from tests.support.clock import FrozenClock
from tests.support.factories import contact_payload

Client = AsyncTestClient[Litestar]
URL = "/api/v1/requests"


def new_request(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "access",
        "channel": "email",
        "received_on": "2026-01-31",
        "requester": "Maija M.",
    }
    body.update(overrides)
    return body


async def create(admin: Client, **overrides: Any) -> dict[str, Any]:
    response = await admin.post(URL, json=new_request(**overrides))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def count(session: AsyncSession, model: Any) -> int:
    return int((await session.exec(select(func.count()).select_from(model))).one())


async def test_a_request_is_due_one_calendar_month_after_receipt(admin: Client) -> None:
    created = await create(admin, description="Please send me my data.")
    assert created["due_on"] == "2026-02-28"
    assert created["effective_due_on"] == "2026-02-28"
    assert created["extended_due_on"] is None
    assert created["status"] == "open"
    assert created["overdue"] is False
    assert created["days_left"] == 28
    assert created["answered_in_time"] is None
    assert created["actions"] == []
    assert created["requester"] == "Maija M."
    assert isinstance(created["recorded_by_user_id"], int)
    assert (await admin.get(f"{URL}/{created['id']}")).json() == created


@pytest.mark.parametrize(
    ("today", "received", "due"),
    [
        (date(2028, 2, 10), "2028-01-31", "2028-02-29"),
        (date(2026, 12, 31), "2026-12-31", "2027-01-31"),
        (date(2026, 12, 31), "2026-11-30", "2026-12-30"),
        (date(2026, 3, 31), "2026-03-31", "2026-04-30"),
    ],
)
async def test_due_dates_at_month_ends(
    admin: Client, frozen_clock: FrozenClock, today: date, received: str, due: str
) -> None:
    frozen_clock.set(today)
    assert (await create(admin, received_on=received))["due_on"] == due


async def test_received_today_in_helsinki_is_not_the_future(
    admin: Client, frozen_clock: FrozenClock, session: AsyncSession
) -> None:
    # 22:30 UTC on 31 January is already 1 February in Helsinki.
    frozen_clock.set(datetime(2026, 1, 31, 22, 30, tzinfo=UTC))
    assert (await create(admin, received_on="2026-02-01"))["due_on"] == "2026-03-01"
    response = await admin.post(URL, json=new_request(received_on="2026-02-02"))
    assert response.status_code == 422, response.text
    assert "future" in response.json()["fields"]["received_on"]
    assert await count(session, DataSubjectRequest) == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"type": "gossip"}, "type"),
        ({"channel": "pigeon"}, "channel"),
        ({"received_on": "yesterday"}, "received_on"),
        ({"requester": ""}, "requester"),
        ({"surprise": 1}, "surprise"),
    ],
)
async def test_a_bad_request_is_refused_and_changes_nothing(
    admin: Client, session: AsyncSession, overrides: dict[str, Any], field: str
) -> None:
    response = await admin.post(URL, json=new_request(**overrides))
    assert response.status_code == 422, response.text
    assert field in response.json()["fields"]
    assert await count(session, DataSubjectRequest) == 0


async def test_an_unknown_contact_is_named(admin: Client, session: AsyncSession) -> None:
    response = await admin.post(URL, json=new_request(contact_id=999))
    assert response.status_code == 422, response.text
    assert "contact_id" in response.json()["fields"]
    assert await count(session, DataSubjectRequest) == 0


async def test_a_request_links_to_its_contact(admin: Client) -> None:
    contact = (await admin.post("/api/v1/contacts", json=contact_payload())).json()
    created = await create(admin, contact_id=contact["id"], requester=None)
    assert created["contact_id"] == contact["id"]
    other = await create(admin, type="erasure")
    listed = (await admin.get(URL, params={"contact_id": contact["id"]})).json()
    assert [r["id"] for r in listed["items"]] == [created["id"]]
    # A request that arrived from someone not yet matched is linked later.
    linked = await admin.patch(f"{URL}/{other['id']}", json={"contact_id": contact["id"]})
    assert linked.status_code == 200, linked.text
    assert linked.json()["contact_id"] == contact["id"]
    bad = await admin.patch(f"{URL}/{other['id']}", json={"contact_id": 999})
    assert bad.status_code == 422
    assert (await admin.get(f"{URL}/{other['id']}")).json()["contact_id"] == contact["id"]


async def test_reading_the_register_is_in_the_audit_trail(
    admin: Client, session: AsyncSession
) -> None:
    contact = (await admin.post("/api/v1/contacts", json=contact_payload())).json()
    created = await create(admin, contact_id=contact["id"])
    assert (await admin.get(f"{URL}/{created['id']}")).status_code == 200
    assert (await admin.get(URL)).status_code == 200

    rows = (await session.exec(select(AuditEvent).order_by(col(AuditEvent.id)))).all()
    assert [(row.action, row.contact_id) for row in rows][-2:] == [
        ("request.read", contact["id"]),
        ("request.list", None),
    ]


async def test_unknown_request_is_404(admin: Client) -> None:
    assert (await admin.get(f"{URL}/999")).status_code == 404
    response = await admin.post(f"{URL}/999/verification", json={"method": "strong_identification"})
    assert response.status_code == 404


# -- the list: due soon, overdue, filters ---------------------------------------------------


async def test_the_list_shows_what_is_due_and_overdue(
    admin: Client, frozen_clock: FrozenClock
) -> None:
    frozen_clock.set(date(2026, 3, 10))
    late = await create(admin, received_on="2026-02-01")  # due 2026-03-01: overdue
    due_today = await create(admin, received_on="2026-02-10")  # due 2026-03-10
    in_week = await create(admin, received_on="2026-02-17", type="erasure")  # due 2026-03-17
    later = await create(admin, received_on="2026-02-18")  # due 2026-03-18
    extended = await create(admin, received_on="2026-02-11")  # due 2026-03-11 → 2026-05-11
    closed = await create(admin, received_on="2026-02-03")  # due 2026-03-03, refused
    url = f"{URL}/{extended['id']}/extension"
    assert (await admin.post(url, json={"reason": "complex"})).status_code == 200
    refusal = {"status": "refused", "outcome": "manifestly unfounded"}
    assert (await admin.post(f"{URL}/{closed['id']}/close", json=refusal)).status_code == 200

    def ids(page: dict[str, Any]) -> list[int]:
        return [item["id"] for item in page["items"]]

    everything = (await admin.get(URL)).json()
    assert everything["total"] == 6
    # The most urgent first, by the effective due date.
    assert ids(everything) == [
        late["id"],
        closed["id"],
        due_today["id"],
        in_week["id"],
        later["id"],
        extended["id"],
    ]
    items = {item["id"]: item for item in everything["items"]}
    assert items[late["id"]]["overdue"] is True and items[late["id"]]["days_left"] == -9
    assert items[due_today["id"]]["overdue"] is False and items[due_today["id"]]["days_left"] == 0
    assert items[extended["id"]]["effective_due_on"] == "2026-05-11"
    assert items[extended["id"]]["days_left"] == 62
    assert items[closed["id"]]["overdue"] is False and items[closed["id"]]["days_left"] is None
    assert items[closed["id"]]["answered_in_time"] is False

    week = (await admin.get(URL, params={"due_within_days": 7})).json()
    assert ids(week) == [late["id"], due_today["id"], in_week["id"]]
    assert week["total"] == 3
    overdue = (await admin.get(URL, params={"overdue": "true"})).json()
    assert ids(overdue) == [late["id"]]
    not_overdue = (await admin.get(URL, params={"overdue": "false"})).json()
    assert late["id"] not in ids(not_overdue) and not_overdue["total"] == 5
    assert ids((await admin.get(URL, params={"type": "erasure"})).json()) == [in_week["id"]]
    assert ids((await admin.get(URL, params={"status": "refused"})).json()) == [closed["id"]]
    page = (await admin.get(URL, params={"limit": 2, "offset": 1})).json()
    assert page == {**page, "total": 6, "limit": 2, "offset": 1}
    assert ids(page) == [closed["id"], due_today["id"]]
    assert (await admin.get(URL, params={"due_within_days": -1})).status_code == 422
    assert (await admin.get(URL, params={"status": "maybe"})).status_code == 422


# -- verification -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method", ["registered_email_reply", "strong_identification", "in_person_id_document"]
)
async def test_identity_verification_is_recorded(admin: Client, method: str) -> None:
    created = await create(admin)
    response = await admin.post(f"{URL}/{created['id']}/verification", json={"method": method})
    assert response.status_code == 200, response.text
    verified = response.json()
    assert verified["verification_method"] == method
    assert verified["verified_at"].startswith("2026-01-31T10:00")
    assert verified["verified_by_user_id"] == created["recorded_by_user_id"]
    assert [a["action"] for a in verified["actions"]] == ["verified"]
    assert verified["actions"][0]["done_by_user_id"] == created["recorded_by_user_id"]
    again = await admin.post(f"{URL}/{created['id']}/verification", json={"method": method})
    assert again.status_code == 409 and again.json()["reason"] == "already_verified"


@pytest.mark.parametrize(
    "method", ["name_and_identity_code", "identity_code", "name", "", "STRONG"]
)
async def test_name_plus_identity_code_is_never_verification(
    admin: Client, session: AsyncSession, method: str
) -> None:
    created = await create(admin)
    response = await admin.post(f"{URL}/{created['id']}/verification", json={"method": method})
    assert response.status_code == 422, response.text
    assert "never proof" in response.json()["fields"]["method"]
    row = await session.get(DataSubjectRequest, created["id"])
    assert row is not None and row.verified_at is None and row.verification_method is None
    assert await count(session, RequestAction) == 0


# -- extension --------------------------------------------------------------------------------


async def test_extension_on_the_due_date_itself_is_allowed(
    admin: Client, frozen_clock: FrozenClock
) -> None:
    created = await create(admin)  # received 2026-01-31, due 2026-02-28
    frozen_clock.set(date(2026, 2, 28))
    response = await admin.post(
        f"{URL}/{created['id']}/extension", json={"reason": "Many requests at once."}
    )
    assert response.status_code == 200, response.text
    extended = response.json()
    assert extended["due_on"] == "2026-02-28"
    assert extended["extended_due_on"] == "2026-04-28"  # default: two months
    assert extended["effective_due_on"] == "2026-04-28"
    assert extended["extension_reason"] == "Many requests at once."
    assert [a["action"] for a in extended["actions"]] == ["extended"]


async def test_extension_the_day_after_the_due_date_is_refused(
    admin: Client, frozen_clock: FrozenClock, session: AsyncSession
) -> None:
    created = await create(admin)
    frozen_clock.set(date(2026, 3, 1))
    response = await admin.post(f"{URL}/{created['id']}/extension", json={"reason": "Too late."})
    assert response.status_code == 409, response.text
    assert response.json()["reason"] == "past_due_date"
    assert "2026-02-28" in response.json()["detail"]
    row = await session.get(DataSubjectRequest, created["id"])
    assert row is not None and row.extended_due_on is None and row.extension_reason is None
    assert await count(session, RequestAction) == 0


async def test_extension_by_one_month_and_only_once(admin: Client) -> None:
    created = await create(admin)
    url = f"{URL}/{created['id']}/extension"
    response = await admin.post(url, json={"reason": "Complex.", "months": 1})
    assert response.status_code == 200, response.text
    assert response.json()["extended_due_on"] == "2026-03-28"
    again = await admin.post(url, json={"reason": "Still complex.", "months": 1})
    assert again.status_code == 409 and again.json()["reason"] == "already_extended"
    assert (await admin.get(f"{URL}/{created['id']}")).json()["extended_due_on"] == "2026-03-28"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"months": 2}, "reason"),
        ({"reason": " "}, "reason"),
        ({"reason": "x", "months": 3}, "months"),
        ({"reason": "x", "months": 0}, "months"),
    ],
)
async def test_extension_needs_a_reason_and_at_most_two_months(
    admin: Client, session: AsyncSession, body: dict[str, Any], field: str
) -> None:
    created = await create(admin)
    response = await admin.post(f"{URL}/{created['id']}/extension", json=body)
    assert response.status_code == 422, response.text
    assert field in response.json()["fields"]
    row = await session.get(DataSubjectRequest, created["id"])
    assert row is not None and row.extended_due_on is None


async def test_a_closed_request_cannot_be_extended_or_verified(admin: Client) -> None:
    created = await create(admin)
    refusal = {"status": "refused", "outcome": "Not our register."}
    assert (await admin.post(f"{URL}/{created['id']}/close", json=refusal)).status_code == 200
    extension = await admin.post(f"{URL}/{created['id']}/extension", json={"reason": "x"})
    assert extension.status_code == 409 and extension.json()["reason"] == "closed"
    verification = await admin.post(
        f"{URL}/{created['id']}/verification", json={"method": "strong_identification"}
    )
    assert verification.status_code == 409 and verification.json()["reason"] == "closed"
    patch = await admin.patch(f"{URL}/{created['id']}", json={"description": "more"})
    assert patch.status_code == 409 and patch.json()["reason"] == "closed"


# -- closing ----------------------------------------------------------------------------------


async def test_done_needs_verified_identity(
    admin: Client, frozen_clock: FrozenClock, session: AsyncSession
) -> None:
    created = await create(admin)
    url = f"{URL}/{created['id']}/close"
    refused = await admin.post(url, json={"status": "done", "outcome": "Sent the export."})
    assert refused.status_code == 409, refused.text
    assert refused.json()["reason"] == "not_verified"
    row = await session.get(DataSubjectRequest, created["id"])
    assert row is not None and row.status == "open" and row.closed_at is None
    verify = {"method": "registered_email_reply"}
    assert (await admin.post(f"{URL}/{created['id']}/verification", json=verify)).status_code == 200
    frozen_clock.set(date(2026, 2, 28))
    response = await admin.post(url, json={"status": "done", "outcome": "Sent the export."})
    assert response.status_code == 200, response.text
    done = response.json()
    assert done["status"] == "done" and done["outcome"] == "Sent the export."
    assert done["closed_at"].startswith("2026-02-28")
    assert done["answered_in_time"] is True and done["overdue"] is False
    assert [a["action"] for a in done["actions"]] == ["verified", "closed"]
    again = await admin.post(url, json={"status": "refused", "outcome": "x"})
    assert again.status_code == 409 and again.json()["reason"] == "closed"


async def test_a_refusal_needs_its_reason_but_no_verification(
    admin: Client, session: AsyncSession
) -> None:
    created = await create(admin, type="erasure")
    url = f"{URL}/{created['id']}/close"
    missing = await admin.post(url, json={"status": "refused"})
    assert missing.status_code == 422, missing.text
    assert "outcome" in missing.json()["fields"]
    reopened = await admin.post(url, json={"status": "open"})
    assert reopened.status_code == 422 and "status" in reopened.json()["fields"]
    row = await session.get(DataSubjectRequest, created["id"])
    assert row is not None and row.status == "open"
    response = await admin.post(
        url, json={"status": "refused", "outcome": "Identity could not be verified."}
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "refused"
    assert response.json()["verified_at"] is None


async def test_a_late_answer_shows(admin: Client, frozen_clock: FrozenClock) -> None:
    created = await create(admin)
    await admin.post(
        f"{URL}/{created['id']}/verification", json={"method": "strong_identification"}
    )
    frozen_clock.set(date(2026, 3, 1))
    assert (await admin.get(f"{URL}/{created['id']}")).json()["overdue"] is True
    response = await admin.post(f"{URL}/{created['id']}/close", json={"status": "done"})
    assert response.status_code == 200, response.text
    assert response.json()["answered_in_time"] is False
    assert response.json()["overdue"] is False


async def test_only_rights_managers_see_the_register(
    client: Client, make_token: TokenFactory, admin: Client
) -> None:
    created = await create(admin)
    for role, allowed in (
        (Role.MARKETER, False),
        (Role.VIEWER, False),
        (Role.PRIVACY_OFFICER, True),
    ):
        headers = {"Authorization": f"Bearer {await make_token(role)}"}
        response = await client.get(f"{URL}/{created['id']}", headers=headers)
        assert response.status_code == (200 if allowed else 403), (role, response.text)


@pytest.mark.parametrize(
    "query", ["offset=100000000000000000000", "contact_id=100000000000000000000"]
)
async def test_numbers_past_64_bits_are_refused_not_a_5xx(admin: Client, query: str) -> None:
    response = await admin.get(f"{URL}?{query}")
    assert response.status_code in {400, 422}, response.text
    assert query.split("=")[0] in response.json().get("fields", {})
