"""Objection (GDPR 21): to direct marketing absolute and at once; to other
processing recorded for one decision."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from service.crypto import DataCipher
from service.db import SessionMaker
from service.models import Ban, Objection, Suppression
from service.models.enums import RequestType
from tests.conftest import TEST_DATA_KEY
from tests.integration.rights.support import (
    Client,
    actions_of,
    add_contact,
    add_request,
    count,
)
from tests.support.factories import grant


async def test_an_objection_to_direct_marketing_is_upheld_at_once(
    admin: Client, sessionmaker: SessionMaker
) -> None:
    contact_id = await add_contact(admin, email="no.more@example.fi", phone="0405556667")
    url = f"/api/v1/contacts/{contact_id}"
    await grant(admin, contact_id)
    assert (await admin.get(f"{url}/eligibility")).json()["eligible"] is True
    request_id = await add_request(sessionmaker, RequestType.OBJECTION, contact_id=contact_id)

    response = await admin.post(
        f"{url}/objections",
        json={"scope": "direct_marketing", "method": "email", "request_id": request_id},
    )
    assert response.status_code == 201, response.text
    objection = response.json()
    assert objection["decision"] == "upheld" and objection["decided_at"]
    assert objection["request_id"] == request_id

    [ban] = (await admin.get(f"{url}/bans")).json()
    assert (ban["kind"], ban["channel"], ban["active"]) == ("direct_marketing", "all", True)
    assert ban["note"] == f"objection {objection['id']}"
    assert (await admin.get(url)).json()["objected"] is True
    for channel in ("email", "phone", "sms", "post"):
        eligibility = (await admin.get(f"{url}/eligibility", params={"channel": channel})).json()
        assert eligibility["eligible"] is False
        assert {"objected", "direct_marketing_ban"} <= set(eligibility["reasons"])
    cipher = DataCipher(TEST_DATA_KEY)
    async with sessionmaker() as session:
        rows = (await session.exec(select(Suppression))).all()
    assert {(row.value_hash, row.reason) for row in rows} == {
        (cipher.lookup_hash("email", "no.more@example.fi"), "objection"),
        (cipher.lookup_hash("phone", "+358405556667"), "objection"),
    }
    assert await actions_of(sessionmaker, request_id) == ["objection"]

    # A second objection is recorded too, without a second ban.
    again = await admin.post(f"{url}/objections", json={"scope": "direct_marketing"})
    assert again.status_code == 201
    assert len((await admin.get(f"{url}/bans")).json()) == 1
    assert len((await admin.get(f"{url}/objections")).json()) == 2
    # The objection's protection: the phone cannot come back under another record.
    other = await admin.post(
        "/api/v1/contacts",
        json={"full_name": "X", "email": "x@example.fi", "phone": "+358 40 555 6667"}
        | {"legal_basis": "consent", "source": "import"},
    )
    assert other.status_code == 409 and other.json()["reason"] == "suppressed"
    assert set(other.json()["fields"]) == {"phone"}


async def test_an_objection_to_other_processing_waits_for_one_decision(
    admin: Client, sessionmaker: SessionMaker
) -> None:
    contact_id = await add_contact(admin)
    url = f"/api/v1/contacts/{contact_id}"
    response = await admin.post(
        f"{url}/objections",
        json={"scope": "other_processing", "grounds": "My particular situation"},
    )
    assert response.status_code == 201, response.text
    objection = response.json()
    assert objection["decision"] == "pending" and objection["decided_at"] is None
    assert (await admin.get(url)).json()["objected"] is False
    assert await count(sessionmaker, Ban) == 0 and await count(sessionmaker, Suppression) == 0

    decide = f"{url}/objections/{objection['id']}"
    no_grounds = await admin.patch(decide, json={"decision": "rejected"})
    assert no_grounds.status_code == 422
    assert "compelling" in str(no_grounds.json()["fields"])
    pending = await admin.patch(decide, json={"decision": "pending"})
    assert pending.status_code == 422
    assert (await admin.get(f"{url}/objections")).json()[0]["decision"] == "pending"

    request_id = await add_request(sessionmaker, RequestType.OBJECTION, contact_id=contact_id)
    upheld = await admin.patch(decide, json={"decision": "upheld", "request_id": request_id})
    assert upheld.status_code == 200, upheld.text
    assert upheld.json()["decision"] == "upheld" and upheld.json()["decided_by_user_id"]
    assert (await admin.get(url)).json()["objected"] is True
    assert await actions_of(sessionmaker, request_id) == ["objection_decided"]

    twice = await admin.patch(decide, json={"decision": "rejected", "note": "Legal grounds"})
    assert twice.status_code == 409 and twice.json()["reason"] == "already_decided"
    missing = await admin.patch(f"{url}/objections/999999", json={"decision": "upheld"})
    assert missing.status_code == 404


async def test_a_rejected_objection_keeps_its_grounds(admin: Client) -> None:
    contact_id = await add_contact(admin)
    url = f"/api/v1/contacts/{contact_id}"
    objection = (await admin.post(f"{url}/objections", json={"scope": "other_processing"})).json()
    response = await admin.patch(
        f"{url}/objections/{objection['id']}",
        json={"decision": "rejected", "note": "Needed to defend a legal claim"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["decision_note"] == "Needed to defend a legal claim"
    assert (await admin.get(url)).json()["objected"] is False


@pytest.mark.parametrize(
    "body",
    [
        {"scope": "everything"},
        {},
        {"scope": "direct_marketing", "method": "carrier_pigeon"},
        {"scope": "direct_marketing", "grounds": ""},
        {"scope": "direct_marketing", "decision": "rejected"},
    ],
)
async def test_a_bad_objection_changes_nothing(
    admin: Client, sessionmaker: SessionMaker, body: dict[str, Any]
) -> None:
    contact_id = await add_contact(admin, phone="0401234567")
    response = await admin.post(f"/api/v1/contacts/{contact_id}/objections", json=body)
    assert response.status_code == 422, response.text
    for model in (Objection, Ban, Suppression):
        assert await count(sessionmaker, model) == 0
    assert (await admin.get(f"/api/v1/contacts/{contact_id}")).json()["objected"] is False


async def test_an_objection_under_a_wrong_request_changes_nothing(
    admin: Client, sessionmaker: SessionMaker
) -> None:
    contact_id = await add_contact(admin)
    erasure = await add_request(sessionmaker, RequestType.ERASURE, contact_id=contact_id)
    response = await admin.post(
        f"/api/v1/contacts/{contact_id}/objections",
        json={"scope": "direct_marketing", "request_id": erasure},
    )
    assert response.status_code == 422
    assert "objection" in response.json()["fields"]["request_id"]
    for model in (Objection, Ban, Suppression):
        assert await count(sessionmaker, model) == 0
