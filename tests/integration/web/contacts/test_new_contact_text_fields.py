"""Issue 13 in the web form: a control character in a text field, or letters in a phone
number, is shown next to that field; nothing is stored; the value is not echoed in a
message."""

from __future__ import annotations

import pytest

from service.db import SessionMaker
from service.models import Contact
from service.models.enums import Role
from tests.integration.web.conftest import SignedIn, csrf
from tests.integration.web.contacts.conftest import count

FORM = {
    "full_name": "Maija Meikäläinen",
    "nickname": "Maikki",
    "email": "maija@example.fi",
    "customer_number": "C-1001",
    "employer": "Oy Esimerkki Ab",
    "education": "MSc",
    "position": "Buyer",
    "street_address": "Esimerkkikatu 1",
    "postal_code": "00100",
    "city": "Helsinki",
    "country": "FI",
    "legal_basis": "customer_relationship",
    "source": "self",
    "tags": "vip, news",
}
TEXT_FIELDS = [name for name in FORM if name not in {"legal_basis", "source"}]
MESSAGE = "must not contain line breaks or other control characters"


@pytest.mark.parametrize(
    "character", ["\x00", "\r\n", "\x85", "\u2028", "\u2029", "\x7f"], ids=repr
)
async def test_a_control_character_is_shown_next_to_its_field(
    signed_in: SignedIn, sessionmaker: SessionMaker, character: str
) -> None:
    browser = await signed_in(Role.MARKETER)
    form = await browser.get("/app/contacts/new")
    spoiled = {name: FORM[name][:1] + character + FORM[name][1:] for name in TEXT_FIELDS}
    refused = await browser.post(
        "/app/contacts/new", data={**FORM, **spoiled, "csrf_token": csrf(form)}
    )
    assert refused.status_code == 422
    for name in TEXT_FIELDS:
        assert f'id="contact-{name}-error">{MESSAGE}' in refused.text, name
    assert await count(sessionmaker, Contact) == 0


async def test_letters_in_a_phone_number_are_refused(
    signed_in: SignedIn, sessionmaker: SessionMaker
) -> None:
    browser = await signed_in(Role.MARKETER)
    form = await browser.get("/app/contacts/new")
    refused = await browser.post(
        "/app/contacts/new",
        data={**FORM, "phone": "+358 40 ABC 1234", "csrf_token": csrf(form)},
    )
    assert refused.status_code == 422
    assert 'id="contact-phone-error">not a valid phone number: letters are not allowed' in (
        refused.text
    )
    assert await count(sessionmaker, Contact) == 0


async def test_a_non_ascii_local_part_is_saved(
    signed_in: SignedIn, sessionmaker: SessionMaker
) -> None:
    browser = await signed_in(Role.MARKETER)
    form = await browser.get("/app/contacts/new")
    saved = await browser.post(
        "/app/contacts/new",
        data={**FORM, "email": "Åsa@Esimerkki.fi", "csrf_token": csrf(form)},
    )
    assert saved.status_code == 303, saved.text
    contact_id = int(saved.headers["location"].rsplit("/", 1)[1].split("?")[0])
    async with sessionmaker() as session:
        contact = await session.get(Contact, contact_id)
    assert contact is not None and contact.email == "åsa@esimerkki.fi"
