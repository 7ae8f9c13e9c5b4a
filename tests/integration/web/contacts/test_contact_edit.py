"""``/app/contacts/{id}/edit``: rectifying a contact in the browser follows
``PATCH /api/v1/contacts/{id}``: the same validation, the same evidence rules
(a business contact's employer and position, the identity code's basis), the
same guard on gate inputs (403 whatever else the form holds, a reason to
change one) and the same change record; a refused save changes nothing and
shows what was typed, each error next to its field."""

from __future__ import annotations

import html
import re

import httpx
import pytest
from sqlmodel import col, select

from service.db import SessionMaker
from service.models import AuditEvent, Contact, ContactChange
from service.models.enums import Role
from tests.integration.web.conftest import SignedIn, csrf
from tests.integration.web.contacts.conftest import HETU, IDENTITY_CODE, Client, audit_rows
from tests.support.factories import add_contact


async def _edit(browser: Client, contact_id: int, **changes: str) -> httpx.Response:
    """Post the edit form as a browser does: every field it shows, as shown,
    with ``changes`` typed over them."""
    form_page = await browser.get(f"/app/contacts/{contact_id}/edit")
    assert form_page.status_code == 200, form_page.text
    return await browser.post(
        f"/app/contacts/{contact_id}/edit",
        data={**_fields(form_page.text), **changes, "csrf_token": csrf(form_page)},
    )


def _fields(text: str) -> dict[str, str]:
    """The values a browser would send from the edit form as it stands."""
    form = text[text.index('class="edit-contact"') :]
    values: dict[str, str] = {}
    for tag in re.findall(r"<input [^>]*>", form):
        name = re.search(r'name="([^"]+)"', tag)
        if name is None or name.group(1) == "csrf_token":
            continue
        kind = re.search(r'type="([^"]+)"', tag)
        if kind is not None and kind.group(1) == "checkbox":
            if " checked" in tag:
                values[name.group(1)] = "yes"
            continue
        value = re.search(r'value="([^"]*)"', tag)
        values[name.group(1)] = html.unescape(value.group(1)) if value else ""
    for name, options in re.findall(r'<select [^>]*name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', options)
        values[name] = chosen.group(1) if chosen else ""
    for name, text in re.findall(r'<textarea [^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', form):
        values[name] = html.unescape(text)
    return values


async def _contact(sessionmaker: SessionMaker, contact_id: int) -> Contact:
    async with sessionmaker() as session:
        return (await session.exec(select(Contact).where(Contact.id == contact_id))).one()


async def test_an_edit_changes_the_fields_and_records_which(
    admin: Client, signed_in: SignedIn, sessionmaker: SessionMaker
) -> None:
    contact_id = await add_contact(admin, phone="040 123 4567", tags=["vip"])
    browser = await signed_in(Role.MARKETER)
    page = await browser.get(f"/app/contacts/{contact_id}/edit")
    assert page.status_code == 200
    assert 'value="Maija Meikäläinen"' in page.text and 'value="+358401234567"' in page.text

    saved = await _edit(
        browser, contact_id, full_name="Maija Virtanen", city="Tampere", nickname="", tags="vip b2b"
    )
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == f"/app/contacts/{contact_id}?done=updated"
    shown = await browser.get(saved.headers["location"])
    assert "Contact updated." in shown.text and "Maija Virtanen" in shown.text
    stored = await _contact(sessionmaker, contact_id)
    assert (stored.full_name, stored.city) == ("Maija Virtanen", "Tampere")
    assert stored.phone == "+358401234567"
    async with sessionmaker() as session:
        change = (await session.exec(select(ContactChange))).one()
    # Only the fields that changed, by name; the phone, shown as stored, did not.
    assert change.fields == ["city", "full_name", "tags"]
    [row] = await audit_rows(sessionmaker, "contact.update")
    assert row.contact_id == contact_id and row.actor_user_id is not None

    again = await _edit(browser, contact_id)
    assert again.headers["location"] == f"/app/contacts/{contact_id}?done=unchanged"


