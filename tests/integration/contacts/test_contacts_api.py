"""Contacts through the HTTP API: create, validate, read, search, rectify."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.crypto import DataCipher
from service.models import Contact, Suppression
from tests.conftest import TEST_DATA_KEY
from tests.support.factories import contact_payload

Client = AsyncTestClient[Litestar]
HETU = "131052-308T"


async def test_create_returns_every_field_with_the_identity_code_masked(admin: Client) -> None:
    payload = contact_payload(
        nickname="Maikki",
        phone="040 123 4567",
        personal_identity_code=HETU,
        customer_number="C-1001",
        employer="Esimerkki Oy",
        education="KTM",
        position="Johtaja",
        street_address="Mannerheimintie 1",
        postal_code="00100",
        city="Helsinki",
        country="fi",
        language="sv",
        gender="female",
        contact_type="person",
        is_customer=True,
        last_service_contact_at="2026-01-15",
        tags=["VIP", "coaching", "vip"],
    )
    response = await admin.post("/api/v1/contacts", json=payload)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["personal_identity_code"] == "131052-****"
    assert body["phone"] == "+358401234567"
    assert body["country"] == "FI"
    assert body["tags"] == ["coaching", "vip"]
    assert body["language"] == "sv" and body["gender"] == "female"
    assert body["is_customer"] is True and body["last_service_contact_at"] == "2026-01-15"
    assert body["recorded_at"] and body["updated_at"] and isinstance(body["id"], int)
    assert HETU not in response.text


async def test_identity_code_is_encrypted_at_rest(admin: Client, session: AsyncSession) -> None:
    response = await admin.post(
        "/api/v1/contacts", json=contact_payload(personal_identity_code=HETU)
    )
    contact = await session.get(Contact, response.json()["id"])
    assert contact is not None and contact.identity_code_encrypted is not None
    stored = " ".join(str(value) for value in contact.model_dump().values())
    assert HETU not in stored and "131052" not in stored
    cipher = DataCipher(TEST_DATA_KEY)
    assert (
        cipher.decrypt(contact.identity_code_encrypted, context=b"contacts.identity_code") == HETU
    )
    assert contact.identity_code_hash == cipher.lookup_hash("identity_code", HETU)


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"full_name": "  "}, "full_name", "at least 1"),
        ({"full_name": "x" * 201}, "full_name", "at most 200"),
        ({"email": "no-at-sign"}, "email", "not a valid email"),
        ({"email": "Bob <bob@example.fi>"}, "email", "not a valid email"),
        ({"phone": "12"}, "phone", "not a valid phone"),
        ({"phone": "not a number"}, "phone", "not a valid phone"),
        ({"personal_identity_code": "131052-308U"}, "personal_identity_code", "check character"),
        ({"personal_identity_code": "310252-308T"}, "personal_identity_code", "date"),
        ({"personal_identity_code": "131052Q308T"}, "personal_identity_code", "century sign"),
        ({"personal_identity_code": "131052-001T"}, "personal_identity_code", "individual"),
        ({"personal_identity_code": "131052-308"}, "personal_identity_code", "not a valid"),
        ({"language": "de"}, "language", "'fi', 'sv' or 'en'"),
        ({"gender": "n/a"}, "gender", "female"),
        ({"contact_type": "robot"}, "contact_type", "person"),
        ({"legal_basis": "because"}, "legal_basis", "consent"),
        ({"source": "rumour"}, "source", "public_source"),
        ({"is_customer": "perhaps"}, "is_customer", "boolean"),
        ({"last_service_contact_at": "2026-02-30"}, "last_service_contact_at", "date"),
        ({"last_service_contact_at": "2999-01-01"}, "last_service_contact_at", "future"),
        ({"country": "Finland"}, "country", "two-letter"),
        ({"tags": ["ok", "not ok!"]}, "tags.1", "pattern"),
        ({"tags": [f"t{i}" for i in range(51)]}, "tags", "at most 50"),
        ({"favourite_colour": "blue"}, "favourite_colour", "Extra inputs"),
    ],
)
async def test_every_field_is_validated_and_a_bad_request_changes_nothing(
    admin: Client, overrides: dict[str, Any], field: str, words: str
) -> None:
    response = await admin.post("/api/v1/contacts", json=contact_payload(**overrides))
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["status_code"] == 422
    assert field in body["fields"], body
    assert words.lower() in body["fields"][field].lower(), body
    assert (await admin.get("/api/v1/contacts")).json()["total"] == 0


async def test_required_fields_are_named(admin: Client) -> None:
    response = await admin.post("/api/v1/contacts", json={})
    assert response.status_code == 422
    assert set(response.json()["fields"]) == {"full_name", "legal_basis", "source"}


async def test_a_rejected_identity_code_is_not_echoed(admin: Client) -> None:
    response = await admin.post(
        "/api/v1/contacts", json=contact_payload(personal_identity_code="131052-308U")
    )
    assert response.status_code == 422
    assert "131052" not in response.text


async def test_malformed_json_is_a_clear_400(admin: Client) -> None:
    response = await admin.post(
        "/api/v1/contacts", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]


@pytest.mark.parametrize(
    ("first", "second", "field"),
    [
        ({"email": "Sama@Example.fi"}, {"email": "sama@example.FI"}, "email"),
        (
            {"email": "a@example.fi", "personal_identity_code": HETU},
            {"email": "b@example.fi", "personal_identity_code": HETU.lower()},
            "personal_identity_code",
        ),
    ],
)
async def test_duplicates_are_a_409(
    admin: Client, first: dict[str, Any], second: dict[str, Any], field: str
) -> None:
    assert (await admin.post("/api/v1/contacts", json=contact_payload(**first))).status_code == 201
    response = await admin.post("/api/v1/contacts", json=contact_payload(**second))
    assert response.status_code == 409
    assert response.json()["reason"] == "duplicate"
    assert field in response.json()["fields"]
    assert (await admin.get("/api/v1/contacts")).json()["total"] == 1


async def test_century_sign_is_part_of_the_identity(admin: Client) -> None:
    # Since 2023, 010594Y308V and 010594-308V may be two different people.
    first = contact_payload(email="a@example.fi", personal_identity_code="010594-308V")
    response = await admin.post("/api/v1/contacts", json=first)
    assert response.status_code == 201, response.text
    second = contact_payload(email="b@example.fi", personal_identity_code="010594Y308V")
    response = await admin.post("/api/v1/contacts", json=second)
    assert response.status_code == 201, response.text
    assert response.json()["personal_identity_code"] == "010594Y****"


async def test_a_suppressed_address_cannot_be_registered(admin: Client, sessionmaker: Any) -> None:
    cipher = DataCipher(TEST_DATA_KEY)
    async with sessionmaker() as db:
        db.add(
            Suppression(
                value_hash=cipher.lookup_hash("email", "gone@example.fi"),
                kind="email",
                reason="erasure",
            )
        )
        await db.commit()
    response = await admin.post("/api/v1/contacts", json=contact_payload(email="GONE@example.fi"))
    assert response.status_code == 409
    assert response.json()["reason"] == "suppressed"
    assert (await admin.get("/api/v1/contacts")).json()["total"] == 0


async def test_get_and_404(admin: Client) -> None:
    created = (await admin.post("/api/v1/contacts", json=contact_payload())).json()
    response = await admin.get(f"/api/v1/contacts/{created['id']}")
    assert response.status_code == 200
    assert response.json() == created
    missing = await admin.get("/api/v1/contacts/999999")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "no contact with id 999999"


async def test_list_finds_by_email_and_text_and_pages(admin: Client) -> None:
    for index, name in enumerate(["Aino Virtanen", "Eino Virtanen", "Liisa Korhonen"]):
        payload = contact_payload(full_name=name, email=f"p{index}@example.fi")
        assert (await admin.post("/api/v1/contacts", json=payload)).status_code == 201
    by_email = (await admin.get("/api/v1/contacts", params={"email": "P1@Example.fi"})).json()
    assert [c["full_name"] for c in by_email["items"]] == ["Eino Virtanen"]
    by_text = (await admin.get("/api/v1/contacts", params={"q": "virtANEN"})).json()
    assert by_text["total"] == 2
    page = (await admin.get("/api/v1/contacts", params={"limit": 2, "offset": 2})).json()
    assert page["total"] == 3 and [c["full_name"] for c in page["items"]] == ["Liisa Korhonen"]
    # LIKE wildcards in the query are literal characters.
    assert (await admin.get("/api/v1/contacts", params={"q": "%"})).json()["total"] == 0
    bad = await admin.get("/api/v1/contacts", params={"email": "nope"})
    assert bad.status_code == 422 and "email" in bad.json()["fields"]


async def test_patch_rectifies_only_what_is_sent(admin: Client) -> None:
    created = (
        await admin.post(
            "/api/v1/contacts",
            json=contact_payload(nickname="Maikki", phone="0401234567", tags=["a"]),
        )
    ).json()
    url = f"/api/v1/contacts/{created['id']}"
    response = await admin.patch(
        url,
        json={
            "city": "Turku",
            "nickname": None,
            "personal_identity_code": HETU,
            "personal_identity_code_basis": "customer_identification",
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["city"] == "Turku" and body["nickname"] is None
    assert body["phone"] == "+358401234567" and body["tags"] == ["a"]
    assert body["personal_identity_code"] == "131052-****"
    assert body["updated_at"] >= created["updated_at"]
    tags = (await admin.patch(url, json={"tags": ["b", "c"]})).json()["tags"]
    assert tags == ["b", "c"]


async def test_patch_rejects_clearing_required_fields_and_duplicates(admin: Client) -> None:
    first = (await admin.post("/api/v1/contacts", json=contact_payload())).json()
    other = contact_payload(email="other@example.fi")
    second = (await admin.post("/api/v1/contacts", json=other)).json()
    url = f"/api/v1/contacts/{second['id']}"
    cleared = await admin.patch(url, json={"full_name": None, "source": None})
    assert cleared.status_code == 422
    assert set(cleared.json()["fields"]) == {"full_name", "source"}
    clash = await admin.patch(url, json={"email": first["email"], "city": "Oulu"})
    assert clash.status_code == 409
    after = (await admin.get(url)).json()
    assert after["email"] == "other@example.fi" and after["city"] is None
    assert (await admin.patch(url, json={"bogus": 1})).status_code == 422
    assert (await admin.patch("/api/v1/contacts/999999", json={})).status_code == 404


async def test_every_contact_records_source_basis_and_time(
    admin: Client, session: AsyncSession
) -> None:
    await admin.post(
        "/api/v1/contacts", json=contact_payload(source="employer", legal_basis="assignment")
    )
    contact = (await session.exec(select(Contact))).one()
    assert contact.source == "employer" and contact.legal_basis == "assignment"
    assert contact.recorded_at.tzinfo is not None
