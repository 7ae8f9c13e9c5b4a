"""The gate's inputs carry evidence and the right hands (issue 17, items 1
and 4): who may change legal_basis, contact_type and is_customer, lift a
direct-marketing ban, and set, see or search by an identity code."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service import clock
from service.db import SessionMaker
from service.models import Contact
from service.models.enums import Role
from tests.conftest import TokenFactory
from tests.integration.audit.support import as_role, trail
from tests.support.factories import add_contact, ban, contact_payload, grant

Client = AsyncTestClient[Litestar]
HETU = "131052-308T"
REASON = "the signed customer contract of 2026-11-02"
URL = "/api/v1/contacts"


@pytest.mark.parametrize(
    "body",
    [
        {"legal_basis": "consent"},
        {"contact_type": "business", "employer": "Oy Ab", "position": "CEO"},
        {"is_customer": False},
        # Whatever else the body holds: the role is checked first.
        {"legal_basis": "no such basis", "email": "not an address", "reason": REASON},
        {"is_customer": "yes please", "unknown_field": 1},
    ],
    ids=["legal_basis", "contact_type", "is_customer", "invalid-rest", "invalid-flag"],
)
async def test_a_marketer_cannot_change_a_gate_input(
    admin: Client, make_token: TokenFactory, sessionmaker: SessionMaker, body: dict[str, Any]
) -> None:
    contact_id = await add_contact(admin, is_customer=True)
    marketer = await as_role(make_token, Role.MARKETER)
    response = await admin.patch(f"{URL}/{contact_id}", json=body, headers=marketer)
    assert response.status_code == 403, response.text
    assert (await trail(sessionmaker))[-1].details["permission"] == "contacts:write_gate_inputs"
    stored = (await admin.get(f"{URL}/{contact_id}")).json()
    assert (stored["legal_basis"], stored["contact_type"], stored["is_customer"]) == (
        "customer_relationship",
        "person",
        True,
    )


async def test_a_marketer_may_send_a_gate_input_unchanged_and_create_with_any(
    admin: Client, make_token: TokenFactory
) -> None:
    marketer = await as_role(make_token, Role.MARKETER)
    created = await admin.post(
        URL,
        json=contact_payload(legal_basis="consent", is_customer=True, contact_type="business"),
        headers=marketer,
    )
    assert created.status_code == 201, created.text
    same = await admin.patch(
        f"{URL}/{created.json()['id']}",
        json={"legal_basis": "consent", "is_customer": True, "city": "Oulu"},
        headers=marketer,
    )
    assert same.status_code == 200, same.text


async def test_a_privacy_officer_changes_a_gate_input_with_a_reason_audited(
    admin: Client, make_token: TokenFactory, sessionmaker: SessionMaker
) -> None:
    contact_id = await add_contact(admin)
    officer = await as_role(make_token, Role.PRIVACY_OFFICER)
    body = {"legal_basis": "consent", "is_customer": True}
    missing = await admin.patch(f"{URL}/{contact_id}", json=body, headers=officer)
    assert missing.status_code == 422, missing.text
    assert "reason" in missing.json()["fields"]
    changed = await admin.patch(
        f"{URL}/{contact_id}", json={**body, "reason": REASON}, headers=officer
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["legal_basis"] == "consent" and changed.json()["is_customer"] is True
    row = (await trail(sessionmaker))[-1]
    assert row.reason == REASON and row.contact_id == contact_id
    assert row.details["legal_basis_before"] == "customer_relationship"
    assert row.details["legal_basis_after"] == "consent"
    assert row.details["is_customer_before"] is False
    assert row.details["is_customer_after"] is True
    assert "contact_type_before" not in row.details


async def test_a_direct_marketing_ban_lifts_only_on_the_persons_new_act(
    admin: Client, make_token: TokenFactory, sessionmaker: SessionMaker, frozen_clock: Any
) -> None:
    contact_id = await add_contact(admin, consent=("direct_marketing",))
    banned = await ban(admin, contact_id, channel="all")
    lift = f"{URL}/{contact_id}/bans/{banned}"
    marketer = await as_role(make_token, Role.MARKETER)
    officer = await as_role(make_token, Role.PRIVACY_OFFICER)
    # A marketer: 403 whatever the request holds, on both routes.
    for response in (
        await admin.delete(lift, params={"consent_event_id": "nonsense"}, headers=marketer),
        await admin.post(f"{lift}/lift", json={"bogus": [1]}, headers=marketer),
    ):
        assert response.status_code == 403, response.text
    # No evidence: 422. The grant recorded before the ban does not count: 409.
    bare = await admin.delete(lift, params={"reason": REASON}, headers=officer)
    assert bare.status_code == 422 and "consent_event_id" in bare.json()["fields"]
    ledger = (await admin.get(f"{URL}/{contact_id}/consents")).json()
    old = ledger["history"][-1]["id"]
    stale = await admin.post(
        f"{lift}/lift", json={"consent_event_id": old, "reason": REASON}, headers=officer
    )
    assert stale.status_code == 409 and stale.json()["reason"] == "no_persons_act"
    eligibility = f"{URL}/{contact_id}/eligibility"
    assert (await admin.get(eligibility)).json()["reasons"] == ["direct_marketing_ban"]

    frozen_clock.advance(minutes=10)
    new = (await grant(admin, contact_id))["history"][-1]["id"]
    no_reason = await admin.post(f"{lift}/lift", json={"consent_event_id": new}, headers=officer)
    assert no_reason.status_code == 422 and "reason" in no_reason.json()["fields"]
    lifted = await admin.post(
        f"{lift}/lift", json={"consent_event_id": new, "reason": REASON}, headers=officer
    )
    assert lifted.status_code == 200, lifted.text
    body = lifted.json()
    assert body["active"] is False and body["lift_consent_event_id"] == new
    assert body["lift_note"] == REASON
    assert (await admin.get(eligibility)).json() == {"eligible": True, "reasons": []}
    [row] = [row for row in await trail(sessionmaker) if row.action == "ban.lift"]
    assert row.status_code == 200 and row.details["consent_event_id"] == new
    assert row.reason == REASON


async def test_a_ban_lifts_on_the_persons_request(admin: Client, frozen_clock: Any) -> None:
    contact_id = await add_contact(admin, consent=("direct_marketing",))
    banned = await ban(admin, contact_id, channel="email")
    frozen_clock.advance(days=1)
    request = await admin.post(
        "/api/v1/requests",
        json={
            "type": "withdrawal",
            "channel": "email",
            "received_on": clock.today().isoformat(),
            "contact_id": contact_id,
            "description": "Please send me offers by email again.",
        },
    )
    assert request.status_code == 201, request.text
    lifted = await admin.delete(
        f"{URL}/{contact_id}/bans/{banned}",
        params={"request_id": request.json()["id"], "reason": REASON},
    )
    assert lifted.status_code == 200, lifted.text
    assert lifted.json()["lift_request_id"] == request.json()["id"]
    eligibility = (await admin.get(f"{URL}/{contact_id}/eligibility")).json()
    assert eligibility == {"eligible": True, "reasons": []}


async def test_a_business_contact_needs_its_role(admin: Client, sessionmaker: SessionMaker) -> None:
    refused = await admin.post(
        URL, json={**contact_payload(contact_type="business"), "employer": None, "position": None}
    )
    assert refused.status_code == 422, refused.text
    assert set(refused.json()["fields"]) == {"employer", "position"}
    contact_id = await add_contact(admin, contact_type="business", phone="0401234567")
    cleared = await admin.patch(f"{URL}/{contact_id}", json={"position": None})
    assert cleared.status_code == 422 and "position" in cleared.json()["fields"]
    eligibility = f"{URL}/{contact_id}/eligibility"
    assert (await admin.get(eligibility)).json()["reasons"] == []
    # A row stored before the rule (or put in by hand): treated as a person.
    async with sessionmaker() as session:
        contact = await session.get(Contact, contact_id)
        assert contact is not None
        contact.employer = None
        session.add(contact)
        await session.commit()
    assert (await admin.get(eligibility)).json()["reasons"] == ["no_business_role"]
    assert (await admin.get(eligibility, params={"channel": "phone"})).json()["reasons"] == []
    listed = await admin.get(URL, params={"reason": "no_business_role"})
    assert [c["id"] for c in listed.json()["items"]] == [contact_id]
    await grant(admin, contact_id)
    assert (await admin.get(eligibility)).json()["reasons"] == []


async def test_the_soft_opt_in_reasons_are_list_filters(admin: Client) -> None:
    contact_id = await add_contact(admin, is_customer=True)
    listed = await admin.get(URL, params={"reason": "no_purchase_record"})
    assert listed.status_code == 200, listed.text
    assert [c["id"] for c in listed.json()["items"]] == [contact_id]


async def test_an_identity_code_needs_a_basis(admin: Client) -> None:
    payload = {**contact_payload(), "personal_identity_code": HETU}
    refused = await admin.post(URL, json=payload)
    assert refused.status_code == 422
    assert "personal_identity_code_basis" in refused.json()["fields"]
    marketing = await admin.post(
        URL,
        json={
            **payload,
            "legal_basis": "consent",
            "personal_identity_code_basis": "customer_identification",
        },
    )
    assert marketing.status_code == 422
    assert "marketing-only" in marketing.json()["fields"]["personal_identity_code_basis"]
    created = await admin.post(URL, json={**payload, "personal_identity_code_basis": "law"})
    assert created.status_code == 201, created.text
    assert created.json()["personal_identity_code_basis"] == "law"
    url = f"{URL}/{created.json()['id']}"
    cleared = await admin.patch(url, json={"personal_identity_code": None})
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["personal_identity_code"] is None
    assert cleared.json()["personal_identity_code_basis"] is None


@pytest.mark.parametrize("role", [Role.MARKETER, Role.VIEWER])
async def test_a_role_without_the_permission_sees_no_part_of_the_code(
    admin: Client, make_token: TokenFactory, role: Role
) -> None:
    contact_id = await add_contact(admin, email="koodi@example.fi", personal_identity_code=HETU)
    headers = await as_role(make_token, role)
    one = (await admin.get(f"{URL}/{contact_id}", headers=headers)).json()
    assert one["personal_identity_code"] is None
    assert one["personal_identity_code_basis"] is None
    listed = await admin.get(URL, params={"q": "koodi"}, headers=headers)
    [item] = listed.json()["items"]
    assert item["personal_identity_code"] is None and "131052" not in listed.text
    # Searching by the code finds nothing.
    for q in (HETU, "131052"):
        found = await admin.get(URL, params={"q": q}, headers=headers)
        assert found.json()["total"] == 0
    # Admin (with the permission) keeps the masked view.
    assert (await admin.get(f"{URL}/{contact_id}")).json()["personal_identity_code"] == (
        "131052-****"
    )


async def test_a_marketer_cannot_set_a_code_and_is_not_told_one_exists(
    admin: Client, make_token: TokenFactory
) -> None:
    await add_contact(admin, email="first@example.fi", personal_identity_code=HETU)
    second = await add_contact(admin, email="second@example.fi")
    marketer = await as_role(make_token, Role.MARKETER)
    attempts = [
        await admin.post(
            URL,
            json={**contact_payload(email="third@example.fi"), "personal_identity_code": HETU},
            headers=marketer,
        ),
        await admin.patch(
            f"{URL}/{second}", json={"personal_identity_code": HETU}, headers=marketer
        ),
        await admin.patch(
            f"{URL}/{second}", json={"personal_identity_code_basis": "law"}, headers=marketer
        ),
        # Invalid otherwise too: still 403, the role is checked first.
        await admin.patch(
            f"{URL}/{second}",
            json={"personal_identity_code": "bogus", "email": "bad"},
            headers=marketer,
        ),
    ]
    for response in attempts:
        assert response.status_code == 403, response.text
        assert "already" not in response.text and "identity code" not in response.text
    # An admin is told of the clash, as before.
    clash = await admin.patch(
        f"{URL}/{second}",
        json={"personal_identity_code": HETU, "personal_identity_code_basis": "law"},
    )
    assert clash.status_code == 409