async def test_a_bad_field_is_shown_next_to_it_and_nothing_changes(
    admin: Client, signed_in: SignedIn, sessionmaker: SessionMaker
) -> None:
    contact_id = await add_contact(admin)
    browser = await signed_in(Role.ADMIN)
    refused = await _edit(
        browser, contact_id, city="Turku", email="not an address", country="Finland"
    )
    assert refused.status_code == 422
    shown = refused.text
    assert 'id="contact-email-error"' in shown and 'id="contact-country-error"' in shown
    assert re.search(r'id="contact-email"[^>]*aria-describedby="[^"]*contact-email-error', shown)
    # What was typed stays in the form.
    assert 'value="Turku"' in shown and 'value="not an address"' in shown
    assert (await _contact(sessionmaker, contact_id)).city is None

    empty = await _edit(browser, contact_id, full_name="")
    assert empty.status_code == 422 and 'id="contact-full_name-error"' in empty.text
    assert (await _contact(sessionmaker, contact_id)).full_name == "Maija Meikäläinen"


async def test_a_business_contact_needs_employer_and_position(
    admin: Client, signed_in: SignedIn, sessionmaker: SessionMaker
) -> None:
    contact_id = await add_contact(admin, contact_type="business")
    browser = await signed_in(Role.MARKETER)
    refused = await _edit(browser, contact_id, employer="", position="")
    assert refused.status_code == 422
    assert 'id="contact-employer-error"' in refused.text
    assert 'id="contact-position-error"' in refused.text
    assert (await _contact(sessionmaker, contact_id)).employer == "Esimerkki Oy"


async def test_gate_inputs_are_for_their_roles_and_need_a_reason(
    admin: Client, signed_in: SignedIn, sessionmaker: SessionMaker
) -> None:
    contact_id = await add_contact(admin)
    marketer = await signed_in(Role.MARKETER)
    page = (await marketer.get(f"/app/contacts/{contact_id}/edit")).text
    assert 'name="legal_basis"' not in page and 'name="is_customer"' not in page
    assert 'name="contact_type"' not in page and 'name="reason"' not in page
    # A forged form: 403 whatever else it holds, recorded, nothing changed.
    for forged in (
        {"legal_basis": "consent"},
        {"is_customer": "yes", "city": "Oulu"},
        {"contact_type": "business", "employer": "X", "position": "Y"},
        {"legal_basis": "no such basis", "reason": "because I say so"},
    ):
        answer = await _edit(marketer, contact_id, **forged)
        assert answer.status_code == 403, forged
    stored = await _contact(sessionmaker, contact_id)
    assert (stored.legal_basis, stored.is_customer, stored.city) == (
        "customer_relationship",
        False,
        None,
    )
    assert len(await audit_rows(sessionmaker, "permission.denied")) == 4

    officer = await signed_in(Role.PRIVACY_OFFICER)
    page = (await officer.get(f"/app/contacts/{contact_id}/edit")).text
    assert 'name="legal_basis"' in page and 'name="reason"' in page
    bare = await _edit(officer, contact_id, legal_basis="consent", is_customer="yes")
    assert bare.status_code == 422 and 'id="contact-reason-error"' in bare.text
    assert 'value="yes" checked' in bare.text  # the ticked box stays ticked
    assert (await _contact(sessionmaker, contact_id)).legal_basis == "customer_relationship"
    short = await _edit(officer, contact_id, legal_basis="consent", reason="no")
    assert short.status_code == 422 and 'id="contact-reason-error"' in short.text

    done = await _edit(
        officer, contact_id, legal_basis="consent", reason="The customer relationship ended"
    )
    assert done.status_code == 303, done.text
    assert (await _contact(sessionmaker, contact_id)).legal_basis == "consent"
    [row] = await audit_rows(sessionmaker, "contact.update")
    assert row.reason == "The customer relationship ended"
    assert row.details["legal_basis_before"] == "customer_relationship"
    assert row.details["legal_basis_after"] == "consent"


async def test_the_identity_code_is_never_prefilled_and_can_be_cleared(
    admin: Client, signed_in: SignedIn, sessionmaker: SessionMaker
) -> None:
    contact_id = await add_contact(admin, personal_identity_code=HETU)
    officer = await signed_in(Role.PRIVACY_OFFICER)
    page = (await officer.get(f"/app/contacts/{contact_id}/edit")).text
    assert IDENTITY_CODE.search(page) is None and "131052-****" in page
    assert 'name="clear_identity_code"' in page

    # Left empty: unchanged, even while other fields change.
    assert (await _edit(officer, contact_id, city="Espoo")).status_code == 303
    assert (await _contact(sessionmaker, contact_id)).identity_code_hash is not None
    # A bad code comes back with its error, and is not put back into the form.
    bad = await _edit(officer, contact_id, personal_identity_code="131052-308X", city="Vantaa")
    assert bad.status_code == 422 and 'id="contact-personal_identity_code-error"' in bad.text
    assert "131052-308X" not in bad.text and 'value="Vantaa"' in bad.text

    marketer = await signed_in(Role.MARKETER)
    page = (await marketer.get(f"/app/contacts/{contact_id}/edit")).text
    assert "personal_identity_code" not in page and "131052" not in page
    forged = await _edit(marketer, contact_id, clear_identity_code="yes")
    assert forged.status_code == 403
    assert (await _contact(sessionmaker, contact_id)).identity_code_hash is not None

    cleared = await _edit(officer, contact_id, clear_identity_code="yes")
    assert cleared.status_code == 303, cleared.text
    stored = await _contact(sessionmaker, contact_id)
    assert stored.identity_code_hash is None and stored.identity_code_basis is None


