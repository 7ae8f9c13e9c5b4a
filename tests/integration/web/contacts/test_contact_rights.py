"""The person's rights on the contact page (``rights:manage``): erasure after
a confirmation step, refused clearly under a legal hold; the access export
and the portable ZIP downloaded from a plain link; objections recorded and
decided. Each through the service its API route calls, audited alike."""

from __future__ import annotations

import io
import json
import zipfile

import httpx
import pytest
from sqlmodel import select

from service.db import SessionMaker
from service.models import Contact, Erasure, Objection
from service.models.enums import Role
from tests.integration.web.conftest import SignedIn, csrf
from tests.integration.web.contacts.conftest import (
    HETU,
    Client,
    audit_rows,
    count,
    reasons,
)
from tests.support.factories import add_contact


async def _post(browser: Client, path: str, form: dict[str, str]) -> httpx.Response:
    home = await browser.get("/app")
    return await browser.post(path, data={**form, "csrf_token": csrf(home)})


async def _exists(sessionmaker: SessionMaker, contact_id: int) -> bool:
    async with sessionmaker() as session:
        return await session.get(Contact, contact_id) is not None


# -- erasure -------------------------------------------------------------------------


async def test_erasure_asks_first_then_erases_and_says_so(
    admin: Client, signed_in: SignedIn, sessionmaker: SessionMaker
) -> None:
    contact_id = await add_contact(admin, phone="040 123 4567")
    browser = await signed_in(Role.PRIVACY_OFFICER)
    contact_page = (await browser.get(f"/app/contacts/{contact_id}")).text
    assert f'href="/app/contacts/{contact_id}/erase"' in contact_page

    confirm = await browser.get(f"/app/contacts/{contact_id}/erase")
    assert confirm.status_code == 200
    assert "Erase Maija Meikäläinen?" in confirm.text and "cannot be undone" in confirm.text
    assert "suppression list" in confirm.text
    assert await _exists(sessionmaker, contact_id)  # the step itself changes nothing

    erased = await _post(browser, f"/app/contacts/{contact_id}/erase", {"request_id": ""})
    assert erased.status_code == 303, erased.text
    assert erased.headers["location"] == "/app/contacts?done=erased"
    listing = await browser.get(erased.headers["location"])
    assert "Contact erased." in listing.text and 'role="status"' in listing.text
    assert not await _exists(sessionmaker, contact_id)
    assert await count(sessionmaker, Erasure) == 1
    [row] = await audit_rows(sessionmaker, "contact.erase")
    assert row.contact_id == contact_id
    # As the API: the address may not come back.
    again = await admin.post(
        "/api/v1/contacts",
        json={
            "full_name": "M",
            "email": "maija@example.fi",
            "legal_basis": "consent",
            "source": "self",
        },
    )
    assert again.status_code == 409


async def test_a_legal_hold_stops_erasure_and_says_why(
    admin: Client, signed_in: SignedIn, sessionmaker: SessionMaker
) -> None:
    contact_id = await add_contact(admin)
    held = await admin.post(
        f"/api/v1/contacts/{contact_id}/legal-holds", json={"reason": "Court case 2026/17"}
    )
    assert held.status_code == 201, held.text
    browser = await signed_in(Role.ADMIN)
    confirm = await browser.get(f"/app/contacts/{contact_id}/erase")
    assert confirm.status_code == 200
    assert "under a legal hold and cannot be erased" in confirm.text
    assert "Court case 2026/17" in confirm.text
    assert "Erase for good" not in confirm.text  # no button to press

    # A form posted anyway (say, from a page opened before the hold) is refused.
    refused = await _post(browser, f"/app/contacts/{contact_id}/erase", {})
    assert refused.status_code == 409
    assert "under a legal hold and cannot be erased" in refused.text
    assert await _exists(sessionmaker, contact_id)
    assert await count(sessionmaker, Erasure) == 0


