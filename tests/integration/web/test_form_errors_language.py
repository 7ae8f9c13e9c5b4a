"""Issue 18: a form refused below the web layer (pydantic's complaints, our
validators' messages, a service's refusal) is explained in the member's
language on every staff page, and in the same English as before to an
English member."""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.auth import login
from service.auth.cookies import PLAIN_COOKIE
from service.db import SessionMaker, session_scope
from service.models.enums import Role
from service.settings import Settings
from tests.integration.web.campaigns.conftest import FORM as CAMPAIGN
from tests.integration.web.conftest import Client, csrf
from tests.integration.web.contacts.test_new_contact_text_fields import FORM as CONTACT
from tests.support.factories import add_contact, add_staff

_numbers = itertools.count(1)
Speaker = Callable[[str, Role], Coroutine[Any, Any, Client]]
CONSENT = {
    "action": "grant",
    "channel": "email",
    "purpose": "direct_marketing",
    "source": "self",
    "method": "paper_form",
    "evidence_text": "Lomake 12",
    "evidence_notice_version": "",
    "evidence_ip": "",
}


@pytest.fixture
def speaking(
    client: AsyncTestClient[Litestar], sessionmaker: SessionMaker, settings: Settings
) -> Speaker:
    """A signed-in staff member of the role who chose the language."""

    async def make(language: str, role: Role = Role.ADMIN) -> Client:
        email = f"errors.{language}.{next(_numbers)}@example.fi"
        user = await add_staff(sessionmaker, role=role, email=email, language=language)
        async with session_scope(sessionmaker) as session:
            opened = await login.open_complete_session(session, user=user, settings=settings)
        return Client(client, {"Cookie": f"{PLAIN_COOKIE}={opened.token}"})

    return make


def error_of(page: httpx.Response, field_id: str) -> str:
    """The text of the error shown next to a field (``<p … id="…">``)."""
    found = re.search(rf'id="{re.escape(field_id)}"[^>]*>([^<]*)<', page.text)
    assert found is not None, (field_id, page.text)
    return html.unescape(found.group(1)).strip()


async def _post(browser: Client, url: str, form: dict[str, str]) -> httpx.Response:
    home = await browser.get("/app")
    return await browser.post(url, data={**form, "csrf_token": csrf(home)})


@pytest.mark.parametrize(
    ("language", "postal", "phone"),
    [
        (
            "fi",
            "Enintään 20 merkkiä",
            "ei kelvollinen puhelinnumero: kirjaimet eivät ole sallittuja",
        ),
        ("sv", "Högst 20 tecken", "inget giltigt telefonnummer: bokstäver är inte tillåtna"),
        (
            "en",
            "String should have at most 20 characters",
            "not a valid phone number: letters are not allowed",
        ),
    ],
)
async def test_a_new_contact_refused_by_the_schema_is_explained_in_the_members_language(
    speaking: Speaker, language: str, postal: str, phone: str
) -> None:
    browser = await speaking(language, Role.MARKETER)
    refused = await _post(
        browser,
        "/app/contacts/new",
        {**CONTACT, "postal_code": "1" * 21, "phone": "+358 40 ABC 1234"},
    )
    assert refused.status_code == 422
    assert error_of(refused, "contact-postal_code-error") == postal
    assert error_of(refused, "contact-phone-error") == phone


BAN = {"kind": "direct_marketing", "channel": "all", "source": "self", "method": "post"}


@pytest.mark.parametrize(
    ("path", "form", "field", "finnish"),
    [
        (
            "consents",
            {**CONSENT, "evidence_ip": "x"},
            "consent-evidence_ip-error",
            "oltava IPv4- tai IPv6-osoite",
        ),
        (
            "consents",
            {**CONSENT, "evidence_text": ""},
            "consent-form-error",
            "suostumus tarvitsee näytön: näytetty teksti tai ilmoituksen versio",
        ),
        ("consents", {**CONSENT, "source": "nowhere"}, "consent-source-error", "Sallitut arvot: "),
        (
            "bans",
            {**BAN, "kind": "purchase_registration", "channel": "email"},
            "ban-form-error",
            "ostojen rekisteröintikielto koskee kaikkia kanavia",
        ),
    ],
)
async def test_a_consent_or_ban_form_refused_is_explained_in_finnish(
    admin: Client, speaking: Speaker, path: str, form: dict[str, str], field: str, finnish: str
) -> None:
    contact_id = await add_contact(admin)
    browser = await speaking("fi", Role.ADMIN)
    refused = await _post(browser, f"/app/contacts/{contact_id}/{path}", form)
    assert refused.status_code == 422
    assert error_of(refused, field).startswith(finnish)


async def test_a_contact_edit_too_long_is_explained_in_finnish(
    admin: Client, speaking: Speaker
) -> None:
    contact_id = await add_contact(admin)
    browser = await speaking("fi", Role.ADMIN)
    url = f"/app/contacts/{contact_id}/edit"
    shown = await browser.get(url)
    assert shown.status_code == 200, shown.text
    refused = await browser.post(
        url, data={**CONTACT, "city": "x" * 101, "csrf_token": csrf(shown)}
    )
    assert refused.status_code == 422, refused.text
    assert "Enintään 100 merkkiä" in refused.text
    assert "String should have" not in refused.text


async def test_a_campaign_without_a_name_is_explained_in_finnish(speaking: Speaker) -> None:
    browser = await speaking("fi", Role.MARKETER)
    refused = await _post(browser, "/app/campaigns/new", {**CAMPAIGN, "name": " "})
    assert refused.status_code == 422
    assert error_of(refused, "f-name-error") == "Ei saa olla tyhjä"


async def test_a_privacy_request_from_the_future_is_explained_in_finnish(
    speaking: Speaker,
) -> None:
    officer = await speaking("fi", Role.PRIVACY_OFFICER)
    refused = await _post(
        officer,
        "/app/privacy/requests",
        {
            "type": "erasure",
            "channel": "post",
            "received_on": "2999-01-31",
            "requester": "Pekka Postitse",
            "description": "Poistakaa tietoni.",
        },
    )
    assert refused.status_code == 422
    assert error_of(refused, "received_on-error") == "ei saa olla tulevaisuudessa"
