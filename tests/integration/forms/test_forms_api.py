"""Signup forms through the HTTP API: definition, validation, versions, and
the consent texts archive behind their checkboxes."""

from __future__ import annotations

import hashlib
import html
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import SessionMaker, session_scope
from service.forms import service
from service.models import ConsentText, FormVersion, SignupForm
from service.models.enums import Role
from tests.conftest import TokenFactory

Client = AsyncTestClient[Litestar]
FORMS = "/api/v1/forms"
EMAIL_TEXT = {
    "fi": "Haluan uutiskirjeen sähköpostiini.",
    "en": "Send me the newsletter by email.",
}


def form_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "slug": "news",
        "name": "Newsletter",
        "languages": ["fi", "en"],
        "offers": [{"channel": "email", "purpose": "direct_marketing", "text": EMAIL_TEXT}],
        "fields": ["full_name", {"name": "email", "required": True}, "employer"],
        "notice_version": "2026-01",
        "thank_you_url": "https://example.fi/thanks",
        "confirmed_url": "https://example.fi/welcome",
        "origins": ["https://www.example.fi", "HTTP://localhost:8080/"],
    }
    body.update(overrides)
    return body


async def count(session: AsyncSession, table: Any) -> int:
    return int((await session.exec(select(func.count()).select_from(table))).one())


async def test_a_form_is_defined_with_its_texts_archived(admin: Client, settings: Any) -> None:
    response = await admin.post(FORMS, json=form_body())
    assert response.status_code == 201, response.text
    form = response.json()
    assert form["slug"] == "news" and form["version"] == 1 and form["double_opt_in"] is True
    assert form["fields"] == [
        {"name": "full_name", "required": False},
        {"name": "email", "required": True},
        {"name": "employer", "required": False},
    ]
    assert form["origins"] == ["https://www.example.fi", "http://localhost:8080"]
    assert form["hosted_url"] == f"{settings.public_url}/s/news"
    (offer,) = form["offers"]
    assert offer["text"] == EMAIL_TEXT
    for lang, words in EMAIL_TEXT.items():
        text = offer["texts"][lang]
        assert text["key"] == "form:news:email.direct_marketing"
        assert text["version"] == 1 and text["body"] == words
        assert text["hash"] == hashlib.sha256(words.encode()).hexdigest()
        archived = (await admin.get(f"/api/v1/consent-texts/{text['id']}")).json()
        assert archived == text
    embed = form["embed"]
    assert f'<form method="post" action="{settings.public_url}/s/news"' in embed
    assert '<input type="hidden" name="language" value="fi">' in embed
    assert 'type="checkbox" name="consent" value="email.direct_marketing">' in embed
    assert "checked" not in embed
    assert html.escape(EMAIL_TEXT["fi"]) in embed
    assert 'name="website" value="" tabindex="-1" autocomplete="off"' in embed
    assert '<input type="email" name="email" autocomplete="email" required>' in embed
    assert EMAIL_TEXT["en"] in form["embeds"]["en"]
    listed = (await admin.get(FORMS)).json()
    assert [f["id"] for f in listed] == [form["id"]]
    assert (await admin.get(f"{FORMS}/{form['id']}")).json() == form


async def test_a_slug_in_use_is_a_conflict(admin: Client, session: AsyncSession) -> None:
    assert (await admin.post(FORMS, json=form_body())).status_code == 201
    response = await admin.post(FORMS, json=form_body(name="Another"))
    assert response.status_code == 409, response.text
    assert response.json()["reason"] == "slug_taken"
    assert await count(session, SignupForm) == 1