async def test_erasure_is_for_rights_managers_and_needs_the_form_token(
    admin: Client, signed_in: SignedIn, sessionmaker: SessionMaker
) -> None:
    contact_id = await add_contact(admin)
    marketer = await signed_in(Role.MARKETER)
    assert (
        f"/app/contacts/{contact_id}/erase"
        not in (await marketer.get(f"/app/contacts/{contact_id}")).text
    )
    assert (await marketer.get(f"/app/contacts/{contact_id}/erase")).status_code == 403
    assert (await _post(marketer, f"/app/contacts/{contact_id}/erase", {})).status_code == 403
    officer = await signed_in(Role.PRIVACY_OFFICER)
    bare = await officer.post(f"/app/contacts/{contact_id}/erase", data={})
    assert bare.status_code == 403
    assert await _exists(sessionmaker, contact_id)
    missing = await _post(officer, "/app/contacts/999999/erase", {})
    assert missing.status_code == 404


@pytest.mark.parametrize("request_id", ["abc", "9" * 40, "-1", "1\x00", "424242"])
async def test_a_bad_request_number_erases_nothing(
    admin: Client, signed_in: SignedIn, sessionmaker: SessionMaker, request_id: str
) -> None:
    contact_id = await add_contact(admin)
    browser = await signed_in(Role.ADMIN)
    refused = await _post(browser, f"/app/contacts/{contact_id}/erase", {"request_id": request_id})
    assert refused.status_code in {404, 409, 422}, refused.text[:300]
    assert 'role="alert"' in refused.text
    assert await _exists(sessionmaker, contact_id)


# -- access export -------------------------------------------------------------------


async def test_the_exports_download_from_a_plain_link(
    admin: Client, signed_in: SignedIn, sessionmaker: SessionMaker
) -> None:
    contact_id = await add_contact(admin, personal_identity_code=HETU)
    browser = await signed_in(Role.PRIVACY_OFFICER)
    contact_page = (await browser.get(f"/app/contacts/{contact_id}")).text
    for name in ("export.json", "export.zip"):
        assert f'href="/app/contacts/{contact_id}/{name}"' in contact_page

    # A GET with the session cookie only, as a link click sends it.
    answer = await browser.get(f"/app/contacts/{contact_id}/export.json")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    assert "attachment" in answer.headers["content-disposition"]
    assert answer.headers["cache-control"] == "no-store"
    body = json.loads(answer.content)
    assert body["contact"]["full_name"] == "Maija Meikäläinen"
    assert body["contact"]["personal_identity_code"] == HETU  # the person's own, whole
    assert "information" in body

    portable = await browser.get(f"/app/contacts/{contact_id}/export.zip")
    assert portable.status_code == 200
    assert portable.headers["content-type"] == "application/zip"
    assert f'filename="contact-{contact_id}-export.zip"' in portable.headers["content-disposition"]
    names = zipfile.ZipFile(io.BytesIO(portable.content)).namelist()
    assert "contact.csv" in names and "README.txt" in names

    rows = await audit_rows(sessionmaker, "contact.export")
    assert [(r.contact_id, r.details.get("kind")) for r in rows] == [
        (contact_id, "access"),
        (contact_id, "portability"),
    ]
    assert all(r.details.get("identity_code_included") for r in rows)


async def test_the_exports_are_for_rights_managers(
    admin: Client, signed_in: SignedIn, sessionmaker: SessionMaker
) -> None:
    contact_id = await add_contact(admin)
    marketer = await signed_in(Role.MARKETER)
    assert "export.json" not in (await marketer.get(f"/app/contacts/{contact_id}")).text
    for name in ("export.json", "export.zip"):
        assert (await marketer.get(f"/app/contacts/{contact_id}/{name}")).status_code == 403
    assert await audit_rows(sessionmaker, "contact.export") == []
    officer = await signed_in(Role.PRIVACY_OFFICER)
    assert (await officer.get("/app/contacts/999999/export.json")).status_code == 404


# -- objection -----------------------------------------------------------------------