async def test_a_restricted_contact_changes_only_under_a_rectification_request(
    admin: Client, signed_in: SignedIn, sessionmaker: SessionMaker
) -> None:
    contact_id = await add_contact(admin)
    restricted = await admin.post(
        f"/api/v1/contacts/{contact_id}/restriction", json={"reason": "Accuracy contested"}
    )
    assert restricted.status_code == 200, restricted.text
    browser = await signed_in(Role.PRIVACY_OFFICER)
    page = (await browser.get(f"/app/contacts/{contact_id}/edit")).text
    assert "rectification request" in page
    refused = await _edit(browser, contact_id, city="Lahti")
    assert refused.status_code == 409 and "restricted" in refused.text
    assert 'value="Lahti"' in refused.text
    not_a_number = await _edit(browser, contact_id, city="Lahti", request_id="12x")
    assert not_a_number.status_code == 422 and 'id="contact-request_id-error"' in not_a_number.text
    assert (await _contact(sessionmaker, contact_id)).city is None


@pytest.mark.parametrize(
    "hostile",
    [
        {"full_name": "A" * 100_000},
        {"full_name": "Maija\x00Meik"},
        {"city": "Line\nbreak"},
        {"tags": "ok\u2028bad"},
        {"last_service_contact_at": "yesterday"},
        {"last_service_contact_at": "9999-12-31"},
        {"language": "klingon"},
        {"gender": "\x07"},
        {"request_id": "9" * 40, "city": "Kotka"},
        {"country": "ÄÄ"},
        {"email": "a@" + "b" * 400 + ".fi"},
        {"phone": "+" + "9" * 39},
    ],
)
async def test_hostile_input_is_refused_never_a_server_error(
    admin: Client, signed_in: SignedIn, sessionmaker: SessionMaker, hostile: dict[str, str]
) -> None:
    contact_id = await add_contact(admin)
    browser = await signed_in(Role.ADMIN)
    answer = await _edit(browser, contact_id, **hostile)
    assert answer.status_code in {400, 403, 409, 422}, answer.text[:500]
    assert (await _contact(sessionmaker, contact_id)).full_name == "Maija Meikäläinen"


async def test_without_the_form_token_nothing_changes(
    admin: Client, signed_in: SignedIn, sessionmaker: SessionMaker
) -> None:
    contact_id = await add_contact(admin)
    browser = await signed_in(Role.ADMIN)
    answer = await browser.post(
        f"/app/contacts/{contact_id}/edit", data={"full_name": "Mallory", "city": "X"}
    )
    assert answer.status_code == 403
    assert (await _contact(sessionmaker, contact_id)).full_name == "Maija Meikäläinen"


async def test_a_viewer_may_not_edit_and_a_missing_contact_is_404(signed_in: SignedIn) -> None:
    viewer = await signed_in(Role.VIEWER)
    assert (await viewer.get("/app/contacts/1/edit")).status_code == 403
    admin_browser = await signed_in(Role.ADMIN)
    assert (await admin_browser.get("/app/contacts/999999/edit")).status_code == 404


async def test_the_edit_page_read_is_audited(
    admin: Client, signed_in: SignedIn, sessionmaker: SessionMaker
) -> None:
    contact_id = await add_contact(admin)
    browser = await signed_in(Role.MARKETER)
    await browser.get(f"/app/contacts/{contact_id}/edit")
    async with sessionmaker() as session:
        rows = (
            await session.exec(
                select(AuditEvent).where(col(AuditEvent.route) == "/app/contacts/{contact_id}/edit")
            )
        ).all()
    assert [(r.action, r.contact_id) for r in rows] == [("contact.read", contact_id)]
