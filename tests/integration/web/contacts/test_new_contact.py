"""``/app/contacts/new``: every field the API takes, validated by the API's
own schema and service, errors next to their fields, nothing stored on an error."""

from __future__ import annotations

from sqlmodel import select

from service.db import SessionMaker
from service.models import Contact, ContactTag
from service.models.enums import Role
from tests.integration.web.conftest import SignedIn, csrf
from tests.integration.web.contacts.conftest import HETU, IDENTITY_CODE, Client, audit_rows, count
from tests.support.factories import add_contact

EVERY_FIELD = {
    "full_name": "Maija Meikäläinen",
    "nickname": "Maikki",
    "email": "Maija@Example.fi",
    "phone": "040 123 4567",
    "personal_identity_code": HETU,
    "personal_identity_code_basis": "customer_identification",
    "customer_number": "C-1001",
    "employer": "Oy Esimerkki Ab",
    "education": "MSc",
    "position": "Buyer",
    "street_address": "Esimerkkikatu 1",
    "postal_code": "00100",
    "city": "Helsinki",
    "country": "fi",
    "language": "sv",
    "gender": "female",
    "contact_type": "person",
    "legal_basis": "customer_relationship",
    "source": "self",
    "is_customer": "yes",
    "last_service_contact_at": "2025-05-02",
    "tags": "VIP, newsletter vip",
}


async def test_a_contact_with_every_field(signed_in: SignedIn, sessionmaker: SessionMaker) -> None:
    # Every field includes the identity code: a role that may read codes (issue 17).
    browser = await signed_in(Role.PRIVACY_OFFICER)
    form = await browser.get("/app/contacts/new")
    assert form.status_code == 200
    for name in EVERY_FIELD:
        assert f'name="{name}"' in form.text, name
        assert f'for="contact-{name}"' in form.text, name  # every input has its label
    saved = await browser.post("/app/contacts/new", data={**EVERY_FIELD, "csrf_token": csrf(form)})
    assert saved.status_code == 303
    assert saved.headers["location"].endswith("?done=created")
    async with sessionmaker() as session:
        contact = (await session.exec(select(Contact))).one()
        tags = (await session.exec(select(ContactTag.tag).order_by(ContactTag.tag))).all()
    assert saved.headers["location"] == f"/app/contacts/{contact.id}?done=created"
    assert contact.email == "maija@example.fi"
    assert contact.phone == "+358401234567"
    assert contact.country == "FI"
    assert contact.language == "sv"
    assert contact.is_customer is True
    assert contact.last_service_contact_at is not None
    assert contact.identity_code_encrypted is not None
    assert list(tags) == ["newsletter", "vip"]
    created = await audit_rows(sessionmaker, "contact.create")
    assert [row.contact_id for row in created] == [contact.id]
    page = await browser.get(saved.headers["location"])
    assert '<p class="notice" role="status">Contact created.</p>' in page.text
    assert "Maikki" in page.text


async def test_a_bad_field_is_shown_next_to_it_and_nothing_is_stored(
    signed_in: SignedIn, sessionmaker: SessionMaker
) -> None:
    browser = await signed_in(Role.ADMIN)
    form = await browser.get("/app/contacts/new")
    bad = {
        **EVERY_FIELD,
        "email": "not an address",
        "personal_identity_code": "131052-308X",  # wrong check character
        "country": "Finland",
        "csrf_token": csrf(form),
    }
    del bad["legal_basis"]
    refused = await browser.post("/app/contacts/new", data=bad)
    assert refused.status_code == 422
    assert 'id="contact-email-error">not a valid email address' in refused.text
    assert 'id="contact-personal_identity_code-error">not a valid identity code' in refused.text
    assert 'id="contact-country-error">must be a two-letter' in refused.text
    assert 'id="contact-legal_basis-error">required' in refused.text
    assert 'aria-describedby="contact-email-error" aria-invalid="true"' in refused.text
    # What was typed comes back, except the identity code (never echoed).
    assert 'value="Maija Meikäläinen"' in refused.text
    assert not IDENTITY_CODE.search(refused.text)
    assert "131052" not in refused.text
    assert await count(sessionmaker, Contact) == 0
    assert await audit_rows(sessionmaker, "contact.create") == []


async def test_a_registered_email_is_a_conflict(
    admin: Client, signed_in: SignedIn, sessionmaker: SessionMaker
) -> None:
    await add_contact(admin, email="taken@example.fi")
    browser = await signed_in(Role.MARKETER)
    form = await browser.get("/app/contacts/new")
    refused = await browser.post(
        "/app/contacts/new",
        data={
            "full_name": "Someone Else",
            "email": "taken@example.fi",
            "legal_basis": "consent",
            "source": "self",
            "csrf_token": csrf(form),
        },
    )
    assert refused.status_code == 409
    assert "another contact already has this email" in refused.text
    assert 'id="contact-email-error">already registered' in refused.text
    assert await count(sessionmaker, Contact) == 1


async def test_without_the_form_token_nothing_is_created(
    signed_in: SignedIn, sessionmaker: SessionMaker
) -> None:
    browser = await signed_in(Role.ADMIN)
    refused = await browser.post("/app/contacts/new", data=EVERY_FIELD)
    assert refused.status_code == 403
    assert await count(sessionmaker, Contact) == 0
    assert await audit_rows(sessionmaker, "contact.create") == []


async def test_a_marketer_has_no_identity_code_field_and_cannot_post_one(
    signed_in: SignedIn, sessionmaker: SessionMaker
) -> None:
    browser = await signed_in(Role.MARKETER)
    form = await browser.get("/app/contacts/new")
    assert 'name="personal_identity_code' not in form.text
    refused = await browser.post(
        "/app/contacts/new", data={**EVERY_FIELD, "csrf_token": csrf(form)}
    )
    assert refused.status_code == 403
    assert "may not record identity codes" in refused.text
    assert await count(sessionmaker, Contact) == 0
