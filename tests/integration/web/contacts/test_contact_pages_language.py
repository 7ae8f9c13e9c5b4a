"""Issue 18 item 5 on the contact pages: a member reads codes as words and
dates, times and counts the way of the language they chose (the catalogs
hold the labels' Finnish; the pages' own sentences are translated there too)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service import i18n
from service.auth import login
from service.auth.cookies import PLAIN_COOKIE
from service.db import SessionMaker, session_scope
from service.models import CampaignRecipient
from service.models.enums import CampaignChannel, RecipientStatus, Role
from service.settings import Settings
from tests.integration.web.conftest import Client, csrf
from tests.integration.web.contacts.conftest import row_of
from tests.support.factories import add_contact, add_staff, grant

_numbers = itertools.count(1)
Speaker = Callable[[str, Role], Coroutine[Any, Any, Client]]


@pytest.fixture
def speaking(
    client: AsyncTestClient[Litestar], sessionmaker: SessionMaker, settings: Settings
) -> Speaker:
    """A signed-in staff member of the role who chose the language."""

    async def make(language: str, role: Role = Role.ADMIN) -> Client:
        email = f"contacts.{language}.{next(_numbers)}@example.fi"
        user = await add_staff(sessionmaker, role=role, email=email, language=language)
        async with session_scope(sessionmaker) as session:
            opened = await login.open_complete_session(session, user=user, settings=settings)
        return Client(client, {"Cookie": f"{PLAIN_COOKIE}={opened.token}"})

    return make


async def _sent_to(admin: Client, sessionmaker: SessionMaker) -> int:
    """A contact with an email consent and a message sent at noon, Helsinki time."""
    contact_id = await add_contact(admin, phone="0401234567")
    await grant(admin, contact_id)
    made = await admin.post(
        "/api/v1/campaigns",
        json={
            "name": "Kevätuutiset",
            "channel": "email",
            "subject": "Hei",
            "body_html": "<p>Hei</p>",
            "body_text": "Hei",
        },
    )
    assert made.status_code == 201, made.text
    async with session_scope(sessionmaker) as session:
        session.add(
            CampaignRecipient(
                campaign_id=made.json()["id"],
                contact_id=contact_id,
                channel=CampaignChannel.EMAIL,
                status=RecipientStatus.SENT,
                sent_at=datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
            )
        )
    return contact_id


async def test_a_finnish_member_reads_the_contact_page_the_finnish_way(
    admin: Client, speaking: Speaker, sessionmaker: SessionMaker
) -> None:
    contact_id = await _sent_to(admin, sessionmaker)
    page = await (await speaking("fi", Role.ADMIN)).get(f"/app/contacts/{contact_id}")
    assert page.status_code == 200, page.text
    messages = page.text.split('id="messages-heading"')[1].split("</section>")[0]
    # Sent 10:00 UTC = 12:00 in Helsinki, written d.m.yyyy with a dot in the time.
    assert "2.3.2026 12.00" in messages
    assert "2026-03-02" not in messages and "02/03/2026" not in messages
    # Codes are words of the language: the channel, the consent's purpose.
    assert '<th scope="row">Sähköposti</th>' in row_of(page.text, "email")
    timeline = page.text.split('id="timeline"')[1].split("</ol>")[0]
    assert "Sähköposti" in timeline and "Suoramarkkinointi" in timeline
    assert "direct_marketing" not in timeline and "direct marketing" not in timeline


async def test_an_english_member_reads_the_same_page_in_english(
    admin: Client, speaking: Speaker, sessionmaker: SessionMaker
) -> None:
    contact_id = await _sent_to(admin, sessionmaker)
    fi = await (await speaking("fi", Role.VIEWER)).get(f"/app/contacts/{contact_id}")
    en = await (await speaking("en", Role.VIEWER)).get(f"/app/contacts/{contact_id}")
    assert "Sähköposti" in fi.text
    assert "Sähköposti" not in en.text  # the first language is not kept for the next page
    assert '<th scope="row">Email</th>' in row_of(en.text, "email")
    assert "02/03/2026, 12:00" in en.text


async def test_the_forms_choices_and_the_list_show_codes_as_words(
    admin: Client, speaking: Speaker, sessionmaker: SessionMaker
) -> None:
    await add_contact(admin, language="sv")
    member = await speaking("fi", Role.ADMIN)
    form = await member.get("/app/contacts/new")
    language = form.text.split('id="contact-language"')[1].split("</select>")[0]
    assert re.search(r'<option value="sv">Ruotsi</option>', language), language
    assert '<option value="fi" selected>Suomi</option>' in language
    listed = await member.get("/app/contacts")
    assert "<td>Ruotsi</td>" in listed.text
    assert "<td>sv</td>" not in listed.text
    exports = await member.get("/app/exports")
    assert '<option value="sv">Ruotsi</option>' in exports.text  # the export's language filter


@pytest.mark.parametrize("language", ["fi", "sv", "en"])
async def test_every_page_of_the_contacts_renders_in_each_language(
    admin: Client, speaking: Speaker, sessionmaker: SessionMaker, language: str
) -> None:
    """A translation with a wrong placeholder or a broken plural would fail
    the page; each renders whole, in the member's language."""
    contact_id = await _sent_to(admin, sessionmaker)
    member = await speaking(language, Role.ADMIN)
    for path in (
        "/app/contacts",
        "/app/contacts/new",
        f"/app/contacts/{contact_id}",
        f"/app/contacts/{contact_id}/edit",
        f"/app/contacts/{contact_id}/erase",
        f"/app/contacts/{contact_id}/consents/1/receipt",
        "/app/contacts/999999",
        "/app/call-lists",
        "/app/imports",
        "/app/exports",
    ):
        page = await member.get(path)
        assert page.status_code in {200, 404}, (path, page.text)
        assert f'<html lang="{language}">' in page.text, path
        assert "%(" not in page.text, path  # no placeholder left unfilled
    listed = await member.post(
        "/app/contacts/search",
        data={"q": "nobody", "csrf_token": csrf(await member.get("/app/contacts"))},
    )
    assert listed.status_code == 200 and "%(" not in listed.text


async def test_the_status_words_follow_each_members_language(
    admin: Client, speaking: Speaker, sessionmaker: SessionMaker
) -> None:
    """The words of contacts/_words.html.j2 are read per page (imported with
    context): a module Jinja cached after the first page would keep that
    page's language for every member after it."""
    contact_id = await add_contact(admin)
    finnish = i18n.translations("fi").gettext("Contact created.")
    swedish = i18n.translations("sv").gettext("Contact created.")
    for language, words in (("fi", finnish), ("en", "Contact created."), ("sv", swedish)):
        member = await speaking(language, Role.VIEWER)
        page = await member.get(f"/app/contacts/{contact_id}?done=created")
        assert f'<p class="notice" role="status">{words}</p>' in page.text, language
