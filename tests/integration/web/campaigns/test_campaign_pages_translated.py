"""Issue 18 part 5: the campaign and layout pages speak the member's language
(Finnish, Swedish, English): their sentences, the codes they show as words,
the consent gate's explanations, the charts and the Markdown editor's
buttons, and dates and numbers the language's way."""

from __future__ import annotations

import html
import json
import re

from litestar import Litestar
from litestar.testing import AsyncTestClient

from service import i18n
from service.auth import login
from service.auth.cookies import PLAIN_COOKIE
from service.db import SessionMaker, session_scope
from service.models.enums import CampaignChannel, Reason, Role
from service.settings import Settings
from service.web.campaign_stats import FAILURE_WORDS, explain, percent
from tests.integration.web.campaigns.conftest import compose
from tests.integration.web.conftest import Client
from tests.support.factories import add_contact, add_recipient, add_staff


async def _member(
    client: AsyncTestClient[Litestar],
    sessionmaker: SessionMaker,
    settings: Settings,
    language: str,
    role: Role = Role.MARKETER,
) -> Client:
    user = await add_staff(sessionmaker, role=role, language=language)
    async with session_scope(sessionmaker) as session:
        opened = await login.open_complete_session(session, user=user, settings=settings)
    return Client(client, {"Cookie": f"{PLAIN_COOKIE}={opened.token}"})


def _editor_labels(page: str) -> dict[str, list[str]]:
    found = re.search(r"data-editor-labels='([^']*)'", page)
    assert found is not None, page
    labels: dict[str, list[str]] = json.loads(html.unescape(found.group(1)))
    return labels


def _main(page: str) -> str:
    return page.split('<main id="main"', 1)[1]


async def test_the_campaign_pages_speak_finnish_and_swedish(
    client: AsyncTestClient[Litestar],
    sessionmaker: SessionMaker,
    settings: Settings,
    admin: Client,
) -> None:
    await add_recipient(admin, "aino@example.fi", full_name="Aino Aaltonen")
    await add_contact(admin, email="kalle@example.fi", full_name="Kalle Kieltäjä")
    finnish = await _member(client, sessionmaker, settings, "fi")
    campaign_id = await compose(finnish)
    url = f"/app/campaigns/{campaign_id}"

    listed = (await finnish.get("/app/campaigns")).text
    assert '<html lang="fi">' in listed
    assert "Uusi kampanja" in listed and "New campaign" not in listed
    # The codes as words, the day as Finns write it (no leading zero).
    assert "<td>Sähköposti</td>" in listed and ">Luonnos</span>" in listed
    assert re.search(r"<td>[1-9]\d?\.[1-9]\d?\.\d{4}</td>", listed), listed

    composer = (await finnish.get(url)).text
    main = _main(composer)
    for words in ("Tallenna luonnos", "Kohdeyleisö", "Esikatsele", "Lähetä nyt", "Muut kielet"):
        assert words in main, words
    for english in ("Save the draft", "Audience", "Send now", "Other languages", "Left out"):
        assert english not in main, english
    assert re.search(r'id="eligible-count">1 tavoitettavissa<', main), main
    # The one without consent is explained in Finnish, the channel named in it.
    assert "ei suostumusta markkinointiin (kanava: sähköposti)" in main
    # The contacts' languages are named in Finnish too.
    assert "Kieliversio: Ruotsi" in main
    # The editor's buttons: each name holds its visible text.
    labels = _editor_labels(composer)
    assert labels["bold"] == ["L", "Lihavointi"]
    assert labels["ordered-list"] == ["1. Luettelo", "1. Luettelo: numeroitu"]
    for text, name in labels.values():
        core = text.lstrip("• ").strip()
        assert len(core) < 2 or core.lower() in name.lower(), (text, name)

    statistics = _main((await finnish.get(f"{url}/statistics")).text)
    assert "Avaukset ja klikkaukset ajan mittaan" in statistics
    assert "Lataa CSV-tiedostona" in statistics and "Download as CSV" not in statistics

    layouts = (await finnish.get("/app/layouts")).text
    assert "<title>Asettelut" in layouts and "Uusi asettelu" in layouts

    swedish = await _member(client, sessionmaker, settings, "sv")
    composer_sv = _main((await swedish.get(url)).text)
    assert "Spara utkastet" in composer_sv and "Mottagare" in composer_sv
    assert "inget samtycke till marknadsföring via e-post" in composer_sv
    assert _editor_labels((await swedish.get(url)).text)["bold"] == ["F", "Fetstil"]
    listed_sv = (await swedish.get("/app/campaigns")).text
    assert "Ny kampanj" in listed_sv and ">Utkast</span>" in listed_sv