async def test_a_change_is_a_new_version_and_the_old_stays_readable(
    admin: Client, session: AsyncSession
) -> None:
    form = (await admin.post(FORMS, json=form_body())).json()
    old = form["offers"][0]["texts"]
    changed = {"fi": EMAIL_TEXT["fi"], "en": "Email me the newsletter, monthly."}
    offers = [
        {"channel": "email", "purpose": "direct_marketing", "text": changed},
        {
            "channel": "sms",
            "purpose": "direct_marketing",
            "text": {"fi": "Tekstiviestit käyvät.", "en": "Text messages are fine."},
        },
    ]
    response = await admin.patch(
        f"{FORMS}/{form['id']}",
        json={"offers": offers, "fields": ["full_name", "email", "phone"], "slug": "news"},
    )
    assert response.status_code == 200, response.text
    new = response.json()
    assert new["version"] == 2
    texts = new["offers"][0]["texts"]
    assert texts["fi"]["id"] == old["fi"]["id"] and texts["fi"]["version"] == 1
    assert texts["en"]["id"] != old["en"]["id"] and texts["en"]["version"] == 2
    assert texts["en"]["hash"] == hashlib.sha256(changed["en"].encode()).hexdigest()
    # The phone field is required by the SMS offer, the email one by the email offer.
    assert {f["name"]: f["required"] for f in new["fields"]} == {
        "full_name": False,
        "email": True,
        "phone": True,
    }
    first = (await admin.get(f"{FORMS}/{form['id']}/versions/1")).json()
    assert first["version"] == 1
    assert first["definition"]["offers"][0]["texts"]["en"] == old["en"]
    assert first["definition"]["offers"][0]["text"] == EMAIL_TEXT
    assert len(first["definition"]["offers"]) == 1
    second = (await admin.get(f"{FORMS}/{form['id']}/versions/2")).json()
    assert second["definition"]["offers"][0]["texts"]["en"]["body"] == changed["en"]
    history = (await admin.get(f"{FORMS}/{form['id']}/versions")).json()
    assert [v["version"] for v in history] == [2, 1]
    archived = (
        await admin.get(
            "/api/v1/consent-texts",
            params={"key": "form:news:email.direct_marketing", "language": "en"},
        )
    ).json()
    assert [(t["version"], t["body"]) for t in archived] == [
        (1, EMAIL_TEXT["en"]),
        (2, changed["en"]),
    ]
    # Nothing changed, nothing new.
    again = await admin.patch(f"{FORMS}/{form['id']}", json={"offers": offers})
    assert again.json()["version"] == 2
    assert await count(session, FormVersion) == 2
    assert await count(session, ConsentText) == 2 + 1 + 2
    assert (await admin.get(f"{FORMS}/{form['id']}/versions/3")).status_code == 404
    assert (await admin.get(f"{FORMS}/{form['id']}/versions/99999999999")).status_code == 404


async def test_a_patch_is_checked_whole_and_the_slug_stays(
    admin: Client, session: AsyncSession
) -> None:
    form = (await admin.post(FORMS, json=form_body())).json()
    url = f"{FORMS}/{form['id']}"
    for body, field in [
        ({"slug": "other"}, "slug"),
        ({"languages": ["fi", "en", "sv"]}, "body"),  # no Swedish text
        ({"fields": ["full_name"]}, "body"),  # the email offer needs email
        ({"name": None}, "name"),
        ({"thank_you_url": "javascript:alert(1)"}, "thank_you_url"),
        ({"colour": "red"}, "colour"),
    ]:
        response = await admin.patch(url, json=body)
        assert response.status_code == 422, (body, response.text)
        assert field in response.json()["fields"], (body, response.json())
    assert (await admin.get(url)).json()["version"] == 1
    assert await count(session, FormVersion) == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"slug": "News Letter"}, "slug"),
        ({"slug": "-news"}, "slug"),
        ({"slug": "x" * 65}, "slug"),
        ({"languages": []}, "languages"),
        ({"languages": ["de"]}, "languages.0"),
        ({"offers": []}, "offers"),
        ({"fields": ["full_name", "personal_identity_code", "email"]}, "body"),
        ({"fields": ["full_name", "email", "email"]}, "body"),
        ({"fields": ["full_name", {"name": "email", "required": False}]}, "body"),
        ({"fields": "email"}, "fields"),
        ({"fields": [7]}, "fields.0"),
        ({"thank_you_url": "/thanks"}, "thank_you_url"),
        ({"confirmed_url": "ftp://example.fi/x"}, "confirmed_url"),
        ({"confirmed_url": "https://user:pw@example.fi/"}, "confirmed_url"),
        ({"origins": ["https://example.fi/path"]}, "origins.0"),
        ({"origins": ["example.fi"]}, "origins.0"),
        ({"origins": ["https://e.fi:99999"]}, "origins.0"),
        ({"double_opt_in": "perhaps"}, "double_opt_in"),
        ({"unknown": 1}, "unknown"),
        ({"name": "x" * 201}, "name"),
        ({"name": "two\nlines"}, "name"),
    ],
)
async def test_bad_definitions_are_refused(
    admin: Client, session: AsyncSession, overrides: dict[str, Any], field: str
) -> None:
    response = await admin.post(FORMS, json=form_body(**overrides))
    assert response.status_code == 422, response.text
    assert field in response.json()["fields"], response.json()
    assert await count(session, SignupForm) == 0
    assert await count(session, ConsentText) == 0


