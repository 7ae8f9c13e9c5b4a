"""Issue 13: what cannot be delivered is refused at the door. Every text field of a
contact refuses control characters, on create and on PATCH, naming the field and never
echoing the value; a phone number with letters is refused; a non-ASCII local part is
accepted (it is delivered with SMTPUTF8, docs/web-contacts.md)."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.models import Contact, ContactTag
from tests.support.factories import contact_payload

Client = AsyncTestClient[Litestar]

# NUL, CRLF, NEL (C1), U+2028, U+2029 and DEL: each splits a header, a CSV record or a log line.
HOSTILE = ["\x00", "\r\n", "\x85", "\u2028", "\u2029", "\x7f"]
# A valid value for each text field, into which the hostile character is put.
VALID = {
    "full_name": "Maija Meikäläinen",
    "nickname": "Maikki",
    "email": "maija@example.fi",
    "phone": "040 123 4567",
    "personal_identity_code": "131052-308T",
    "customer_number": "C-1001",
    "employer": "Esimerkki Oy",
    "education": "KTM",
    "position": "Johtaja",
    "street_address": "Mannerheimintie 1",
    "postal_code": "00100",
    "city": "Helsinki",
    "country": "FI",
    "tags": "vip",
}
# A well-formed request with a bad field: 422, one message per field (service.app).
BAD_INPUT = {422}


def spoiled(field: str, character: str) -> Any:
    value = VALID[field]
    middle = len(value) // 2
    hostile = value[:middle] + character + value[middle:]
    return [hostile] if field == "tags" else hostile


def assert_refused(response: Any, field: str, character: str) -> None:
    assert response.status_code in BAD_INPUT, (field, repr(character), response.text)
    fields = response.json()["fields"]
    named = [key for key in fields if key.split(".")[0] == field]
    assert named, (field, fields)
    # The message says what is wrong with the field; it never repeats the value.
    assert fields[named[0]] == "must not contain line breaks or other control characters"
    assert character not in response.text


@pytest.mark.parametrize("character", HOSTILE, ids=repr)
async def test_every_text_field_refuses_the_character_on_create(
    admin: Client, session: AsyncSession, character: str
) -> None:
    for field in VALID:
        payload = contact_payload(**{field: spoiled(field, character)})
        assert_refused(await admin.post("/api/v1/contacts", json=payload), field, character)
    assert (await session.exec(select(Contact))).all() == []
    assert (await session.exec(select(ContactTag))).all() == []


@pytest.mark.parametrize("character", HOSTILE, ids=repr)
async def test_every_text_field_refuses_the_character_on_patch(
    admin: Client, session: AsyncSession, character: str
) -> None:
    created = await admin.post(
        "/api/v1/contacts", json=contact_payload(**{**VALID, "tags": ["vip"]})
    )
    assert created.status_code == 201, created.text
    url = f"/api/v1/contacts/{created.json()['id']}"
    before = (await admin.get(url)).json()
    for field in VALID:
        response = await admin.patch(url, json={field: spoiled(field, character)})
        assert_refused(response, field, character)
    assert (await admin.get(url)).json() == before


@pytest.mark.parametrize("character", ["\n", "\u2028", "\x00"], ids=repr)
async def test_a_trailing_control_character_is_refused_not_stripped(
    admin: Client, character: str
) -> None:
    response = await admin.post(
        "/api/v1/contacts", json=contact_payload(full_name="Maija" + character)
    )
    assert_refused(response, "full_name", character)


@pytest.mark.parametrize("phone", ["+358 40 ABC 1234", "040 123 4567x", "0800 FLOWERS"])
async def test_a_phone_number_with_letters_is_refused(
    admin: Client, session: AsyncSession, phone: str
) -> None:
    response = await admin.post("/api/v1/contacts", json=contact_payload(phone=phone))
    assert response.status_code in BAD_INPUT, response.text
    assert response.json()["fields"]["phone"].startswith("not a valid phone number")
    assert phone not in response.text
    assert (await session.exec(select(Contact))).all() == []


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("Käyttäjä@Example.fi", "käyttäjä@example.fi"),
        ("Åsa@esimerkki.fi", "åsa@esimerkki.fi"),
        ("bob@xn--bcher-kva.de", "bob@bücher.de"),
    ],
)
async def test_non_ascii_addresses_are_accepted_and_stored(
    admin: Client, session: AsyncSession, sent: str, stored: str
) -> None:
    response = await admin.post("/api/v1/contacts", json=contact_payload(email=sent))
    assert response.status_code == 201, response.text
    assert response.json()["email"] == stored
    contact = (await session.exec(select(Contact))).one()
    assert contact.email == stored
