"""Rectification (GDPR 16) and withdrawal (7(3)): recorded, linked to their request."""

from __future__ import annotations

from sqlmodel import col, select

from service.crypto import DataCipher
from service.db import SessionMaker
from service.models import ContactChange, RequestAction, Suppression
from service.models.enums import RequestStatus, RequestType
from tests.conftest import TEST_DATA_KEY
from tests.integration.rights.support import (
    GRANT_EMAIL,
    Client,
    actions_of,
    add_contact,
    add_request,
    count,
)

HETU = "131052-308T"


async def changes(sessionmaker: SessionMaker) -> list[ContactChange]:
    async with sessionmaker() as session:
        query = select(ContactChange).order_by(col(ContactChange.id))
        return list((await session.exec(query)).all())


async def suppress(sessionmaker: SessionMaker, kind: str, value: str, reason: str) -> None:
    digest = DataCipher(TEST_DATA_KEY).lookup_hash(kind, value)
    async with sessionmaker() as session:
        session.add(Suppression(value_hash=digest, kind=kind, reason=reason))
        await session.commit()


async def test_a_rectification_records_field_names_only(
    admin: Client, sessionmaker: SessionMaker
) -> None:
    contact_id = await add_contact(admin, city="Oulu", tags=["a"])
    url = f"/api/v1/contacts/{contact_id}"
    request_id = await add_request(sessionmaker, RequestType.RECTIFICATION, contact_id=contact_id)
    response = await admin.patch(
        f"{url}?request_id={request_id}",
        json={
            "city": "Turku",
            "nickname": None,  # already empty: no change
            "tags": ["a"],  # the same set: no change
            "personal_identity_code": HETU,
            "personal_identity_code_basis": "customer_identification",
            "street_address": "Hämeenkatu 1",
        },
    )
    assert response.status_code == 200, response.text
    [change] = await changes(sessionmaker)
    assert change.fields == [
        "city",
        "personal_identity_code",
        "personal_identity_code_basis",
        "street_address",
    ]
    assert change.request_id == request_id and change.changed_by_user_id is not None
    assert await actions_of(sessionmaker, request_id) == ["rectification"]
    # Nothing of the new or old values is kept in the record of the change.
    assert not {"Turku", "Oulu", HETU, "Hämeenkatu 1"} & set(change.fields)

    nothing = await admin.patch(url, json={"city": "Turku"})
    assert nothing.status_code == 200
    assert len(await changes(sessionmaker)) == 1  # no change, no record
    await admin.patch(url, json={"tags": ["b"]})
    assert (await changes(sessionmaker))[-1].fields == ["tags"]
    assert (await changes(sessionmaker))[-1].request_id is None


async def test_a_closed_or_unknown_request_refuses_the_whole_rectification(
    admin: Client, sessionmaker: SessionMaker
) -> None:
    contact_id = await add_contact(admin, city="Oulu")
    url = f"/api/v1/contacts/{contact_id}"
    closed = await add_request(
        sessionmaker, RequestType.RECTIFICATION, contact_id=contact_id, status=RequestStatus.DONE
    )
    for request_id in (closed, 999_999):
        response = await admin.patch(f"{url}?request_id={request_id}", json={"city": "Turku"})
        assert response.status_code == 422, response.text
        assert "request_id" in response.json()["fields"]
    assert (await admin.get(url)).json()["city"] == "Oulu"
    assert await count(sessionmaker, ContactChange) == 0
    assert await count(sessionmaker, RequestAction) == 0


async def test_a_contact_whose_own_address_is_suppressed_can_still_be_rectified(
    admin: Client, sessionmaker: SessionMaker
) -> None:
    contact_id = await add_contact(admin, email="bounced@example.fi", phone="0409998887")
    await suppress(sessionmaker, "email", "bounced@example.fi", "bounce")
    await suppress(sessionmaker, "phone", "+358409998887", "objection")
    url = f"/api/v1/contacts/{contact_id}"
    response = await admin.patch(url, json={"city": "Tampere"})
    assert response.status_code == 200, response.text
    assert response.json()["city"] == "Tampere"
    # Re-sending their own address unchanged is no new address either.
    same = await admin.patch(url, json={"email": "Bounced@Example.fi", "phone": "040 999 8887"})
    assert same.status_code == 200, same.text

    # A NEW address on the list is still refused, and nothing changes.
    await suppress(sessionmaker, "email", "gone@example.fi", "erasure")
    refused = await admin.patch(url, json={"email": "gone@example.fi", "city": "Espoo"})
    assert refused.status_code == 409 and refused.json()["reason"] == "suppressed"
    assert set(refused.json()["fields"]) == {"email"}
    after = (await admin.get(url)).json()
    assert after["email"] == "bounced@example.fi" and after["city"] == "Tampere"


async def test_a_withdrawal_answers_its_request(admin: Client, sessionmaker: SessionMaker) -> None:
    contact_id = await add_contact(admin)
    url = f"/api/v1/contacts/{contact_id}/consents"
    await admin.post(url, json=GRANT_EMAIL)
    request_id = await add_request(sessionmaker, RequestType.WITHDRAWAL, contact_id=contact_id)
    withdraw = {k: v for k, v in GRANT_EMAIL.items() if k != "evidence"} | {"action": "withdraw"}

    grant = await admin.post(f"{url}?request_id={request_id}", json=GRANT_EMAIL)
    assert grant.status_code == 422 and "request_id" in grant.json()["fields"]
    wrong = await add_request(sessionmaker, RequestType.ACCESS, contact_id=contact_id)
    assert (await admin.post(f"{url}?request_id={wrong}", json=withdraw)).status_code == 422
    assert len((await admin.get(url)).json()["history"]) == 1

    response = await admin.post(f"{url}?request_id={request_id}", json=withdraw)
    assert response.status_code == 201, response.text
    assert response.json()["current"][0]["state"] == "withdraw"
    assert await actions_of(sessionmaker, request_id) == ["withdrawal"]
