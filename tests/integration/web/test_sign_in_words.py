"""Issue 18 item 5: the sign-in pages, the home page, the forbidden page and
the signup-form pages speak the language of whoever reads them: before
sign-in the browser's, once the password names an account that account's,
then the member's; refusals of service.auth, dates and codes included."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service import i18n
from service.auth import login
from service.auth.cookies import PLAIN_COOKIE
from service.db import SessionMaker, session_scope
from service.models.enums import Role
from service.settings import Settings
from tests.integration.auth.browser import Browser, code_at, csrf_of
from tests.integration.web.conftest import Client, csrf
from tests.integration.web.forms.test_form_pages import FORM
from tests.support.clock import FrozenClock
from tests.support.factories import add_staff

PASSWORD = "a long enough passphrase"
_numbers = itertools.count(1)
Member = Callable[[str, Role], Coroutine[Any, Any, Client]]


@pytest.fixture
def member(
    client: AsyncTestClient[Litestar], sessionmaker: SessionMaker, settings: Settings
) -> Member:
    """A signed-in staff member of the role who chose the language."""

    async def make(language: str, role: Role) -> Client:
        email = f"words.{language}.{next(_numbers)}@example.fi"
        user = await add_staff(sessionmaker, role=role, email=email, language=language)
        async with session_scope(sessionmaker) as session:
            opened = await login.open_complete_session(session, user=user, settings=settings)
        return Client(client, {"Cookie": f"{PLAIN_COOKIE}={opened.token}"})

    return make


def lang_of(html: str) -> str:
    found = re.search(r'<html lang="([a-z]+)">', html)
    assert found is not None
    return found.group(1)


async def test_a_browser_is_told_a_refused_password_in_its_language(
    client: AsyncTestClient[Litestar], sessionmaker: SessionMaker, frozen_clock: FrozenClock
) -> None:
    await add_staff(sessionmaker, role=Role.VIEWER, email="words.login@example.fi")
    finnish = Browser(client, language="fi-FI")
    form = await client.get("/app/login")
    assert lang_of(form.text) == "fi"
    for words in ("<title>Kirjaudu sisään · Consentry", ">Salasana</label>", ">Jatka</button>"):
        assert words in form.text, words
    refused = await finnish.password("words.login@example.fi", "not the password")
    assert refused.status_code == 401
    assert "Sähköpostiosoite tai salasana on väärä." in refused.text
    assert "The email or the password is wrong." not in refused.text

    swedish = Browser(client, language="sv-FI,sv;q=0.9")
    for _ in range(login.MAX_ACCOUNT_FAILURES):
        await swedish.password("words.login@example.fi", "not the password")
    locked = await swedish.password("words.login@example.fi", "not the password")
    assert locked.status_code == 429
    told = re.search(
        r"För många misslyckade försök\. Försök igen om (\d+) (minut|minuter)\.", locked.text
    )
    assert told is not None, locked.text
    assert (told.group(2) == "minut") == (told.group(1) == "1")  # the form follows the number

    ended = await client.get("/app/login?session=ended")
    assert "Du har loggat ut." in ended.text


async def test_the_second_factor_speaks_the_accounts_language(
    client: AsyncTestClient[Litestar], sessionmaker: SessionMaker, frozen_clock: FrozenClock
) -> None:
    await add_staff(
        sessionmaker, role=Role.MARKETER, email="words.sv@example.fi", password=PASSWORD,
        language="sv",
    )  # fmt: skip
    browser = Browser(client, language="en-GB")  # an English browser, a Swedish account
    await browser.password("words.sv@example.fi", PASSWORD)
    enrol = await client.get("/app/login/enrol")
    assert lang_of(enrol.text) == "sv"
    assert "<title>Ställ in tvåstegsverifiering · Consentry" in enrol.text
    assert 'aria-label="QR-kod för din autentiseringsapp"' in enrol.text
    wrong = await client.post(
        "/app/login/enrol", data={"code": "000000", "csrf_token": csrf_of(enrol)}
    )
    assert wrong.status_code == 401
    assert lang_of(wrong.text) == "sv"
    assert "Koden är fel eller har redan använts." in wrong.text
    secret, codes, shown = await browser.enrol(frozen_clock.now)
    assert len(codes) == 10 and code_at(secret, frozen_clock.now)
    assert "<title>Dina reservkoder · Consentry" in shown.text
    assert "<strong>Koderna visas bara nu.</strong>" in shown.text


async def test_the_forbidden_page_names_the_permission_in_the_members_language(
    member: Member,
) -> None:
    viewer = await member("fi", Role.VIEWER)
    refused = await viewer.get("/app/staff")
    assert refused.status_code == 403
    assert "<title>Ei sallittu roolillesi · Consentry" in refused.text
    assert "Roolillasi ei ole oikeutta users:manage." in refused.text
    no_token = await viewer.post("/app/account/language", data={"language": "sv"})
    assert no_token.status_code == 403
    assert "Lomake on vanhentunut; lataa sivu uudelleen ja yritä uudestaan." in no_token.text


async def test_the_home_page_in_swedish(member: Member) -> None:
    text = (await (await member("sv", Role.MARKETER)).get("/app")).text
    assert re.search(r"Inloggad som words\.sv\.\d+@example\.fi \(Marknadsförare\)\.", text)
    assert "<h2>Vart härnäst</h2>" in text
    assert '<a href="/app/campaigns">Kampanjer</a> — skriv en e-post-' in text
    assert "(marketer)" not in text


async def test_a_signup_form_in_swedish(member: Member, frozen_clock: FrozenClock) -> None:
    swedish = await member("sv", Role.MARKETER)
    new = await swedish.get("/app/forms/new")
    assert "<title>Nytt anmälningsformulär · Consentry" in new.text
    made = await swedish.post(
        "/app/forms/new", data={**FORM, "slug": "ord", "csrf_token": csrf(new)}
    )
    assert made.status_code == 303, made.text
    form_id = int(made.headers["location"].split("/")[-1].split("?")[0])
    page = (await swedish.get(f"/app/forms/{form_id}?saved=1")).text
    assert "Sparat: detta är version 1." in page
    assert lang_of(page) == "sv"
    for words in ("<h2>Versionshistorik</h2>", "Fullständigt namn (obligatoriskt)",
                  "E-post: Direktmarknadsföring", "<dt>Dubbel bekräftelse</dt>"):  # fmt: skip
        assert words in page, words
    assert "UTC" not in page and "full name" not in page
    # The version's moment through |datetime: Helsinki time, the language's way.
    with i18n.use("sv"):
        made_at = i18n.format_datetime(frozen_clock.now)
    assert f"Version 1</a>, {made_at}</li>" in page
    edit = (await swedish.get(f"/app/forms/{form_id}/edit")).text
    assert "<title>Redigera " in edit
    assert "Erbjud valet: marknadsföring per e-post" in edit
    assert ">Text (Finska)</label>" in edit
    listing = (await swedish.get("/app/forms")).text
    assert "Finska, Engelska" in listing
    missing = await swedish.get("/app/forms/999999")
    assert missing.status_code == 404
    assert "Det finns inget sådant anmälningsformulär" in missing.text
