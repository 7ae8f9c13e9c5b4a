"""Cookie-derived page views: the visitor cookie a tracked click sets, the
snippet, and the beacon — recorded only with the cookie, a recorded analytics
grant in the site's cookie banner (tests/integration/tracking/
test_site_consent.py has the decisions themselves) and no Do Not Track or
Global Privacy Control."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlmodel import col, select

from service import clock
from service.app import create_app
from service.db import SessionMaker, session_scope
from service.models import EngagementEvent
from service.settings import MAX_VISIT_COOKIE_DAYS, Settings, load_settings
from service.tokens import TokenSigner
from service.tracking import events, site_consent, visits
from tests.conftest import TEST_SECRET
from tests.support.factories import add_campaign, add_recipient, withdraw
from tests.support.worker import worker_context

Client = AsyncTestClient[Litestar]
SIGNER = TokenSigner(TEST_SECRET)
SITE = "https://www.example.fi"
OFFER = f"{SITE}/offer?from=mail"
TRACKED = ("direct_marketing", "email_tracking")
VISITS = {
    "name": "Visits",
    "subject": "S",
    "body_html": f'<a href="{OFFER}">Our offer</a>',
    "body_text": "t",
}
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)


@pytest.fixture
def settings(settings: Settings, settings_env: dict[str, str]) -> Settings:
    return load_settings(
        {
            **settings_env,
            "CONSENTRY_DATABASE_URL": settings.database_url,
            "CONSENTRY_REDIS_URL": settings.redis_url or "",
            "CONSENTRY_PUBLIC_URL": "https://consentry.example.fi",
            "CONSENTRY_SITE_ORIGINS": SITE,
        }
    )


@pytest.fixture
async def ctx(settings: Settings, sessionmaker: SessionMaker) -> AsyncIterator[dict[str, Any]]:
    async with worker_context(settings, sessionmaker) as context:
        await context["redis"].flushdb()
        yield context


async def click(client: Client, contact_id: int, campaign_id: int, **headers: str) -> Any:
    client.cookies.clear()
    token = SIGNER.sign("click", contact_id, campaign_id, 0)
    response = await client.get(
        f"/t/c/{token}", headers={"User-Agent": CHROME, **headers}, follow_redirects=False
    )
    assert response.status_code == 302 and response.headers["location"] == OFFER
    return response


def visitor_cookie(response: Any) -> str | None:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{visits.COOKIE_NAME}="):
            return str(header)
    return None


def cookie_of(contact_id: int, campaign_id: int, days_ago: int = 0) -> str:
    day = (clock.today() - date(1970, 1, 1)).days - days_ago
    return SIGNER.sign(visits.PURPOSE, contact_id, campaign_id, day)


def view(**overrides: Any) -> str:
    body = {
        "page": f"{SITE}/products/boots?size=42#reviews",
        "referrer": "https://search.example.com/results?q=boots",
        "next": f"{SITE}/cart?session=abc",
        "consent": True,
        **overrides,
    }
    return json.dumps(body)


async def granted(sessionmaker: SessionMaker) -> str:
    """A browser whose visitor granted analytics in the cookie banner: its
    consent cookie's visitor id."""
    browser = site_consent.new_visitor_id()
    async with session_scope(sessionmaker) as session:
        words = {site_consent.Category.ANALYTICS: "We may see which pages you look at."}
        await site_consent.set_texts(session, {"en": words}, user_id=None)
        await site_consent.record(
            session,
            decision=site_consent.Decision("en", 1, {site_consent.Category.ANALYTICS: True}),
            visitor=browser,
            contact_id=None,
            opted_out=False,
            ip_network=None,
        )
    return browser


async def beacon(
    client: Client, body: str, cookie: str | None, browser: str | None = None, **headers: str
) -> Any:
    client.cookies.clear()
    sent = {"Content-Type": "text/plain;charset=UTF-8", "Origin": SITE, "User-Agent": CHROME}
    cookies = []
    if cookie is not None:
        cookies.append(f"{visits.COOKIE_NAME}={cookie}")
    if browser is not None:
        cookies.append(f"{site_consent.COOKIE_NAME}={browser}")
    if cookies:
        sent["Cookie"] = "; ".join(cookies)
    return await client.post("/t/v", content=body, headers={**sent, **headers})


