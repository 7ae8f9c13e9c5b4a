"""Every page is valid HTML, as the Nu HTML Checker (vnu.jar) says.

The staff pages are found the way a person finds them: from every ``/app``
page the route table has without a parameter, each link to another page is
followed (one page per route and set of query parameters), as an admin over
a register holding one of each thing (a contact with consents and a ban, an
email campaign and a phone one, a signup form, a breach, a request); the
home page as every role; the login pages on the way in. The public pages
(unsubscribe, preferences, the signup form, the privacy portal, the
invalid-link pages) are fetched with their tokens. Then one run of the
checker over all of them (tests/support/vnu.py): no error allowed.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient

from service.auth.cookies import PLAIN_COOKIE
from service.db import SessionMaker, session_scope
from service.models.enums import Role
from service.portal import links
from service.settings import Settings
from service.tokens import TokenSigner
from tests.integration.auth.browser import Browser
from tests.integration.web.privacy.support import Staff
from tests.support import vnu
from tests.support.factories import (
    MARKETING,
    PASSWORD,
    add_campaign,
    add_contact,
    add_staff,
    ban,
    unique_email,
)
from tests.support.forms import add_form

pytestmark = pytest.mark.slow

Client = AsyncTestClient[Litestar]
LINK = re.compile(r'href="(/app(?!/static/)[^"#]*)')
MOST_PAGES = 250
ANONYMOUS = {"Authorization": ""}


def _kind(url: str) -> str:
    """A page's route and query names: ``/app/contacts/{n}?saved``."""
    parts = urlsplit(url)
    names = sorted({pair.split("=")[0] for pair in parts.query.split("&") if pair})
    return re.sub(r"/\d+", "/{n}", parts.path) + "?" + "&".join(names)


def _starts(app: Litestar) -> list[str]:
    """Every ``/app`` page the route table has without a parameter."""
    return sorted(
        route.path
        for route in app.routes
        if isinstance(route, HTTPRoute)
        and "GET" in route.methods
        and route.path.startswith("/app")
        and "{" not in route.path
        and not route.path.startswith("/app/login")
    )


async def _crawl(client: Client, pages: dict[str, str]) -> set[str]:
    """The staff pages reachable from the starts, into ``pages``; the starts."""
    starts = _starts(client.app)
    queue = list(starts)
    seen = {_kind(url) for url in queue}
    while queue:
        url = queue.pop(0)
        answer = await client.get(url, follow_redirects=False)
        assert answer.status_code < 500, (url, answer.text[:500])
        if answer.status_code != 200 or not answer.headers["content-type"].startswith("text/html"):
            continue
        if not answer.text.lstrip().lower().startswith("<!doctype html>"):
            continue  # an htmx fragment
        pages[url] = answer.text
        for found in LINK.findall(answer.text):
            target = html.unescape(found)
            if _kind(target) not in seen and len(seen) < MOST_PAGES:
                seen.add(_kind(target))
                queue.append(target)
    return set(starts)


async def _seed(staff: Staff, sessionmaker: SessionMaker) -> int:
    """One of each thing a page shows; the contact's id."""
    api = staff.client
    contact_id = await add_contact(
        api, consent=MARKETING, email=unique_email(), phone="+358401234567", language="en"
    )
    await ban(api, await add_contact(api, email=unique_email()), channel="phone")
    await add_campaign(api)
    await add_campaign(api, channel="phone")
    await add_form(sessionmaker)
    breach = {"discovered_at": datetime.now(UTC).isoformat(), "nature": "A lost laptop"}
    assert (await api.post("/api/v1/breaches", json=breach)).status_code == 201
    request = {"type": "access", "channel": "email", "received_on": "2026-01-05"}
    assert (await api.post("/api/v1/requests", json=request)).status_code == 201
    return contact_id


async def _login_pages(client: Client, sessionmaker: SessionMaker, pages: dict[str, str]) -> None:
    """The sign-in page, the second factor's enrolment and the recovery codes."""
    email = unique_email("newcomer")
    await add_staff(sessionmaker, role=Role.VIEWER, email=email)
    browser = Browser(client)
    pages["/app/login"] = (await client.get("/app/login", headers=ANONYMOUS)).text
    assert (await browser.password(email, PASSWORD)).status_code == 303
    enrol = await client.get("/app/login/enrol")
    pages["/app/login/enrol"] = enrol.text
    _secret, codes, answer = await browser.enrol(datetime.now(UTC))
    assert codes, answer.text
    pages["/app/login/enrol (recovery codes)"] = answer.text
    client.cookies.clear()


async def _public_pages(
    client: Client, settings: Settings, sessionmaker: SessionMaker, contact_id: int
) -> dict[str, str]:
    signer = TokenSigner(settings.secret_key)
    form = await add_form(sessionmaker)
    async with session_scope(sessionmaker) as session:
        portal_token = await links.issue_link(session, contact_id=contact_id)
    urls = {
        "unsubscribe": f"/u/{signer.sign('unsubscribe', contact_id, 1)}",
        "preferences": f"/p/{signer.sign('preferences', contact_id)}",
        "invalid link": "/p/not-a-token",
        "signup form": f"/s/{form.slug}",
        "signup form missing": "/s/no-such-form",
        "confirmation invalid": "/c/not-a-token",
        "portal": "/me/",
        "portal link": f"/me/{portal_token}",
        "portal invalid link": "/me/not-a-token",
        "forbid transfer invalid": "/f/not-a-token",
    }
    pages = {}
    for name, url in urls.items():
        answer = await client.get(url, headers=ANONYMOUS, follow_redirects=False)
        assert answer.status_code in (200, 400, 404), (name, answer.status_code)
        assert answer.headers["content-type"].startswith("text/html"), name
        pages[f"{name} {url}"] = answer.text
    opened = await client.post(
        f"/me/{portal_token}",
        headers={**ANONYMOUS, "Origin": settings.public_url.rstrip("/")},
        follow_redirects=False,
    )
    assert opened.status_code == 303, opened.text
    own = await client.get(opened.headers["location"], headers=ANONYMOUS)
    assert own.status_code == 200, own.text
    pages["portal own page"] = own.text
    client.cookies.clear()
    return pages


async def test_every_page_is_valid_html(
    staff: Staff, sessionmaker: SessionMaker, settings: Settings, tmp_path: Path
) -> None:
    client = staff.client
    contact_id = await _seed(staff, sessionmaker)
    pages: dict[str, str] = {}
    await _login_pages(client, sessionmaker, pages)

    await staff.become(Role.ADMIN)
    starts = await _crawl(client, pages)
    assert starts <= set(pages), "a page of the route table did not answer with a page"
    for kind in ("/app/contacts/{n}?", "/app/campaigns/{n}?", "/app/forms/{n}?"):
        assert kind in {_kind(url) for url in pages}, kind
    for role in Role:
        home = await (await staff.become(role)).get("/app")
        pages[f"/app as {role.value}"] = home.text
    client.cookies.delete(PLAIN_COOKIE)

    pages |= await _public_pages(client, settings, sessionmaker, contact_id)

    findings = vnu.check(pages, tmp_path)
    assert not findings, f"{len(findings)} errors in {len(pages)} pages:\n" + "\n".join(
        map(str, findings)
    )
