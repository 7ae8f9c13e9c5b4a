"""Issue 18 item 5: the staff pages speak the member's language (Finnish,
Swedish or English), chosen on the account page and applied from the next
page on; codes are shown as words in it."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlmodel import col, select

from service.auth import login
from service.auth import service as auth_service
from service.auth.cookies import CSRF_FIELD, PLAIN_COOKIE
from service.db import SessionMaker, session_scope
from service.errors import InvalidInput
from service.models import AuditEvent, User
from service.models.enums import Role
from service.settings import Settings
from tests.integration.web.conftest import Client, csrf
from tests.support.factories import add_staff

_numbers = itertools.count(1)
Speaker = Callable[[str, Role], Coroutine[Any, Any, Client]]


@pytest.fixture
def speaking(
    client: AsyncTestClient[Litestar], sessionmaker: SessionMaker, settings: Settings
) -> Speaker:
    """A signed-in staff member of the role who chose the language."""

    async def make(language: str, role: Role = Role.ADMIN) -> Client:
        email = f"lang.{language}.{next(_numbers)}@example.fi"
        user = await add_staff(sessionmaker, role=role, email=email, language=language)
        async with session_scope(sessionmaker) as session:
            opened = await login.open_complete_session(session, user=user, settings=settings)
        return Client(client, {"Cookie": f"{PLAIN_COOKIE}={opened.token}"})

    return make


def lang_of(html: str) -> str:
    found = re.search(r'<html lang="([a-z]+)">', html)
    assert found is not None
    return found.group(1)


async def test_a_finnish_member_reads_finnish(speaking: Speaker) -> None:
    page = await (await speaking("fi", Role.PRIVACY_OFFICER)).get("/app/account")
    assert page.status_code == 200
    assert lang_of(page.text) == "fi"
    for words in ("<title>Tilisi · Consentry", "Kirjaudu ulos", ">Kontaktit</a>",
                  ">Tietosuoja</a>", "Tietosuojavastaava", "Siirry sisältöön",
                  "Näiden sivujen kieli"):  # fmt: skip
        assert words in page.text, words
    for words in ("Sign out", "privacy_officer", ">Contacts</a>", "Your account"):
        assert words not in page.text, words


async def test_a_swedish_member_reads_swedish(speaking: Speaker) -> None:
    page = await (await speaking("sv", Role.MARKETER)).get("/app")
    assert lang_of(page.text) == "sv"
    assert "Logga ut" in page.text and "Marknadsförare" in page.text
    assert ">Kampanjer</a>" in page.text


async def test_an_english_member_reads_english(speaking: Speaker) -> None:
    page = await (await speaking("en", Role.PRIVACY_OFFICER)).get("/app/account")
    assert lang_of(page.text) == "en"
    assert "Sign out" in page.text and "Privacy officer" in page.text
    assert "<title>Your account · Consentry" in page.text
    assert "Kirjaudu ulos" not in page.text


async def test_before_sign_in_the_browser_language_is_spoken(
    client: AsyncTestClient[Litestar],
) -> None:
    swedish = await client.get("/app/login", headers={"Accept-Language": "sv-FI,sv;q=0.9"})
    assert lang_of(swedish.text) == "sv"
    english = await client.get("/app/login", headers={"Accept-Language": "en-GB"})
    assert lang_of(english.text) == "en"


async def test_the_member_chooses_and_the_next_page_follows(
    speaking: Speaker, sessionmaker: SessionMaker
) -> None:
    member = await speaking("fi")
    account = await member.get("/app/account")
    assert 'value="fi" checked' in account.text
    for code, name in (("fi", "suomi"), ("sv", "svenska"), ("en", "English")):
        assert f'<label lang="{code}"><input type="radio" name="language" value="{code}"' in (
            account.text
        ), code
        assert name in account.text
    chosen = await member.post(
        "/app/account/language", data={CSRF_FIELD: csrf(account), "language": "sv"}
    )
    assert chosen.status_code == 303
    assert chosen.headers["location"] == "/app/account?language_saved=1"
    after = await member.get(chosen.headers["location"])
    assert lang_of(after.text) == "sv"
    assert "Språket har sparats." in after.text and 'value="sv" checked' in after.text
    async with sessionmaker() as db:
        chosen_by = select(User.language).where(col(User.email).startswith("lang.fi."))
        assert (await db.exec(chosen_by)).all()[-1] == "sv"
        actions = (await db.exec(select(AuditEvent.action))).all()
    assert "user.language" in actions


@pytest.mark.parametrize(
    "value",
    ["de", "", "FI", "fi ", "x" * 10_000, "<script>", "fi\x00", "svenska"],
    ids=lambda value: repr(value[:12]),
)
async def test_a_language_not_offered_is_refused_with_422(speaking: Speaker, value: str) -> None:
    member = await speaking("en")
    account = await member.get("/app/account")
    answer = await member.post(
        "/app/account/language", data={CSRF_FIELD: csrf(account), "language": value}
    )
    assert answer.status_code == 422
    assert "Choose one of the languages." in answer.text
    again = await member.get("/app/account")
    assert lang_of(again.text) == "en"


async def test_no_language_at_all_is_refused_with_422(speaking: Speaker) -> None:
    member = await speaking("en")
    account = await member.get("/app/account")
    answer = await member.post("/app/account/language", data={CSRF_FIELD: csrf(account)})
    assert answer.status_code == 422


async def test_the_choice_needs_the_forms_csrf_token(speaking: Speaker) -> None:
    member = await speaking("en")
    for data in ({"language": "fi"}, {CSRF_FIELD: "forged", "language": "fi"}):
        answer = await member.post("/app/account/language", data=data)
        assert answer.status_code == 403
    page = await member.get("/app/account")
    assert lang_of(page.text) == "en"


async def test_the_choice_needs_a_sign_in(client: AsyncTestClient[Litestar]) -> None:
    answer = await client.post(
        "/app/account/language", data={"language": "fi"}, follow_redirects=False
    )
    assert answer.status_code in {302, 303, 401, 403}


@pytest.mark.parametrize("language", ["de", "", None, "FI", 7])
async def test_the_service_refuses_a_language_the_pages_do_not_speak(
    sessionmaker: SessionMaker, language: Any
) -> None:
    async with sessionmaker() as db:
        with pytest.raises(InvalidInput) as caught:
            await auth_service.create_user(
                db, email="x@example.fi", role=Role.VIEWER, password="p" * 12, language=language
            )
        assert "language" in caught.value.fields
        assert (await db.exec(select(User))).all() == []


async def test_words_a_handler_translates_are_in_the_members_language(
    speaking: Speaker,
) -> None:
    """The language holds for the whole request, not only while the page renders."""
    member = await speaking("sv")
    account = await member.get("/app/account")
    answer = await member.post(
        "/app/account/language", data={CSRF_FIELD: csrf(account), "language": "de"}
    )
    assert answer.status_code == 422
    assert "Välj ett av språken." in answer.text  # made in the handler, before the page
    assert "Valitse jokin kielistä." not in answer.text