async def test_english_is_unchanged_and_the_editor_gets_its_words(
    client: AsyncTestClient[Litestar],
    sessionmaker: SessionMaker,
    settings: Settings,
    admin: Client,
) -> None:
    await add_recipient(admin, "aino@example.fi", full_name="Aino Aaltonen")
    english = await _member(client, sessionmaker, settings, "en")
    campaign_id = await compose(english, body_format="markdown", body_source="Hello")
    composer = (await english.get(f"/app/campaigns/{campaign_id}")).text
    assert 'data-editor="markdown"' in composer
    assert _editor_labels(composer) == {
        "bold": ["B", "Bold"],
        "italic": ["I", "Italic"],
        "heading": ["H", "Heading"],
        "unordered-list": ["• List", "List"],
        "ordered-list": ["1. List", "1. List: numbered"],
        "quote": ["Quote", "Quote"],
        "link": ["Link", "Link"],
        "image": ["Image", "Image"],
    }
    assert re.search(r'id="eligible-count">1 eligible</a>\s*of 1 contacts', composer)


def test_every_explanation_and_failure_is_written_in_each_language() -> None:
    for language in ("fi", "sv", "en"):
        with i18n.use(language):
            for reason in Reason:
                for channel in CampaignChannel:
                    text = explain(reason, channel)
                    assert text and "%(" not in text and "{" not in text, (language, reason)
            for words in FAILURE_WORDS.values():
                assert i18n.gettext(words), words
    with i18n.use("fi"):
        assert explain(Reason.NO_ADDRESS, CampaignChannel.SMS) == (
            "ei tallennettua tietoa: matkapuhelinnumero"
        )
        assert explain(Reason.DIRECT_MARKETING_BAN, CampaignChannel.EMAIL) != (
            "banned all direct marketing to them"
        )
        assert percent(0.0075, decimals=2) == "0,75"
    with i18n.use("sv"):
        assert explain(Reason.CHANNEL_BAN, CampaignChannel.PHONE) == (
            "förbjöd direktmarknadsföring till sig via telefon"
        )
    with i18n.use("en"):
        assert explain(Reason.NO_ADDRESS, CampaignChannel.SMS) == "no mobile number recorded"
        assert percent(0.0075, decimals=2) == "0.75"
        assert percent(0.5, decimals=1) == "50.0"


async def test_a_campaigns_own_name_is_never_translated(
    client: AsyncTestClient[Litestar], sessionmaker: SessionMaker, settings: Settings
) -> None:
    """A page titled by the register's own data shows it as it is, even when
    it happens to be a word the catalog translates."""
    finnish = await _member(client, sessionmaker, settings, "fi")
    with i18n.use("fi"):
        assert i18n.gettext("Contacts") != "Contacts"  # a word the catalog has
    campaign_id = await compose(finnish, name="Contacts")
    shown = await finnish.get(f"/app/campaigns/{campaign_id}")
    assert shown.status_code == 200
    assert "<title>Contacts · Consentry</title>" in shown.text
    assert "<h1>Contacts</h1>" in shown.text
