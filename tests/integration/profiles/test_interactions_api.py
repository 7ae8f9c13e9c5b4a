"""Interactions (the notice §7) through the HTTP API: the contact's latest
service contact follows them; a purchase-registration ban refuses purchases."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import update
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import SessionMaker, session_scope
from service.models import Contact, Interaction
from service.models.base import utcnow
from service.models.enums import Role
from tests.conftest import TokenFactory
from tests.support.factories import contact_payload

Client = AsyncTestClient[Litestar]
PURCHASE = {
    "kind": "purchase",
    "occurred_on": "2026-01-20",
    "details": {"product": "Team coaching, 3 sessions", "amount": "1200.00", "currency": "EUR"},
}


EVIDENCE = {
    "kind": "purchase",
    "occurred_on": "2026-01-20",
    "product_group": "team coaching",
    "address_collected": True,
    "refusal_offered": True,
}


@pytest.fixture
async def contact(admin: Client) -> dict[str, Any]:
    response = await admin.post(
        "/api/v1/contacts", json=contact_payload(last_service_contact_at="2025-06-01")
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def url_of(contact: dict[str, Any]) -> str:
    return f"/api/v1/contacts/{contact['id']}/interactions"


async def last_service_contact(admin: Client, contact: dict[str, Any]) -> str | None:
    value: str | None = (await admin.get(f"/api/v1/contacts/{contact['id']}")).json()[
        "last_service_contact_at"
    ]
    return value


async def stored(session: AsyncSession) -> int:
    return int((await session.exec(select(func.count()).select_from(Interaction))).one())


@pytest.mark.parametrize("kind", ["service_contact", "contact_initiative", "purchase"])
async def test_every_kind_moves_the_last_service_contact_forward(
    admin: Client, contact: dict[str, Any], kind: str
) -> None:
    body = {"kind": kind, "occurred_on": "2026-01-10", "note": "Called about the programme."}
    response = await admin.post(url_of(contact), json=body)
    assert response.status_code == 201, response.text
    recorded = response.json()
    assert recorded["kind"] == kind and recorded["occurred_on"] == "2026-01-10"
    assert recorded["note"] == "Called about the programme." and recorded["details"] is None
    assert recorded["contact_id"] == contact["id"]
    assert isinstance(recorded["recorded_by_user_id"], int)
    assert await last_service_contact(admin, contact) == "2026-01-10"


async def test_an_older_event_never_moves_it_back(admin: Client, contact: dict[str, Any]) -> None:
    url = url_of(contact)
    assert (await admin.post(url, json=PURCHASE)).status_code == 201
    older = {"kind": "service_contact", "occurred_on": "2025-12-01"}
    assert (await admin.post(url, json=older)).status_code == 201
    same = {"kind": "contact_initiative", "occurred_on": "2026-01-20"}
    assert (await admin.post(url, json=same)).status_code == 201
    assert await last_service_contact(admin, contact) == "2026-01-20"
    listed = (await admin.get(url)).json()
    # Newest first; the same day in the order recorded, latest first.
    assert [(i["kind"], i["occurred_on"]) for i in listed] == [
        ("contact_initiative", "2026-01-20"),
        ("purchase", "2026-01-20"),
        ("service_contact", "2025-12-01"),
    ]
    assert listed[1]["details"] == PURCHASE["details"]


async def test_a_purchase_records_soft_opt_ins_evidence(
    admin: Client, contact: dict[str, Any]
) -> None:
    url = url_of(contact)
    response = await admin.post(url, json={**EVIDENCE, "product_group": "  Team coaching "})
    assert response.status_code == 201, response.text
    recorded = response.json()
    assert recorded["product_group"] == "Team coaching"
    assert recorded["address_collected"] is True and recorded["refusal_offered"] is True
    # The address obtained, the notice not (yet) recorded; and a purchase with none.
    told_not = {**EVIDENCE, "refusal_offered": False, "occurred_on": "2026-01-21"}
    assert (await admin.post(url, json=told_not)).status_code == 201
    assert (await admin.post(url, json=PURCHASE)).status_code == 201
    service_contact = {"kind": "service_contact", "occurred_on": "2026-01-19"}
    assert (await admin.post(url, json=service_contact)).status_code == 201
    listed = (await admin.get(url)).json()
    assert [
        (i["occurred_on"], i["product_group"], i["address_collected"], i["refusal_offered"])
        for i in listed
    ] == [
        ("2026-01-21", "team coaching", True, False),
        ("2026-01-20", None, False, False),
        ("2026-01-20", "Team coaching", True, True),
        ("2026-01-19", None, False, False),
    ]
    # The person's own copy of what is held says the same.
    export = await admin.get(f"/api/v1/contacts/{contact['id']}/export")
    assert export.status_code == 200, export.text
    exported = {i["id"]: i for i in export.json()["interactions"]}
    assert exported[recorded["id"]]["product_group"] == "Team coaching"
    assert exported[recorded["id"]]["refusal_offered"] is True


async def test_a_purchase_registration_ban_refuses_the_evidence_too(
    admin: Client, contact: dict[str, Any], session: AsyncSession
) -> None:
    """The product group is a purchase detail: under the ban, soft opt-in gets
    no new evidence, and the gate says so. What was recorded before stays."""
    customer = (
        await admin.post(
            "/api/v1/contacts",
            json=contact_payload(
                email="asiakas@example.fi", is_customer=True, last_service_contact_at="2025-06-01"
            ),
        )
    ).json()
    bans = f"/api/v1/contacts/{customer['id']}/bans"
    ban = await admin.post(bans, json={"kind": "purchase_registration", "source": "self"})
    assert ban.status_code == 201, ban.text
    response = await admin.post(url_of(customer), json=EVIDENCE)
    assert response.status_code == 409 and response.json()["reason"] == "purchase_registration_ban"
    assert await stored(session) == 0
    eligibility = f"/api/v1/contacts/{customer['id']}/eligibility"
    answer = (await admin.get(eligibility, params={"similar_products": True})).json()
    assert answer == {"eligible": False, "reasons": ["no_purchase_record"]}
    # Lifted, the purchase is recorded; a ban placed after it does not erase it.
    assert (await admin.delete(f"{bans}/{ban.json()['id']}")).status_code == 200
    assert (await admin.post(url_of(customer), json=EVIDENCE)).status_code == 201
    again = await admin.post(bans, json={"kind": "purchase_registration", "source": "self"})
    assert again.status_code == 201
    answer = (await admin.get(eligibility, params={"similar_products": True})).json()
    assert answer == {"eligible": True, "reasons": []}


async def test_a_contact_without_a_date_gets_one(admin: Client) -> None:
    created = (
        await admin.post("/api/v1/contacts", json=contact_payload(email="new@example.fi"))
    ).json()
    assert created["last_service_contact_at"] is None
    body = {"kind": "contact_initiative", "occurred_on": "2024-02-29"}
    assert (await admin.post(url_of(created), json=body)).status_code == 201
    assert await last_service_contact(admin, created) == "2024-02-29"


async def test_a_purchase_registration_ban_refuses_purchases_and_changes_nothing(
    admin: Client, contact: dict[str, Any], session: AsyncSession
) -> None:
    bans = f"/api/v1/contacts/{contact['id']}/bans"
    ban = await admin.post(bans, json={"kind": "purchase_registration", "source": "self"})
    assert ban.status_code == 201, ban.text
    url = url_of(contact)
    for body in (PURCHASE, {"kind": "purchase", "occurred_on": "2026-01-21"}):
        response = await admin.post(url, json=body)
        assert response.status_code == 409, response.text
        assert response.json()["reason"] == "purchase_registration_ban"
    assert await stored(session) == 0
    assert await last_service_contact(admin, contact) == "2025-06-01"
    # Other events are still recorded.
    service_contact = {"kind": "service_contact", "occurred_on": "2026-01-21"}
    assert (await admin.post(url, json=service_contact)).status_code == 201
    # A lifted ban no longer stands in the way.
    lifted = await admin.delete(f"{bans}/{ban.json()['id']}")
    assert lifted.status_code == 200, lifted.text
    assert (await admin.post(url, json=PURCHASE)).status_code == 201


async def test_a_direct_marketing_ban_does_not_refuse_purchases(
    admin: Client, contact: dict[str, Any]
) -> None:
    bans = f"/api/v1/contacts/{contact['id']}/bans"
    ban = {"kind": "direct_marketing", "channel": "all", "source": "self"}
    assert (await admin.post(bans, json=ban)).status_code == 201
    assert (await admin.post(url_of(contact), json=PURCHASE)).status_code == 201


async def test_a_restricted_contact_records_nothing(
    admin: Client, contact: dict[str, Any], sessionmaker: SessionMaker, session: AsyncSession
) -> None:
    async with session_scope(sessionmaker) as db:
        await db.exec(
            update(Contact).where(col(Contact.id) == contact["id"]).values(restricted_at=utcnow())
        )
    body = {"kind": "service_contact", "occurred_on": "2026-01-21"}
    response = await admin.post(url_of(contact), json=body)
    assert response.status_code == 409, response.text
    assert response.json()["reason"] == "restricted"
    assert await stored(session) == 0
    assert await last_service_contact(admin, contact) == "2025-06-01"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"kind": "service_contact", "occurred_on": "2026-02-01"}, 422, "occurred_on"),
        ({"kind": "gift", "occurred_on": "2026-01-01"}, 422, "kind"),
        ({"kind": "purchase"}, 422, "occurred_on"),
        ({"kind": "purchase", "occurred_on": "2026-01-01", "details": "x"}, 422, "details"),
        (
            {"kind": "service_contact", "occurred_on": "2026-01-01", "details": {"a": 1}},
            422,
            "details",
        ),
        (
            {"kind": "purchase", "occurred_on": "2026-01-01", "details": {"x": "y" * 10_001}},
            422,
            "details",
        ),
        ({"kind": "purchase", "occurred_on": "2026-01-01", "note": "n" * 2001}, 422, "note"),
        ({"kind": "purchase", "occurred_on": "2026-01-01", "note": "a\x00b"}, 422, "note"),
        # Soft opt-in's evidence: only on a purchase, in its shape, and whole.
        ({**EVIDENCE, "kind": "service_contact"}, 422, "product_group"),
        ({**EVIDENCE, "kind": "contact_initiative"}, 422, "address_collected"),
        (
            {"kind": "service_contact", "occurred_on": "2026-01-01", "refusal_offered": True},
            422,
            "refusal_offered",
        ),
        ({**EVIDENCE, "product_group": None}, 422, "product_group"),
        ({**EVIDENCE, "product_group": ""}, 422, "product_group"),
        ({**EVIDENCE, "product_group": "   "}, 422, "product_group"),
        ({**EVIDENCE, "product_group": "g" * 101}, 422, "product_group"),
        ({**EVIDENCE, "product_group": "team\ncoaching"}, 422, "product_group"),
        ({**EVIDENCE, "product_group": "nul\x00"}, 422, "product_group"),
        ({**EVIDENCE, "product_group": ["coaching"]}, 422, "product_group"),
        ({**EVIDENCE, "address_collected": "perhaps"}, 422, "address_collected"),
        ({**EVIDENCE, "address_collected": False}, 422, "refusal_offered"),
        ({**EVIDENCE, "refusal_offered": None}, 422, "refusal_offered"),
    ],
)
async def test_bad_input_is_refused_and_changes_nothing(
    admin: Client,
    contact: dict[str, Any],
    session: AsyncSession,
    body: dict[str, Any],
    status: int,
    field: str,
) -> None:
    response = await admin.post(url_of(contact), json=body)
    assert response.status_code == status, response.text
    assert field in response.json()["fields"], response.json()
    assert await stored(session) == 0
    assert await last_service_contact(admin, contact) == "2025-06-01"


async def test_an_unknown_contact_is_404(admin: Client) -> None:
    url = "/api/v1/contacts/999/interactions"
    assert (await admin.post(url, json=PURCHASE)).status_code == 404
    assert (await admin.get(url)).status_code == 404


async def test_a_viewer_reads_but_does_not_record(
    client: Client, make_token: TokenFactory, admin: Client, contact: dict[str, Any]
) -> None:
    assert (await admin.post(url_of(contact), json=PURCHASE)).status_code == 201
    viewer = {"Authorization": f"Bearer {await make_token(Role.VIEWER)}"}
    assert len((await client.get(url_of(contact), headers=viewer)).json()) == 1
    refused = await client.post(url_of(contact), json=PURCHASE, headers=viewer)
    assert refused.status_code == 403
    marketer = {"Authorization": f"Bearer {await make_token(Role.MARKETER)}"}
    assert (await client.post(url_of(contact), json=PURCHASE, headers=marketer)).status_code == 201
