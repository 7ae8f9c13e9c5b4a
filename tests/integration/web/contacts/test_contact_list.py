"""``/app/contacts``: filters in the query string, the name search in a POST
body, pages of 50, a link per contact, and who may see the list at all."""

from __future__ import annotations

import re

from service.contacts import service as contacts_service
from service.contacts.schemas import ContactCreate
from service.crypto import DataCipher
from service.db import SessionMaker, session_scope
from service.models.enums import LegalBasis, Role, Source
from service.settings import Settings
from tests.integration.audit.support import trail_text
from tests.integration.web.conftest import SignedIn, csrf
from tests.integration.web.contacts.conftest import Client, audit_rows, linked_ids
from tests.support.factories import add_contact, grant, withdraw


async def _three(admin: Client) -> tuple[int, int, int]:
    """Aino (fi, vip, email consent), Bo (sv, news, nothing), Cecilia (en, withdrew)."""
    aino = await add_contact(admin, full_name="Aino Aalto", email="aino@example.fi", tags=["vip"])
    bo = await add_contact(
        admin, full_name="Bo Berg", email="bo@example.fi", language="sv", tags=["news"]
    )
    cecilia = await add_contact(
        admin, full_name="Cecilia Cruz", email="cecilia@example.fi", language="en"
    )
    await grant(admin, aino)
    await withdraw(admin, cecilia)
    return aino, bo, cecilia


async def test_the_filters_narrow_the_list(admin: Client, signed_in: SignedIn) -> None:
    aino, bo, cecilia = await _three(admin)
    browser = await signed_in(Role.MARKETER)
    cases = {
        "": [aino, bo, cecilia],
        "?tag=vip": [aino],
        "?tag=VIP": [aino],  # tags are stored lower-case
        "?language=sv": [bo],
        "?consent=granted": [aino],
        "?consent=withdrawn": [cecilia],
        "?consent=none": [bo],
        "?reason=eligible": [aino],
        "?reason=no_consent": [bo],
        "?reason=consent_withdrawn": [cecilia],
        "?channel=phone&reason=no_address": [aino, bo, cecilia],
        "?language=fi&consent=none": [],
    }
    for query, expected in cases.items():
        page = await browser.get(f"/app/contacts{query}")
        assert page.status_code == 200, query
        assert linked_ids(page.text) == expected, query
    assert ">Aino Aalto</a>" in (await browser.get("/app/contacts?tag=vip")).text


async def test_a_bad_filter_is_named_and_left_out(admin: Client, signed_in: SignedIn) -> None:
    aino, bo, cecilia = await _three(admin)
    browser = await signed_in(Role.VIEWER)
    page = await browser.get("/app/contacts?language=xx&reason=robinson_listed")
    assert page.status_code == 200
    assert "The language filter &#39;xx&#39; is unknown" in page.text
    assert "robinson_listed never applies to Email" in page.text
    assert linked_ids(page.text) == [aino, bo, cecilia]


async def test_a_control_character_in_a_filter_or_search_is_named_and_left_out(
    admin: Client, signed_in: SignedIn
) -> None:
    aino, bo, cecilia = await _three(admin)
    browser = await signed_in(Role.VIEWER)
    page = await browser.get("/app/contacts?tag=vi%00p")
    assert page.status_code == 200
    assert "The tag filter holds a control character" in page.text
    assert linked_ids(page.text) == [aino, bo, cecilia]
    found = await browser.post(
        "/app/contacts/search", data={"q": "Aino\x00", "tag": "vip", "csrf_token": csrf(page)}
    )
    assert found.status_code == 200
    assert "The search text holds a control character" in found.text
    assert linked_ids(found.text) == [aino]


async def test_the_search_text_travels_in_the_form_only(
    admin: Client, signed_in: SignedIn, sessionmaker: SessionMaker
) -> None:
    aino, bo, _ = await _three(admin)
    browser = await signed_in(Role.MARKETER)
    page = await browser.get("/app/contacts?tag=news")
    assert 'action="/app/contacts/search"' in page.text
    assert 'method="post"' in page.text
    found = await browser.post("/app/contacts/search", data={"q": "BERG", "csrf_token": csrf(page)})
    assert found.status_code == 200  # answered directly: no redirect carrying the text
    assert linked_ids(found.text) == [bo]
    assert 'value="BERG"' in found.text
    # The filters of the page it came from still apply.
    filtered = await browser.post(
        "/app/contacts/search", data={"q": "example.fi", "tag": "vip", "csrf_token": csrf(page)}
    )
    assert linked_ids(filtered.text) == [aino]
    # The trail keeps the shape of the search, never its text.
    rows = await audit_rows(sessionmaker, "contact.list")
    assert rows[-1].details["filters"] == ["tag", "q"]
    assert rows[-2].contact_id == bo  # a list of one is a read of that person
    assert "BERG" not in await trail_text(sessionmaker)
    assert "example.fi" not in await trail_text(sessionmaker)


async def test_a_search_without_its_form_token_is_refused(
    admin: Client, signed_in: SignedIn
) -> None:
    await _three(admin)
    browser = await signed_in(Role.ADMIN)
    refused = await browser.post("/app/contacts/search", data={"q": "Aino"})
    assert refused.status_code == 403
    assert "Aino" not in refused.text


async def test_pages_of_fifty(
    signed_in: SignedIn, sessionmaker: SessionMaker, settings: Settings
) -> None:
    cipher = DataCipher(settings.data_key)
    async with session_scope(sessionmaker) as session:
        for number in range(1, 53):
            data = ContactCreate(
                full_name=f"Person {number:02d}",
                legal_basis=LegalBasis.CONSENT,
                source=Source.IMPORT,
                tags=["many"],
            )
            await contacts_service.create(session, data=data, cipher=cipher)
    browser = await signed_in(Role.VIEWER)
    first = await browser.get("/app/contacts?tag=many")
    assert len(linked_ids(first.text)) == 50
    assert "Page 1 of 2" in first.text
    assert 'href="/app/contacts?tag=many&amp;page=2"' in first.text
    second = await browser.get("/app/contacts?tag=many&page=2")
    assert len(linked_ids(second.text)) == 2
    assert ">Person 52</a>" in second.text
    # A search pages with forms, keeping its text out of the links.
    searched = await browser.post(
        "/app/contacts/search", data={"q": "person", "csrf_token": csrf(first)}
    )
    assert "Page 1 of 2" in searched.text
    assert not [link for link in re.findall(r'href="([^"]*)"', searched.text) if "person" in link]
    again = await browser.post(
        "/app/contacts/search", data={"q": "person", "page": "2", "csrf_token": csrf(first)}
    )
    assert len(linked_ids(again.text)) == 2


async def test_the_list_is_not_for_callers(signed_in: SignedIn) -> None:
    browser = await signed_in(Role.CALLER)
    page = await browser.get("/app/contacts")
    assert page.status_code == 403
    assert "Not for your role" in page.text


async def test_a_viewer_is_not_offered_a_new_contact(signed_in: SignedIn) -> None:
    viewer = await signed_in(Role.VIEWER)
    assert 'href="/app/contacts/new"' not in (await viewer.get("/app/contacts")).text
    assert (await viewer.get("/app/contacts/new")).status_code == 403


async def test_a_marketer_is_offered_a_new_contact(signed_in: SignedIn) -> None:
    marketer = await signed_in(Role.MARKETER)
    assert 'href="/app/contacts/new"' in (await marketer.get("/app/contacts")).text
