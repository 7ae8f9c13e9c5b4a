"""The website snippet /t/v.js in a real browser (notice §5, cookie-derived visits).

A tiny "company website" on another 127.0.0.1 port includes the snippet. Aino
(who allows tracking) and Bertta (who does not) each click the campaign's link
and browse on. The site's cookie banner posts the visitor's decision to
/t/consent with the banner version shown; a page view is stored only for
Aino, only after the server recorded her analytics grant, and never from a
browser sending Do Not Track (whose grant is recorded as a withdrawal).
"""

from __future__ import annotations

import email
import email.policy
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from service.embedded import free_port
from tests.support.consentry_run import (
    PASSWORD,
    RunningService,
    consentry,
    running_service,
    wait_for,
)

pytestmark = pytest.mark.slow

ADMIN = "admin@example.fi"
AINO, BERTTA = "aino@example.fi", "bertta@example.fi"
PAGE = """<!doctype html><html><head><title>{title}</title>
<script src="{service}/t/v.js" async></script></head><body>
<h1>{title}</h1>
<button id="accept" onclick="consentry.consent({{analytics: true, marketing: false}}, 1, 'fi')
  .then(function (answer) {{ document.body.dataset.recorded = JSON.stringify(answer); }})">
Accept analytics cookies</button>
<a id="next" href="/page2.html">Next page</a>
</body></html>"""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The company's website: static pages on 127.0.0.1 (written once the
    service's address is known)."""
    root = tmp_path_factory.mktemp("site")
    handler = partial(_Quiet, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory, site: tuple[str, Path]
) -> Iterator[RunningService]:
    origin, root = site
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    for name, title in (("page1.html", "Autumn offer"), ("page2.html", "Our shops")):
        (root / name).write_text(PAGE.format(title=title, service=base))
    with running_service(
        tmp_path_factory.mktemp("snippet"),
        port=port,
        CONSENTRY_PUBLIC_URL=base,
        CONSENTRY_SITE_ORIGINS=origin,
    ) as run:
        yield run


def _api(run: RunningService) -> httpx.Client:
    assert (
        consentry(
            run.env, "user", "add", ADMIN, "--role", "admin", "--language", "en", stdin=PASSWORD
        ).returncode
        == 0
    )
    token = consentry(run.env, "token", "issue", ADMIN).stdout.strip()
    return httpx.Client(
        base_url=f"{run.base_url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


def _person(api: httpx.Client, name: str, address: str, purposes: list[str]) -> int:
    created = api.post(
        "/contacts",
        json={"full_name": name, "email": address, "legal_basis": "consent", "source": "self"},
    )
    assert created.status_code == 201, created.text
    for purpose in purposes:
        grant = {
            "channel": "email",
            "purpose": purpose,
            "action": "grant",
            "source": "self",
            "method": "web_form",
            "evidence": {"text": "Yes please", "notice_version": "2026-01"},
        }
        answer = api.post(f"/contacts/{created.json()['id']}/consents", json=grant)
        assert answer.status_code == 201, answer.text
    return int(created.json()["id"])


def _click_links(run: RunningService, api: httpx.Client, offer: str) -> dict[str, str]:
    """Send a campaign linking to the site; each recipient's tracked link."""
    html = f'<p>Hello {{{{ contact.name }}}}, <a href="{offer}">see the offer</a>.</p>'
    campaign = api.post(
        "/campaigns",
        json={
            "name": "Autumn",
            "channel": "email",
            "subject": "Autumn",
            "body_html": html,
            "body_text": f"See the offer: {offer}",
        },
    ).json()
    assert api.post(f"/campaigns/{campaign['id']}/send").status_code == 202
    wait_for(
        lambda: api.get(f"/campaigns/{campaign['id']}").json()["status"] == "done", "the campaign"
    )
    links: dict[str, str] = {}
    for path in run.outbox.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        body = message.get_body(("html",))
        assert body is not None
        found = re.findall(r'href="([^"]+/t/c/[^"]+)"', body.get_content())
        assert len(found) == 1
        links[str(message["X-Envelope-To"])] = found[0].replace("&amp;", "&")
    return links


def _consents(database: Path) -> list[dict[str, Any]]:
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        connection.row_factory = sqlite3.Row
        rows = connection.execute("SELECT * FROM site_consent_events ORDER BY id")
        return [dict(row) for row in rows]


def _visits(database: Path) -> list[dict[str, Any]]:
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        connection.row_factory = sqlite3.Row
        rows = connection.execute("SELECT * FROM engagement_events WHERE kind = 'visit'")
        return [dict(row) for row in rows]


def _browse(context: BrowserContext, link: str, *, accept: bool) -> None:
    """Follow the mail's link, maybe accept the cookie banner, go on to the next page."""
    page = context.new_page()
    page.goto(link)
    expect(page).to_have_title("Autumn offer")
    page.wait_for_function("window.consentry !== undefined")  # the snippet has loaded
    if accept:
        page.click("#accept")
        # The decision is recorded (and its answer kept) before the visitor moves on.
        page.wait_for_function("document.body.dataset.recorded !== undefined")
    page.click("#next")
    expect(page).to_have_title("Our shops")
    context.close()  # leaves the second page as well


def test_page_views_only_with_tracking_consent_cookie_consent_and_no_dnt(
    service: RunningService, browser: Browser, site: tuple[str, Path]
) -> None:
    origin, _ = site
    with _api(service) as api:
        aino = _person(api, "Aino Aaltonen", AINO, ["direct_marketing", "email_tracking"])
        _person(api, "Bertta Berg", BERTTA, ["direct_marketing"])
        banner = {
            "fi": {
                "necessary": "Välttämättömät evästeet pitävät sivuston toiminnassa.",
                "analytics": "Saamme seurata, mitä sivuja katsot.",
                "marketing": "Saamme näyttää sinulle mainoksia.",
            }
        }
        assert api.put("/site-consent/texts", json=banner).status_code == 200
        links = _click_links(service, api, f"{origin}/page1.html")

    # Nothing may be stored from these three: no tracking consent, no recorded
    # cookie decision, Do Not Track.
    _browse(browser.new_context(), links[BERTTA], accept=True)
    _browse(browser.new_context(), links[AINO], accept=False)
    _browse(browser.new_context(extra_http_headers={"DNT": "1"}), links[AINO], accept=True)
    # This one is: the worker stores queued events in order, so once it is in,
    # the three before it were handled (and dropped) too.
    _browse(browser.new_context(), links[AINO], accept=True)

    wait_for(lambda: len(_visits(service.database)) > 0, "the page view to be stored", 30)
    visits = _visits(service.database)
    # Aino's view of the first page, with the page she went on to. The second
    # page follows the same recorded grant and may send its own view when the
    # browser closes; nothing else, and nothing from the other three.
    first = [
        (v["contact_id"], v["next_page"]) for v in visits if v["page"] == f"{origin}/page1.html"
    ]
    assert first == [(aino, f"{origin}/page2.html")]
    assert {v["contact_id"] for v in visits} == {aino}
    # The decisions: Bertta's grant (anonymous: she has no visitor cookie),
    # the DNT browser's grant recorded as a withdrawal (anonymous too: its
    # click set no visitor cookie), Aino's grant, with her contact.
    decisions = [(d["contact_id"], d["category"], d["action"]) for d in _consents(service.database)]
    assert decisions == [
        (None, "analytics", "grant"),
        (None, "marketing", "withdraw"),
        (None, "analytics", "withdraw"),
        (None, "marketing", "withdraw"),
        (aino, "analytics", "grant"),
        (aino, "marketing", "withdraw"),
    ]