async def visits_stored(ctx: dict[str, Any], sessionmaker: SessionMaker) -> list[EngagementEvent]:
    await events.drain(ctx["redis"], sessionmaker, consumer="visits")
    async with sessionmaker() as session:
        query = select(EngagementEvent).where(col(EngagementEvent.kind) == "visit")
        return list((await session.exec(query.order_by(col(EngagementEvent.id)))).all())


# -- the cookie ---------------------------------------------------------------------


async def test_a_tracked_click_sets_a_first_party_cookie(
    admin: Client, ctx: dict[str, Any], settings: Settings
) -> None:
    tracked = await add_recipient(admin, "t@example.fi", consent=TRACKED)
    campaign_id = await add_campaign(admin, **VISITS)

    header = visitor_cookie(await click(admin, tracked, campaign_id))

    assert header is not None
    attributes = {part.strip().split("=")[0].lower() for part in header.split(";")}
    assert {"httponly", "secure"} <= attributes  # Secure: the public URL is https
    assert "samesite=lax" in header.lower() and "path=/t;" in header.lower() + ";"
    assert f"max-age={settings.visit_cookie_days * 86_400}" in header.lower()
    assert settings.visit_cookie_days <= MAX_VISIT_COOKIE_DAYS
    value = header.split(";")[0].split("=", 1)[1].strip('"')
    visitor = visits.read_cookie(SIGNER, value, settings.visit_cookie_days)
    assert visitor == visits.Visitor(tracked, campaign_id)
    # Nothing in it but signed ids: no address, no name.
    assert "example.fi" not in value and "@" not in value


@pytest.mark.parametrize(
    "case", ["no tracking consent", "withdrawn", "anonymous link", "DNT", "Sec-GPC"]
)
async def test_no_cookie_without_consent_or_with_an_opt_out_signal(
    admin: Client, ctx: dict[str, Any], case: str
) -> None:
    campaign_id = await add_campaign(admin, **VISITS)
    headers: dict[str, str] = {}
    if case == "no tracking consent":
        owner = await add_recipient(admin, "n@example.fi")
    elif case == "withdrawn":
        owner = await add_recipient(admin, "w@example.fi", consent=TRACKED)
        await withdraw(admin, owner, purpose="email_tracking", method="web_form")
    elif case == "anonymous link":
        owner = 0
    else:
        owner = await add_recipient(admin, "o@example.fi", consent=TRACKED)
        headers = {"DNT": "1"} if case == "DNT" else {"Sec-GPC": "1"}

    assert visitor_cookie(await click(admin, owner, campaign_id, **headers)) is None


# -- the beacon ---------------------------------------------------------------------


async def test_a_page_view_is_stored_reduced_with_its_contact_and_campaign(
    client: Client, admin: Client, ctx: dict[str, Any], sessionmaker: SessionMaker
) -> None:
    tracked = await add_recipient(admin, "t@example.fi", consent=TRACKED)
    campaign_id = await add_campaign(admin, **VISITS)

    browser = await granted(sessionmaker)

    response = await beacon(client, view(), cookie_of(tracked, campaign_id), browser)

    assert response.status_code == 202
    assert "set-cookie" not in response.headers
    [stored] = await visits_stored(ctx, sessionmaker)
    assert (stored.contact_id, stored.campaign_id) == (tracked, campaign_id)
    # Queries and fragments carry search terms and session ids: origin and path only.
    assert stored.page == f"{SITE}/products/boots"
    assert stored.referrer == "https://search.example.com/results"
    assert stored.next_page == f"{SITE}/cart"
    assert (stored.browser_family, stored.os_family) == ("Chrome", "Linux")


