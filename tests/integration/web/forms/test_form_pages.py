"""The signup form pages of /app: a form made and changed through the page's
own form (the same checks as the API), its page with the hosted link, the
embed snippet, its texts with versions and hashes and its history; roles."""

from __future__ import annotations

import hashlib
import html
import re
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.models.enums import Role
from tests.conftest import TokenFactory
from tests.integration.web.conftest import Client, SignedIn, csrf

FORM = {
    "name": "Newsletter",
    "slug": "news",
    "languages.fi": "on",
    "languages.en": "on",
    "field.full_name": "required",
    "field.email": "optional",  # made required by the email offer
    "field.city": "optional",
    "offer.email.direct_marketing": "on",
    "text.email.direct_marketing.fi": "Haluan uutiskirjeen.",
    "text.email.direct_marketing.en": "I want the <newsletter> & news.",
    "text.email.direct_marketing.sv": "ignored: Swedish is not a language of the form",
    "thank_you_url": "https://example.fi/thanks",
    "origins": "https://www.example.fi\r\nhttps://shop.example.fi",
    "double_opt_in": "on",
    "active": "on",
}


@pytest.fixture
async def api(client: AsyncTestClient[Litestar], make_token: TokenFactory) -> Client:
    return Client(client, {"Authorization": f"Bearer {await make_token(Role.ADMIN)}"})


DROP = "(not sent)"


async def create(browser: Client, **fields: str) -> Any:
    """Post the new-form page's form; a field given as DROP is left out."""
    shown = await browser.get("/app/forms/new")
    assert shown.status_code == 200, shown.text
    data = {k: v for k, v in {**FORM, **fields}.items() if v != DROP}
    return await browser.post("/app/forms/new", data={**data, "csrf_token": csrf(shown)})


async def test_a_form_is_made_shown_and_changed_through_the_pages(
    signed_in: SignedIn, api: Client, settings: Any
) -> None:
    marketer = await signed_in(Role.MARKETER)
    home = await marketer.get("/app")
    assert 'href="/app/forms"' in home.text
    answer = await create(marketer)
    assert answer.status_code == 303, answer.text
    found = re.fullmatch(r"/app/forms/(\d+)\?saved=1", answer.headers["location"])
    assert found is not None
    form_id = int(found.group(1))
    stored = (await api.get(f"/api/v1/forms/{form_id}")).json()
    assert stored["languages"] == ["fi", "en"] and stored["origins"] == [
        "https://www.example.fi",
        "https://shop.example.fi",
    ]
    assert {f["name"]: f["required"] for f in stored["fields"]} == {
        "full_name": True,
        "email": True,
        "city": False,
    }
    first_en = stored["offers"][0]["texts"]["en"]

    shown = await marketer.get(f"/app/forms/{form_id}?saved=1")
    assert shown.status_code == 200
    text = shown.text
    assert f"{settings.public_url}/s/news" in text
    # The snippet, escaped inside its textarea: copyable as it is.
    area = re.search(r'<textarea id="embed-fi"[^>]*>(.*?)</textarea>', text, re.S)
    assert area is not None
    assert html.unescape(area.group(1)) == stored["embeds"]["fi"]
    assert "I want the &lt;newsletter&gt; &amp; news." in text
    assert "<newsletter>" not in text
    assert first_en["hash"] in text and "Version 1" in text

    edit = await marketer.get(f"/app/forms/{form_id}/edit")
    assert 'name="text.email.direct_marketing.en"' in edit.text
    assert "/s/news" in edit.text and 'name="slug"' not in edit.text
    changed = {**FORM, "text.email.direct_marketing.en": "Send me the newsletter."}
    del changed["slug"]
    saved = await marketer.post(
        f"/app/forms/{form_id}/edit", data={**changed, "csrf_token": csrf(edit)}
    )
    assert saved.status_code == 303, saved.text
    now = (await api.get(f"/api/v1/forms/{form_id}")).json()
    assert now["version"] == 2
    assert now["offers"][0]["texts"]["en"]["version"] == 2
    assert now["offers"][0]["texts"]["fi"]["id"] == stored["offers"][0]["texts"]["fi"]["id"]
    page = (await marketer.get(f"/app/forms/{form_id}")).text
    assert f'href="/app/forms/{form_id}/versions/1"' in page
    assert hashlib.sha256(b"Send me the newsletter.").hexdigest() in page
    old = await marketer.get(f"/app/forms/{form_id}/versions/1")
    assert old.status_code == 200
    assert first_en["hash"] in old.text and "I want the &lt;newsletter&gt;" in old.text
    listing = await marketer.get("/app/forms")
    assert f'href="/app/forms/{form_id}"' in listing.text and "/s/news" in listing.text


async def test_bad_input_shows_the_errors_and_saves_nothing(
    signed_in: SignedIn, api: Client
) -> None:
    marketer = await signed_in(Role.MARKETER)
    for fields, words in [
        ({"slug": "Bad Slug"}, "lowercase letters"),
        ({"field.email": ""}, "needs the field"),
        ({"text.email.direct_marketing.fi": ""}, "offers.0.text.fi"),
        ({"thank_you_url": "javascript:alert(1)"}, "absolute http(s) URL"),
        ({"origins": "https://x.fi/path"}, "not a site origin"),
        (
            {"name": "<script>alert(1)</script>", "languages.fi": DROP, "languages.en": DROP},
            "languages",
        ),
    ]:
        answer = await create(marketer, **fields)
        assert answer.status_code == 422, (fields, answer.status_code)
        assert words in html.unescape(answer.text), (fields, answer.text)
        assert "<script>alert(1)" not in answer.text
    assert (await api.get("/api/v1/forms")).json() == []
    assert (await create(marketer)).status_code == 303
    again = await create(marketer, name="Another")
    assert again.status_code == 409 and "in use" in again.text
    assert len((await api.get("/api/v1/forms")).json()) == 1


async def test_roles_and_csrf(signed_in: SignedIn) -> None:
    viewer = await signed_in(Role.VIEWER)
    caller = await signed_in(Role.CALLER)
    marketer = await signed_in(Role.MARKETER)
    assert (await create(marketer)).status_code == 303
    listing = await viewer.get("/app/forms")
    assert listing.status_code == 200 and 'href="/app/forms/new"' not in listing.text
    assert (await viewer.get("/app/forms/new")).status_code == 403
    assert (await caller.get("/app/forms")).status_code == 403
    assert 'href="/app/forms"' not in (await caller.get("/app")).text
    no_token = await marketer.post("/app/forms/new", data={**FORM, "slug": "other"})
    assert no_token.status_code == 403
    assert (await marketer.get("/app/forms/999999")).status_code == 404
    assert (await marketer.get("/app/forms/1/versions/99")).status_code == 404