async def test_an_objection_to_direct_marketing_is_upheld_at_once(
    admin: Client, signed_in: SignedIn, sessionmaker: SessionMaker
) -> None:
    contact_id = await add_contact(admin)
    browser = await signed_in(Role.PRIVACY_OFFICER)
    here = f"/app/contacts/{contact_id}"
    assert 'id="objection-form"' in (await browser.get(here)).text
    answer = await _post(
        browser,
        f"{here}/objections",
        {"scope": "direct_marketing", "grounds": "", "method": "email", "request_id": ""},
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"{here}?done=objection"
    shown = (await browser.get(answer.headers["location"])).text
    assert "Objection recorded." in shown and "Objection to Direct marketing: Upheld" in shown
    got = await reasons(sessionmaker, contact_id)
    assert "direct_marketing_ban" in got and "objected" in got
    [row] = await audit_rows(sessionmaker, "objection.record")
    assert row.contact_id == contact_id


async def test_an_objection_to_other_processing_waits_for_a_decision(
    admin: Client, signed_in: SignedIn, sessionmaker: SessionMaker
) -> None:
    contact_id = await add_contact(admin)
    browser = await signed_in(Role.ADMIN)
    here = f"/app/contacts/{contact_id}"
    grounds = {"scope": "other_processing", "grounds": "I am a public figure in danger"}
    assert (await _post(browser, f"{here}/objections", grounds)).status_code == 303
    async with sessionmaker() as session:
        objection = (await session.exec(select(Objection))).one()
    assert objection.decision == "pending"
    page = (await browser.get(here)).text
    decide = f"{here}/objections/{objection.id}/decide"
    assert f'action="{decide}"' in page

    # A rejection needs its grounds; the refusal shows on that objection's own form.
    bare = await _post(browser, decide, {"decision": "rejected", "note": ""})
    assert bare.status_code == 422
    assert f'id="decide-{objection.id}-form-error"' in bare.text
    no_choice = await _post(browser, decide, {"decision": "maybe"})
    assert no_choice.status_code == 422
    assert f'id="decide-{objection.id}-decision-error"' in no_choice.text
    upheld = await _post(browser, decide, {"decision": "upheld", "note": "Grounds accepted"})
    assert upheld.headers["location"] == f"{here}?done=objection_decided"
    assert "objected" in await reasons(sessionmaker, contact_id)
    again = await _post(browser, decide, {"decision": "rejected", "note": "Changed my mind"})
    assert again.status_code == 409
    assert len(await audit_rows(sessionmaker, "objection.decide")) == 1


@pytest.mark.parametrize(
    "form",
    [
        {"scope": "everything"},
        {},
        {"scope": "other_processing", "grounds": "x" * 100_000},
        {"scope": "direct_marketing", "method": "\x00"},
        {"scope": "direct_marketing", "request_id": "1e9"},
    ],
)
async def test_a_bad_objection_changes_nothing(
    admin: Client, signed_in: SignedIn, sessionmaker: SessionMaker, form: dict[str, str]
) -> None:
    contact_id = await add_contact(admin)
    browser = await signed_in(Role.ADMIN)
    answer = await _post(browser, f"/app/contacts/{contact_id}/objections", form)
    assert answer.status_code == 422, answer.text[:300]
    assert 'id="objection-form" open' in answer.text
    assert await count(sessionmaker, Objection) == 0


async def test_objections_are_for_rights_managers(
    admin: Client, signed_in: SignedIn, sessionmaker: SessionMaker
) -> None:
    contact_id = await add_contact(admin)
    marketer = await signed_in(Role.MARKETER)
    assert 'id="objection-form"' not in (await marketer.get(f"/app/contacts/{contact_id}")).text
    form = {"scope": "direct_marketing"}
    assert (
        await _post(marketer, f"/app/contacts/{contact_id}/objections", form)
    ).status_code == 403
    officer = await signed_in(Role.PRIVACY_OFFICER)
    bare = await officer.post(f"/app/contacts/{contact_id}/objections", data=form)
    assert bare.status_code == 403
    assert await count(sessionmaker, Objection) == 0
