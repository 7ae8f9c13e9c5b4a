"""What the public form takes and refuses: the page's languages and
headers, errors shown on the form, JSON with CORS for the form's own origins
only, redirects, and hostile input, which gets a 400, never a 5xx."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func
from sqlmodel import select

from service.db import SessionMaker
from service.models import Contact, Signup
from tests.support.forms import TEXTS, add_form, unique_address

Client = AsyncTestClient[Litestar]
OFFER = "email.direct_marketing"
SHOP = "https://shop.example.fi"


async def count(sessionmaker: SessionMaker, model: Any) -> int:
    async with sessionmaker() as session:
        return int((await session.exec(select(func.count()).select_from(model))).one())


async def test_the_page_speaks_the_asked_or_the_browsers_language_among_the_forms(
    visitor: Client, sessionmaker: SessionMaker
) -> None:
    form = await add_form(sessionmaker, languages=("sv", "en"))
    cases = [
        ({"lang": "en"}, {}, "en"),
        ({"lang": "fi"}, {"accept-language": "fi-FI,en;q=0.5"}, "en"),  # fi: not the form's
        ({}, {"accept-language": "sv-FI,sv;q=0.9"}, "sv"),
        ({}, {"accept-language": "de"}, "sv"),  # the form's first
    ]
    for params, headers, lang in cases:
        page = await visitor.get(f"/s/{form.slug}", params=params, headers=headers)
        assert page.status_code == 200
        assert f'<html lang="{lang}">' in page.text
        assert TEXTS[lang].format(pair=OFFER) in page.text
        assert f'name="language" value="{lang}"' in page.text


async def test_unknown_and_inactive_forms_are_a_404_page(
    visitor: Client, sessionmaker: SessionMaker
) -> None:
    closed = await add_form(sessionmaker, active=False)
    for slug in ("nothing-here", closed.slug, "x" * 300):
        for method in ("GET", "POST"):
            answer = await visitor.request(method, f"/s/{slug}", data={"email": "a@example.fi"})
            assert answer.status_code == 404, (method, slug)
            assert answer.headers["content-type"].startswith("text/html")


async def test_errors_come_back_on_the_form_tied_to_their_fields(
    visitor: Client, sessionmaker: SessionMaker
) -> None:
    form = await add_form(sessionmaker, fields={"full_name": True, "email": True, "phone": False})
    answer = await visitor.post(
        f"/s/{form.slug}",
        data={"full_name": "", "email": "not an address", "phone": "12", "language": "en"},
    )
    assert answer.status_code == 400
    page = answer.text
    assert 'role="alert"' in page
    assert 'aria-describedby="f-full_name-error"' in page and "This field is required." in page
    assert 'id="f-email-error"' in page and 'aria-describedby="f-phone-error"' in page
    assert 'id="consent-error"' in page
    assert 'value="not an address"' in page  # what was typed stays
    assert await count(sessionmaker, Contact) == 0


@pytest.mark.parametrize(
    "data",
    [
        {"email": "a@example.fi", "consent": "email.unknown"},
        {"email": "a@example.fi", "consent": "sms.direct_marketing"},  # not this form's
        {"email": "a@example.fi"},
        {"email": "x" * 5000 + "@example.fi", "consent": OFFER},
        {"email": "a@example.fi", "full_name": "x" * 100_000, "consent": OFFER},
        {"email": "a@example.fi\r\nBcc: b@example.fi", "consent": OFFER},
        {"email": "a@example.fi", "full_name": "Ann\x00", "consent": OFFER},
        {"email": "a@example.fi", "consent": [OFFER] * 500},
    ],
)
async def test_hostile_form_posts_are_refused_with_a_400(
    visitor: Client, sessionmaker: SessionMaker, data: dict[str, Any]
) -> None:
    form = await add_form(sessionmaker, fields={"full_name": False, "email": True})
    answer = await visitor.post(f"/s/{form.slug}", data=data)
    assert answer.status_code == 400, answer.text
    assert await count(sessionmaker, Contact) == 0


async def test_repeated_consent_values_count_once(
    visitor: Client, sessionmaker: SessionMaker
) -> None:
    form = await add_form(sessionmaker)
    answer = await visitor.post(
        f"/s/{form.slug}", data={"email": unique_address(), "consent": [OFFER, OFFER, OFFER]}
    )
    assert answer.status_code == 200
    async with sessionmaker() as session:
        signup = (await session.exec(select(Signup))).one()
    assert len(signup.offers) == 1


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", b"email=%ff%fe%00&consent=%zz"),
        ("application/x-www-form-urlencoded", b"\xff\xfe\xfa" * 100),
        ("multipart/form-data; boundary=x", b"--x\r\nbroken"),
        ("multipart/form-data", b"no boundary at all"),
        ("text/plain", b"email=a@example.fi"),
        ("application/json", b"{"),
        ("application/json", b"[1, 2]"),
        ("application/json", b'"a string"'),
        ("application/json", b'{"email": 5, "consent": ["email.direct_marketing"]}'),
        ("application/json", b'{"email": "a@example.fi", "consent": {"a": 1}}'),
        ("application/json", b'{"email": "a@example.fi", "consent": [null]}'),
        ("application/json", b"[" * 10_000),
        ("application/json", b'{"email": "\xff\xfe"}'),
    ],
)
async def test_junk_bodies_are_a_400_never_a_5xx(
    visitor: Client, sessionmaker: SessionMaker, content_type: str, body: bytes
) -> None:
    form = await add_form(sessionmaker)
    answer = await visitor.post(
        f"/s/{form.slug}", content=body, headers={"content-type": content_type}
    )
    assert answer.status_code == 400, answer.text
    assert await count(sessionmaker, Contact) == 0


async def test_json_answers_carry_cors_for_the_forms_origins_only(
    visitor: Client, sessionmaker: SessionMaker
) -> None:
    form = await add_form(sessionmaker, origins=[SHOP])
    body = {"email": unique_address("json"), "consent": [OFFER], "language": "fi"}

    allowed = await visitor.post(f"/s/{form.slug}", json=body, headers={"origin": SHOP})
    assert (allowed.status_code, allowed.json()) == (200, {"status": "pending"})
    assert allowed.headers["access-control-allow-origin"] == SHOP
    assert "origin" in allowed.headers["vary"].lower()

    other = await visitor.post(
        f"/s/{form.slug}",
        json={**body, "email": unique_address("json")},
        headers={"origin": "https://evil.example"},
    )
    assert other.status_code == 200  # a server-side call may post; browsers get no CORS
    assert "access-control-allow-origin" not in other.headers

    invalid = await visitor.post(
        f"/s/{form.slug}", json={"email": "nope", "consent": []}, headers={"origin": SHOP}
    )
    assert invalid.status_code == 400
    assert set(invalid.json()["fields"]) == {"email", "consent"}
    assert invalid.headers["access-control-allow-origin"] == SHOP

    for origin, allows in ((SHOP, True), ("https://evil.example", False), ("*", False)):
        preflight = await visitor.options(
            f"/s/{form.slug}",
            headers={
                "origin": origin,
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type",
            },
        )
        assert preflight.status_code == 204, preflight.text
        assert preflight.headers.get("access-control-allow-origin") == (origin if allows else None)
        if allows:
            assert "POST" in preflight.headers["access-control-allow-methods"]
            assert "content-type" in preflight.headers["access-control-allow-headers"]


async def test_redirects_go_to_the_forms_pages_and_the_policy_lets_them(
    visitor: Client, sessionmaker: SessionMaker
) -> None:
    form = await add_form(
        sessionmaker,
        thank_you_url="https://www.example.fi/kiitos",
        confirmed_url="https://www.example.fi/vahvistettu",
    )
    page = await visitor.get(f"/s/{form.slug}")
    assert "form-action 'self' https://www.example.fi" in page.headers["content-security-policy"]
    answer = await visitor.post(
        f"/s/{form.slug}",
        data={"email": unique_address(), "consent": OFFER},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "https://www.example.fi/kiitos"
    # The honeypot's answer is the same redirect.
    bot = await visitor.post(
        f"/s/{form.slug}",
        data={"email": unique_address(), "consent": OFFER, "website": "x"},
        follow_redirects=False,
    )
    assert (bot.status_code, bot.headers["location"]) == (303, "https://www.example.fi/kiitos")