@pytest.mark.parametrize(
    "case",
    [
        "no cookie",
        "forged cookie",
        "expired cookie",
        "no consent cookie",
        "no recorded decision",
        "DNT",
        "Sec-GPC",
    ],
)
async def test_a_page_view_is_not_recorded_without_every_condition(
    client: Client, admin: Client, ctx: dict[str, Any], sessionmaker: SessionMaker, case: str
) -> None:
    tracked = await add_recipient(admin, "t@example.fi", consent=TRACKED)
    campaign_id = await add_campaign(admin, **VISITS)
    cookie: str | None = cookie_of(tracked, campaign_id)
    browser: str | None = await granted(sessionmaker)
    # The body's flag is no decision: every case claims consent.
    body, headers = view(consent=True), {}
    match case:
        case "no cookie":
            cookie = None
        case "forged cookie":
            cookie = TokenSigner("another secret " * 3).sign(visits.PURPOSE, tracked, 0, 0)
        case "expired cookie":
            cookie = cookie_of(tracked, campaign_id, days_ago=MAX_VISIT_COOKIE_DAYS)
        case "no consent cookie":
            browser = None
        case "no recorded decision":
            browser = site_consent.new_visitor_id()
        case "DNT":
            headers = {"DNT": "1"}
        case "Sec-GPC":
            headers = {"Sec-GPC": "1"}

    response = await beacon(client, body, cookie, browser, **headers)

    assert response.status_code == 204
    assert await visits_stored(ctx, sessionmaker) == []


async def test_a_page_view_after_withdrawal_is_not_stored(
    client: Client, admin: Client, ctx: dict[str, Any], sessionmaker: SessionMaker
) -> None:
    tracked = await add_recipient(admin, "t@example.fi", consent=TRACKED)
    cookie = cookie_of(tracked, await add_campaign(admin, **VISITS))
    await withdraw(admin, tracked, purpose="email_tracking", method="web_form")
    browser = await granted(sessionmaker)

    # The beacon reads only the cookie decision; the worker checks tracking consent.
    assert (await beacon(client, view(), cookie, browser)).status_code == 202
    assert await visits_stored(ctx, sessionmaker) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("not json", None),
        ("[1, 2]", None),
        (view(page="https://elsewhere.example/"), "page"),
        (view(page="https://www.example.fi.evil.example/"), "page"),
        (view(page=None), "page"),
        (view(page="javascript:alert(1)"), "page"),
        (view(referrer=42), "referrer"),
        (view(consent="yes"), "consent"),
        (view(extra=1), "extra"),
    ],
)
async def test_a_bad_beacon_is_a_400_naming_the_field(
    client: Client, ctx: dict[str, Any], sessionmaker: SessionMaker, body: str, field: str | None
) -> None:
    response = await beacon(client, body, cookie_of(1, 1))

    assert response.status_code == 400
    answer = response.json()
    assert answer["detail"].startswith("not a page view")
    assert list(answer["fields"]) == ([field] if field else [])
    assert await ctx["redis"].xlen(events.STREAM) == 0


async def test_an_oversized_beacon_is_refused(client: Client, ctx: dict[str, Any]) -> None:
    response = await beacon(client, view(next=f"{SITE}/{'a' * 5000}"), cookie_of(1, 1))
    assert response.status_code == 413
    assert await ctx["redis"].xlen(events.STREAM) == 0


async def test_a_beacon_from_another_site_is_refused(client: Client, ctx: dict[str, Any]) -> None:
    response = await beacon(client, view(), cookie_of(1, 1), Origin="https://evil.example")
    assert response.status_code == 403
    assert await ctx["redis"].xlen(events.STREAM) == 0


async def test_page_views_are_off_without_a_configured_site(
    settings: Settings, ctx: dict[str, Any]
) -> None:
    app = create_app(dataclasses.replace(settings, site_origins=()))
    async with AsyncTestClient(app) as client:
        response = await beacon(client, view(), cookie_of(1, 1))
    assert response.status_code == 403
    assert "CONSENTRY_SITE_ORIGINS" in response.json()["detail"]
    assert await ctx["redis"].xlen(events.STREAM) == 0


async def test_the_snippet_is_served_and_honours_the_signals(client: Client) -> None:
    response = await client.get("/t/v.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    script = response.text
    for signal in ("doNotTrack", "globalPrivacyControl", "/consent", "sendBeacon"):
        assert signal in script
