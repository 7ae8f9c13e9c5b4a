"""Website consent, recorded: the banner's archived texts (staff API), the
visitor's decisions (``POST /t/consent``) as ledger rows with the text version
and network, and page views stored only under a recorded analytics grant."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlmodel import col, select

from service.app import create_app
from service.consent import archive
from service.db import SessionMaker
from service.models import ConsentText, EngagementEvent, SiteConsentEvent
from service.models.enums import ConsentAction, Role
from service.settings import Settings, load_settings
from service.tokens import TokenSigner
from service.tracking import events, site_consent, visits
from tests.conftest import TEST_SECRET, TokenFactory
from tests.integration.tracking.test_visits import VISITS, beacon, cookie_of, view
from tests.support.factories import add_campaign, add_recipient
from tests.support.worker import worker_context

Client = AsyncTestClient[Litestar]
SIGNER = TokenSigner(TEST_SECRET)
SITE = "https://www.example.fi"
TRACKED = ("direct_marketing", "email_tracking")
TEXTS = {
    "fi": {
        "necessary": "Välttämättömät evästeet pitävät sivuston toiminnassa.",
        "analytics": "Saamme seurata, mitä sivuja katsot.",
        "marketing": "Saamme näyttää sinulle mainoksia.",
    },
    "en": {"analytics": "We may see which pages you look at."},
}


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


async def set_banner(api: Client, texts: dict[str, Any] = TEXTS) -> dict[str, Any]:
    response = await api.put("/api/v1/site-consent/texts", json=texts)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def decision(**overrides: Any) -> dict[str, Any]:
    body = {"language": "fi", "categories": {"analytics": True, "marketing": False}, "version": 1}
    return body | overrides


async def decide(
    client: Client,
    body: dict[str, Any] | str,
    *,
    consent: str | None = None,
    visitor: str | None = None,
    **headers: str,
) -> Any:
    client.cookies.clear()
    sent = {"Content-Type": "application/json", "Origin": SITE}
    cookies = []
    if consent is not None:
        cookies.append(f"{site_consent.COOKIE_NAME}={consent}")
    if visitor is not None:
        cookies.append(f"{visits.COOKIE_NAME}={visitor}")
    if cookies:
        sent["Cookie"] = "; ".join(cookies)
    content = body if isinstance(body, str) else json.dumps(body)
    return await client.post("/t/consent", content=content, headers={**sent, **headers})


def consent_cookie(response: Any) -> str | None:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{site_consent.COOKIE_NAME}="):
            return str(header)
    return None


def cookie_value(header: str) -> str:
    return header.split(";")[0].split("=", 1)[1].strip('"')


async def recorded(sessionmaker: SessionMaker) -> list[SiteConsentEvent]:
    async with sessionmaker() as session:
        rows = await session.exec(select(SiteConsentEvent).order_by(col(SiteConsentEvent.id)))
        return list(rows.all())


# -- banner texts ---------------------------------------------------------------------


async def test_banner_texts_are_archived_and_versioned(
    admin: Client, sessionmaker: SessionMaker
) -> None:
    first = await set_banner(admin)

    assert sorted(first) == ["en", "fi"]
    fi = first["fi"]
    assert fi["version"] == 1 and set(fi["categories"]) == {"necessary", "analytics", "marketing"}
    analytics = fi["categories"]["analytics"]
    assert analytics["hash"] == archive.text_hash(TEXTS["fi"]["analytics"])
    assert analytics["text"] == TEXTS["fi"]["analytics"]
    # The same words again: the same versions.
    assert await set_banner(admin) == first

    changed = {"fi": {**TEXTS["fi"], "marketing": "Mainoksia, kiitos."}}
    second = await set_banner(admin, changed)

    assert second["fi"]["version"] == 2
    assert second["fi"]["categories"]["analytics"] == analytics  # unchanged words, same text
    assert second["fi"]["categories"]["marketing"]["version"] == 2
    assert second["en"] == first["en"]  # a language not given keeps its banner
    assert (await admin.get("/api/v1/site-consent/texts")).json() == second
    async with sessionmaker() as session:
        keys = {row.key for row in (await session.exec(select(ConsentText))).all()}
    assert keys == {"banner", "banner:necessary", "banner:analytics", "banner:marketing"}


@pytest.mark.parametrize(
    "body",
    [
        {"de": {"analytics": "x"}},
        {"fi": {"tracking": "x"}},
        {"fi": {"analytics": ""}},
        {"fi": {"analytics": 3}},
        {"fi": {"necessary": "only the necessary"}},
        {"fi": "text"},
        {"fi": {"analytics": "x" * (archive.MAX_TEXT_LENGTH + 1)}},
        {},
    ],
)
async def test_bad_banner_texts_are_refused(admin: Client, body: dict[str, Any]) -> None:
    response = await admin.put("/api/v1/site-consent/texts", json=body)
    assert response.status_code == 422
    assert (await admin.get("/api/v1/site-consent/texts")).json() == {}


async def test_banner_texts_need_the_forms_permissions(
    client: Client, make_token: TokenFactory
) -> None:
    viewer = {"Authorization": f"Bearer {await make_token(Role.VIEWER)}"}
    assert (await client.get("/api/v1/site-consent/texts", headers=viewer)).status_code == 200
    response = await client.put("/api/v1/site-consent/texts", json=TEXTS, headers=viewer)
    assert response.status_code == 403


# -- decisions ------------------------------------------------------------------------


async def test_a_decision_is_recorded_with_its_text_version_and_network(
    app: Litestar, admin: Client, sessionmaker: SessionMaker, settings: Settings
) -> None:
    # The test client always says "testclient"; a transport can say where from.
    # Every request of this test goes through it: the app's connections then
    # all belong to this test's event loop.
    transport = httpx.ASGITransport(app=app, client=("203.0.113.77", 50123))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as remote:
        texts = await remote.put(
            "/api/v1/site-consent/texts",
            json=TEXTS,
            headers={"Authorization": admin.headers["Authorization"]},
        )
        banner = texts.json()["fi"]
        response = await remote.post(
            "/t/consent",
            json=decision(categories={"necessary": True, "analytics": True, "marketing": False}),
            headers={"Origin": SITE},
        )

    assert response.status_code == 200
    assert response.json() == {
        "recorded": {"analytics": "grant", "marketing": "withdraw"},
        "opt_out_signal": False,
    }
    assert response.headers["access-control-allow-origin"] == SITE
    assert response.headers["access-control-allow-credentials"] == "true"
    header = consent_cookie(response)
    assert header is not None
    lowered = header.lower()
    assert "httponly" in lowered and "secure" in lowered and "samesite=lax" in lowered
    assert "path=/t" in lowered
    assert f"max-age={settings.visit_cookie_days * 86_400}" in lowered
    visitor = cookie_value(header)
    assert site_consent.read_visitor_id(visitor) == visitor

    rows = await recorded(sessionmaker)
    assert [(r.category, r.action, r.text_id) for r in rows] == [
        ("analytics", ConsentAction.GRANT, banner["categories"]["analytics"]["id"]),
        ("marketing", ConsentAction.WITHDRAW, banner["categories"]["marketing"]["id"]),
    ]
    assert {(r.visitor, r.contact_id, r.language, r.ip_network) for r in rows} == {
        (visitor, None, "fi", "203.0.113.0/24")
    }
    assert "203.0.113.77" not in response.text and visitor not in response.text


async def test_the_consent_cookie_is_kept_and_a_foreign_value_replaced(
    admin: Client, sessionmaker: SessionMaker
) -> None:
    await set_banner(admin)
    kept = site_consent.new_visitor_id()

    again = await decide(admin, decision(), consent=kept)
    replaced = await decide(admin, decision(), consent="not-ours")

    assert again.status_code == 200 and consent_cookie(again) is None
    assert replaced.status_code == 200
    header = consent_cookie(replaced)
    assert header is not None and cookie_value(header) != "not-ours"
    assert {r.visitor for r in await recorded(sessionmaker)} == {kept, cookie_value(header)}


async def test_a_decision_names_a_banner_version_that_exists(
    admin: Client, sessionmaker: SessionMaker
) -> None:
    await set_banner(admin)

    unknown = await decide(admin, decision(version=2))
    other_language = await decide(admin, decision(language="sv"))
    not_offered = await decide(admin, decision(language="en"))  # en offers no marketing

    for response in (unknown, other_language):
        assert response.status_code == 400
        assert "version" in response.json()["fields"]
    assert not_offered.status_code == 400 and "categories" in not_offered.json()["fields"]
    assert consent_cookie(unknown) is None
    assert await recorded(sessionmaker) == []


@pytest.mark.parametrize("signal", [{"Sec-GPC": "1"}, {"DNT": "1"}])
async def test_an_opt_out_signal_records_a_grant_as_a_withdrawal(
    admin: Client, sessionmaker: SessionMaker, signal: dict[str, str]
) -> None:
    await set_banner(admin)
    everything = {"analytics": True, "marketing": True}

    response = await decide(admin, decision(categories=everything), **signal)

    assert response.status_code == 200
    assert response.json() == {
        "recorded": {"analytics": "withdraw", "marketing": "withdraw"},
        "opt_out_signal": True,
    }
    assert {r.action for r in await recorded(sessionmaker)} == {ConsentAction.WITHDRAW}


async def test_cors_answers_the_site_only(admin: Client, sessionmaker: SessionMaker) -> None:
    await set_banner(admin)
    preflight = {"Access-Control-Request-Method": "POST"}

    ours = await admin.options("/t/consent", headers={"Origin": SITE, **preflight})
    theirs = await admin.options("/t/consent", headers={"Origin": "https://evil.example"})
    refused = await decide(admin, decision(), Origin="https://evil.example")

    assert ours.status_code == 204
    assert ours.headers["access-control-allow-origin"] == SITE
    assert ours.headers["access-control-allow-credentials"] == "true"
    assert "POST" in ours.headers["access-control-allow-methods"]
    assert "content-type" in ours.headers["access-control-allow-headers"].lower()
    assert theirs.status_code == 403
    assert "access-control-allow-origin" not in theirs.headers
    assert refused.status_code == 403
    assert "access-control-allow-origin" not in refused.headers
    assert await recorded(sessionmaker) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("not json", None),
        ("[1, 2]", None),
        ("[" * 100, None),
        ('{"language": "fi", "version": 1, "categories": {"analytics": true}', None),
        (decision(language="de"), "language"),
        (decision(language=None), "language"),
        (decision(version="1"), "version"),
        (decision(version=True), "version"),
        (decision(version=0), "version"),
        (decision(version=2**63), "version"),
        (decision(version=1.5), "version"),
        (decision(categories=[]), "categories"),
        (decision(categories={}), "categories"),
        (decision(categories={"analytics": "yes"}), "categories"),
        (decision(categories={"tracking": True}), "categories"),
        (decision(categories={"necessary": False, "analytics": True}), "categories"),
        (decision(categories={"necessary": True}), "categories"),
        (decision(extra=1), "extra"),
        ('{"language": "fi\\u0000"}', "language"),
    ],
)
async def test_a_hostile_decision_is_a_400(
    admin: Client, sessionmaker: SessionMaker, body: Any, field: str | None
) -> None:
    await set_banner(admin)

    response = await decide(admin, body)

    assert response.status_code == 400
    assert response.json()["detail"].startswith("not a cookie decision")
    assert list(response.json()["fields"]) == ([field] if field else [])
    assert await recorded(sessionmaker) == []


async def test_an_oversized_decision_is_refused(admin: Client, sessionmaker: SessionMaker) -> None:
    await set_banner(admin)
    response = await decide(admin, decision(padding="x" * 2000))
    assert response.status_code == 413
    assert await recorded(sessionmaker) == []


async def test_website_consent_is_off_without_a_configured_site(
    settings: Settings, sessionmaker: SessionMaker
) -> None:
    async with AsyncTestClient(create_app(replace(settings, site_origins=()))) as client:
        response = await decide(client, decision())
    assert response.status_code == 403
    assert "CONSENTRY_SITE_ORIGINS" in response.json()["detail"]


# -- the contact, once known --------------------------------------------------------


async def test_a_known_visitor_s_decisions_name_the_contact(
    admin: Client, sessionmaker: SessionMaker
) -> None:
    await set_banner(admin)
    tracked = await add_recipient(admin, "t@example.fi", consent=TRACKED)
    campaign_id = await add_campaign(admin, **VISITS)
    browser = site_consent.new_visitor_id()
    other = site_consent.new_visitor_id()
    await decide(admin, decision(), consent=browser)  # before the visitor is known
    await decide(admin, decision(), consent=other)  # another browser, never linked

    # A later decision carrying both cookies names the contact, and links the earlier ones.
    await decide(admin, decision(), consent=browser, visitor=cookie_of(tracked, campaign_id))
    forged = TokenSigner("another secret " * 3).sign(visits.PURPOSE, tracked, 0, 0)
    await decide(admin, decision(), consent=other, visitor=forged)

    rows = await recorded(sessionmaker)
    assert {(r.visitor, r.contact_id) for r in rows} == {(browser, tracked), (other, None)}
    assert len([r for r in rows if r.visitor == browser]) == 4


async def test_a_tracked_click_links_the_browser_s_earlier_decisions(
    admin: Client, sessionmaker: SessionMaker
) -> None:
    await set_banner(admin)
    tracked = await add_recipient(admin, "t@example.fi", consent=TRACKED)
    campaign_id = await add_campaign(admin, **VISITS)
    browser = site_consent.new_visitor_id()
    await decide(admin, decision(), consent=browser)

    admin.cookies.clear()
    token = SIGNER.sign("click", tracked, campaign_id, 0)
    response = await admin.get(
        f"/t/c/{token}",
        headers={"Cookie": f"{site_consent.COOKIE_NAME}={browser}"},
        follow_redirects=False,
    )

    assert response.status_code == 302
    assert {r.contact_id for r in await recorded(sessionmaker)} == {tracked}


async def test_the_decisions_are_in_the_access_export_and_go_with_erasure(
    admin: Client, sessionmaker: SessionMaker
) -> None:
    banner = (await set_banner(admin))["fi"]
    tracked = await add_recipient(admin, "t@example.fi", consent=TRACKED)
    browser = site_consent.new_visitor_id()
    visitor = cookie_of(tracked, await add_campaign(admin, **VISITS))
    await decide(admin, decision(), consent=browser, visitor=visitor)

    export = await admin.get(f"/api/v1/contacts/{tracked}/export")

    assert export.status_code == 200, export.text
    consents = export.json()["site_consents"]
    assert [(c["category"], c["action"], c["text_id"]) for c in consents] == [
        ("analytics", "grant", banner["categories"]["analytics"]["id"]),
        ("marketing", "withdraw", banner["categories"]["marketing"]["id"]),
    ]
    assert consents[0]["text_version"] == 1
    assert consents[0]["visitor"] == browser
    packed = await admin.get(f"/api/v1/contacts/{tracked}/export.zip")
    with zipfile.ZipFile(io.BytesIO(packed.content)) as package:
        lines = package.read("site_consents.csv").decode().splitlines()
    assert lines[0].startswith("id,visitor,category,action,text_id,text_version,text_hash")
    assert len(lines) == 3

    assert (await admin.delete(f"/api/v1/contacts/{tracked}")).status_code == 204
    assert await recorded(sessionmaker) == []


# -- page views under the recorded decision -----------------------------------------


async def stored_views(ctx: dict[str, Any], sessionmaker: SessionMaker) -> list[EngagementEvent]:
    await events.drain(ctx["redis"], sessionmaker, consumer="site-consent")
    async with sessionmaker() as session:
        query = select(EngagementEvent).where(col(EngagementEvent.kind) == "visit")
        return list((await session.exec(query)).all())


async def send_view(client: Client, browser: str | None, visitor: str, **headers: str) -> Any:
    cookie = f"{visits.COOKIE_NAME}={visitor}"
    if browser is not None:
        cookie += f"; {site_consent.COOKIE_NAME}={browser}"
    return await beacon(client, view(consent=True), None, Cookie=cookie, **headers)


async def test_a_view_with_no_recorded_decision_is_not_stored(
    admin: Client, ctx: dict[str, Any], sessionmaker: SessionMaker
) -> None:
    tracked = await add_recipient(admin, "t@example.fi", consent=TRACKED)
    visitor = cookie_of(tracked, await add_campaign(admin, **VISITS))

    # The client's "consent": true is not a decision.
    no_cookie = await send_view(admin, None, visitor)
    no_decision = await send_view(admin, site_consent.new_visitor_id(), visitor)

    assert (no_cookie.status_code, no_decision.status_code) == (204, 204)
    assert await stored_views(ctx, sessionmaker) == []


async def test_a_view_follows_the_latest_analytics_decision(
    admin: Client, ctx: dict[str, Any], sessionmaker: SessionMaker
) -> None:
    await set_banner(admin)
    tracked = await add_recipient(admin, "t@example.fi", consent=TRACKED)
    visitor = cookie_of(tracked, await add_campaign(admin, **VISITS))
    browser = site_consent.new_visitor_id()

    await decide(admin, decision(), consent=browser)
    after_grant = await send_view(admin, browser, visitor)
    with_gpc = await send_view(admin, browser, visitor, **{"Sec-GPC": "1"})
    assert len(await stored_views(ctx, sessionmaker)) == 1

    await decide(admin, decision(categories={"analytics": False}), consent=browser)
    after_withdrawal = await send_view(admin, browser, visitor)

    assert (after_grant.status_code, with_gpc.status_code) == (202, 204)
    assert after_withdrawal.status_code == 204
    assert len(await stored_views(ctx, sessionmaker)) == 1


async def test_a_withdrawal_in_another_browser_stops_views_a_grant_there_does_not_start_them(
    admin: Client, ctx: dict[str, Any], sessionmaker: SessionMaker
) -> None:
    await set_banner(admin)
    tracked = await add_recipient(admin, "t@example.fi", consent=TRACKED)
    visitor = cookie_of(tracked, await add_campaign(admin, **VISITS))
    laptop, phone = site_consent.new_visitor_id(), site_consent.new_visitor_id()
    await decide(admin, decision(), consent=laptop, visitor=visitor)

    no = {"analytics": False}
    await decide(admin, decision(categories=no), consent=phone, visitor=visitor)
    assert (await send_view(admin, laptop, visitor)).status_code == 204
    assert (await send_view(admin, phone, visitor)).status_code == 204

    await decide(admin, decision(), consent=laptop, visitor=visitor)
    assert (await send_view(admin, laptop, visitor)).status_code == 202
    assert (await send_view(admin, phone, visitor)).status_code == 204
    assert len(await stored_views(ctx, sessionmaker)) == 1


async def test_the_snippet_posts_decisions_and_follows_the_server(client: Client) -> None:
    script = (await client.get("/t/v.js")).text
    for part in ("/consent", "recorded", "analytics", "globalPrivacyControl", "doNotTrack"):
        assert part in script
    assert "consentryCookieConsent" not in script  # the site's own flag is no longer trusted