@pytest.mark.parametrize(
    "offers",
    [
        [{"channel": "email", "purpose": "direct_marketing", "text": EMAIL_TEXT}] * 2,
        [{"channel": "email", "purpose": "direct_marketing", "text": {"fi": "vain suomeksi"}}],
        [
            {
                "channel": "email",
                "purpose": "direct_marketing",
                "text": {**EMAIL_TEXT, "sv": "på svenska"},
            }
        ],
        [{"channel": "sms", "purpose": "email_tracking", "text": EMAIL_TEXT}],
        [{"channel": "pigeon", "purpose": "direct_marketing", "text": EMAIL_TEXT}],
        [{"channel": "email", "purpose": "direct_marketing", "text": {"fi": "", "en": "x"}}],
        [{"channel": "email", "purpose": "direct_marketing", "text": {"fi": "a\x00", "en": "x"}}],
        [{"channel": "email", "purpose": "direct_marketing", "text": {"fi": "x" * 4001}}],
        [{"channel": "post", "purpose": "direct_marketing", "text": EMAIL_TEXT}],
        [{"channel": "email", "purpose": "direct_marketing"}],
    ],
)
async def test_bad_offers_are_refused(
    admin: Client, session: AsyncSession, offers: list[dict[str, Any]]
) -> None:
    response = await admin.post(FORMS, json=form_body(offers=offers))
    assert response.status_code == 422, response.text
    assert response.json()["fields"]
    assert await count(session, ConsentText) == 0


async def test_hostile_bodies_get_no_server_error(admin: Client, session: AsyncSession) -> None:
    for raw in [b"[]", b"null", b"{", b'{"slug": ' * 10_000, b'"x"']:
        response = await admin.post(
            FORMS, content=raw, headers={"Content-Type": "application/json"}
        )
        assert 400 <= response.status_code < 500, (raw[:20], response.status_code)
    huge = form_body(name="x" * 2_000_000)
    assert (await admin.post(FORMS, json=huge)).status_code == 413
    many = form_body(origins=[f"https://s{i}.example.fi" for i in range(1000)])
    assert (await admin.post(FORMS, json=many)).status_code == 422
    assert await count(session, SignupForm) == 0


async def test_texts_are_shown_escaped(admin: Client) -> None:
    script = "<script>alert('x')</script> & <b>news</b>"
    body = form_body(
        offers=[
            {"channel": "email", "purpose": "direct_marketing", "text": {"fi": script, "en": "x"}}
        ]
    )
    form = (await admin.post(FORMS, json=body)).json()
    assert form["offers"][0]["text"]["fi"] == script  # stored as the words given
    assert "<script>" not in form["embed"]
    assert html.escape(script) in form["embed"]


async def test_roles(client: Client, make_token: TokenFactory) -> None:
    marketer = {"Authorization": f"Bearer {await make_token(Role.MARKETER)}"}
    viewer = {"Authorization": f"Bearer {await make_token(Role.VIEWER)}"}
    caller = {"Authorization": f"Bearer {await make_token(Role.CALLER)}"}
    assert (await client.post(FORMS, json=form_body(), headers=viewer)).status_code == 403
    created = await client.post(FORMS, json=form_body(), headers=marketer)
    assert created.status_code == 201
    url = f"{FORMS}/{created.json()['id']}"
    assert (await client.get(url, headers=viewer)).status_code == 200
    assert (await client.patch(url, json={"name": "x"}, headers=viewer)).status_code == 403
    assert (await client.get(url, headers=caller)).status_code == 403
    assert (await client.get(FORMS)).status_code == 401
    assert (await client.get("/api/v1/consent-texts?key=x", headers=caller)).status_code == 403


async def test_the_archive_read_api(admin: Client) -> None:
    assert (await admin.get("/api/v1/consent-texts/424242")).status_code == 404
    assert (await admin.get("/api/v1/consent-texts/0")).status_code == 404
    assert (await admin.get(f"/api/v1/consent-texts/{2**70}")).status_code in (400, 404, 422)
    assert (await admin.get("/api/v1/consent-texts")).status_code == 400
    assert (await admin.get("/api/v1/consent-texts?key=nothing")).json() == []
    assert (await admin.get("/api/v1/consent-texts?key=x&language=de")).status_code == 422


async def test_the_public_side_reads_a_form_by_its_slug(
    admin: Client, sessionmaker: SessionMaker
) -> None:
    created = (await admin.post(FORMS, json=form_body())).json()
    async with session_scope(sessionmaker) as session:
        assert await service.by_slug(session, "nothing") is None
        form = await service.by_slug(session, "news")
        assert form is not None and form.id == created["id"]
        assert form.fields == {"full_name": False, "email": True, "employer": False}
        assert form.offers == [
            {
                "channel": "email",
                "purpose": "direct_marketing",
                "texts": {lang: t["id"] for lang, t in created["offers"][0]["texts"].items()},
            }
        ]
        ((channel, purpose, text),) = await service.offers_in(session, form, "en")
        assert (channel, purpose, text.body) == ("email", "direct_marketing", EMAIL_TEXT["en"])
        assert await service.offers_in(session, form, "sv") == []
