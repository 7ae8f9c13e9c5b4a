"""The public side of issue 4 against the running service: `consentry run` as a
subprocess, reached only over HTTP and SMTP on 127.0.0.1.

Three people consent to email marketing; only Aino also allows tracking. A
first campaign goes out through the mail catcher; a link scanner fetches
Aino's unsubscribe link and changes nothing; Aino opens and clicks, Bertta
clicks, then Aino's mail client unsubscribes her with the RFC 8058 one-click
POST; a delivery report comes back for Cecilia over SMTP. The second campaign
reaches Bertta alone, and the engagement table, read straight from the SQLite
file, holds Aino's events and Bertta's unattributed click, reduced.

CONSENTRY_PUBLIC_URL is an https address, as in production behind a proxy that
terminates TLS; the test plays that proxy by sending each request for that
address to the service's own http://127.0.0.1 port, unchanged otherwise.
"""

from __future__ import annotations

import email
import email.policy
import re
import smtplib
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.tokens import TokenSigner
from tests.support.consentry_run import (
    PASSWORD,
    RunningService,
    consentry,
    running_service,
    wait_for,
)

pytestmark = pytest.mark.slow

ADMIN = "admin@example.fi"
PUBLIC_URL = "https://consentry.example.test"
MAIL_FROM = "news@example.fi"
BOUNCE_ADDRESS = "bounces@example.fi"
UNSUBSCRIBE_ADDRESS = "unsubscribe@example.fi"
SECRET_KEY = "e2e-public-side-secret-" + "k" * 32
OFFER = "https://example.fi/autumn-offer"
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
# A part of BROWSER that no reduced form (family, version, OS) contains.
UA_FRAGMENT = "Gecko/20100101"
LINK_SCANNER = "Mozilla/5.0 (compatible; Barracuda Sentinel link scanner)"
ONE_CLICK_BODY = b"List-Unsubscribe=One-Click"
DONE_TIMEOUT = 30  # a campaign of three; it takes well under a second
DRAIN_TIMEOUT = 30  # the worker stores queued events every 5 seconds

AINO, BERTTA, CECILIA = "aino@example.fi", "bertta@example.fi", "cecilia@example.fi"


@dataclass
class Service:
    run: RunningService
    api: httpx.Client

    def local(self, public_url: str) -> str:
        """The URL a message carries, as the TLS-terminating proxy forwards it."""
        assert public_url.startswith(PUBLIC_URL + "/"), public_url
        return self.run.base_url + public_url.removeprefix(PUBLIC_URL)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    root = tmp_path_factory.mktemp("public-side")
    with running_service(
        root,
        CONSENTRY_PUBLIC_URL=PUBLIC_URL,
        CONSENTRY_MAIL_FROM=MAIL_FROM,
        CONSENTRY_BOUNCE_ADDRESS=BOUNCE_ADDRESS,
        CONSENTRY_UNSUBSCRIBE_ADDRESS=UNSUBSCRIBE_ADDRESS,
        CONSENTRY_SECRET_KEY=SECRET_KEY,
    ) as run:
        added = consentry(run.env, "user", "add", ADMIN, "--role", "admin", stdin=PASSWORD)
        assert added.returncode == 0, added.stderr
        issued = consentry(run.env, "token", "issue", ADMIN)
        assert issued.returncode == 0, issued.stderr
        headers = {"Authorization": f"Bearer {issued.stdout.strip()}"}
        with httpx.Client(base_url=f"{run.base_url}/api/v1", headers=headers, timeout=10) as api:
            yield Service(run, api)


# -- the API ------------------------------------------------------------------


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def person(api: httpx.Client, name: str, address: str, purposes: list[str]) -> int:
    contact = ok(
        api.post(
            "/contacts",
            json={"full_name": name, "email": address, "legal_basis": "consent", "source": "self"},
        ),
        201,
    )
    for purpose in purposes:
        grant = {
            "channel": "email",
            "purpose": purpose,
            "action": "grant",
            "source": "self",
            "method": "web_form",
            "evidence": {"text": "Send me offers by email", "notice_version": "2026-01"},
        }
        ok(api.post(f"/contacts/{contact['id']}/consents", json=grant), 201)
    return int(contact["id"])


def eligibility(api: httpx.Client, contact_id: int) -> dict[str, Any]:
    result: dict[str, Any] = ok(
        api.get(f"/contacts/{contact_id}/eligibility?channel=email&purpose=direct_marketing")
    )
    return result


def ledger(api: httpx.Client, contact_id: int) -> list[tuple[str, str, str, str, int | None]]:
    history = ok(api.get(f"/contacts/{contact_id}/consents"))["history"]
    return [(e["purpose"], e["action"], e["method"], e["actor"], e["campaign_id"]) for e in history]


def create_campaign(api: httpx.Client, name: str) -> int:
    """A draft linking to OFFER, for everyone."""
    body_html = f'<p>Hello {{{{ contact.name }}}}, <a href="{OFFER}">see the offer</a>.</p>'
    campaign = ok(
        api.post(
            "/campaigns",
            json={
                "name": name,
                "channel": "email",
                "subject": "Hello {{ contact.name }}",
                "body_html": body_html,
                "body_text": f"Hello {{{{ contact.name }}}}, see the offer: {OFFER}",
            },
        ),
        201,
    )
    return int(campaign["id"])


def send(api: httpx.Client, campaign_id: int) -> dict[str, Any]:
    """Send the campaign and wait until the workers are done with it."""
    ok(api.post(f"/campaigns/{campaign_id}/send"), 202)
    state: dict[str, Any] = {}

    def done() -> bool:
        state.update(ok(api.get(f"/campaigns/{campaign_id}")))
        assert state["status"] not in {"paused", "cancelled"}, state
        return bool(state["status"] == "done")

    wait_for(done, f"campaign {campaign_id} to be sent", DONE_TIMEOUT)
    return state


# -- the mail catcher's outbox --------------------------------------------------


@dataclass
class Delivered:
    envelope_from: str
    raw: bytes
    message: EmailMessage

    @property
    def html(self) -> str:
        return str(self.message.get_body(("html",)).get_content())  # type: ignore[union-attr]

    @property
    def text(self) -> str:
        return str(self.message.get_body(("plain",)).get_content())  # type: ignore[union-attr]

    def list_unsubscribe(self) -> tuple[str, str]:
        https, mailto = re.findall(r"<([^<>]+)>", str(self.message["List-Unsubscribe"]))
        return https, mailto

    def original_headers(self) -> str:
        """The header block the relay received (without the catcher's envelope lines)."""
        head = self.raw.split(b"\r\n\r\n", 1)[0].decode()
        return "\r\n".join(
            line for line in head.split("\r\n") if not line.startswith("X-Envelope-")
        )


def delivered(run: RunningService, campaign_id: int) -> dict[str, Delivered]:
    """The campaign's messages in the outbox, by envelope recipient; one each."""
    found: dict[str, Delivered] = {}
    for path in sorted(run.outbox.glob("*.eml")):
        raw = path.read_bytes()
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        if str(message["List-Id"]).startswith(f"<campaign-{campaign_id}."):
            recipient = str(message["X-Envelope-To"])
            assert recipient not in found, f"{recipient} got campaign {campaign_id} twice"
            found[recipient] = Delivered(str(message["X-Envelope-From"]), raw, message)
    return found


def one(pattern: str, text: str) -> str:
    found = re.findall(pattern, text)
    assert len(found) == 1, (pattern, found)
    return str(found[0])


# -- public requests, as a mail client or browser makes them ------------------


def public_get(url: str, user_agent: str) -> httpx.Response:
    # A fresh client each time: no cookies, no Authorization, no redirects followed.
    return httpx.get(url, headers={"User-Agent": user_agent}, timeout=10)


def one_click_post(url: str) -> httpx.Response:
    """RFC 8058 §3.1: a POST with exactly this body, no cookies, no credentials."""
    return httpx.post(
        url,
        content=ONE_CLICK_BODY,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )


def assert_page(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "location" not in response.headers
    assert "set-cookie" not in response.headers


# -- delivery reports -------------------------------------------------------------


def delivery_report(original: Delivered, recipient: str) -> bytes:
    """A Postfix-style RFC 3464 report: the address is unknown (5.1.1)."""
    return (
        "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\r\n"
        f"To: {original.envelope_from}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "Message-ID: <20261125.dsn.1@mx.example.net>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="REPORT"\r\n'
        "\r\n--REPORT\r\nContent-Type: text/plain\r\n\r\n"
        "Your message could not be delivered to one or more recipients.\r\n"
        "--REPORT\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.net\r\n"
        "Arrival-Date: Wed, 25 Nov 2026 10:00:00 +0200\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        f"Original-Recipient: rfc822; {recipient}\r\n"
        "Action: failed\r\n"
        "Status: 5.1.1\r\n"
        "Remote-MTA: dns; mx.example.fi\r\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: Recipient address rejected\r\n"
        "\r\n--REPORT\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"{original.original_headers()}\r\n"
        "\r\n--REPORT--\r\n"
    ).encode()


# -- the engagement table, straight from the database file ---------------------


def _read_only(database: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    connection.row_factory = sqlite3.Row
    return connection


def engagement_rows(database: Path) -> list[dict[str, Any]]:
    with closing(_read_only(database)) as connection:
        query = "SELECT * FROM engagement_events ORDER BY id"
        return [dict(row) for row in connection.execute(query)]


def every_table(database: Path) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, read while the service keeps running."""
    with closing(_read_only(database)) as connection:
        names = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {
            name: [dict(row) for row in connection.execute(f'SELECT * FROM "{name}"')]  # noqa: S608
            for (name,) in names.fetchall()
        }


# -- the flow -------------------------------------------------------------------


def test_one_click_unsubscribe_bounces_and_tracking_against_the_running_service(
    service: Service,
) -> None:
    api, run = service.api, service.run
    signer = TokenSigner(SECRET_KEY)
    aino = person(api, "Aino Aaltonen", AINO, ["direct_marketing", "email_tracking"])
    bertta = person(api, "Bertta Berg", BERTTA, ["direct_marketing"])
    cecilia = person(api, "Cecilia Carlsson", CECILIA, ["direct_marketing"])

    # 1. The first campaign reaches all three, each message ready for one click.
    first = send(api, create_campaign(api, "Autumn offer"))
    assert first["counts"] == {"queued": 0, "sent": 3, "failed": 0, "skipped": 0}
    mail = delivered(run, first["id"])
    assert set(mail) == {AINO, BERTTA, CECILIA}
    for address, message in mail.items():
        # Where delivery reports come back: the bounce address, its VERP form
        # naming the campaign and the recipient row.
        assert re.fullmatch(r"bounces\+c\d+\.r\d+\.\w+@example\.fi", message.envelope_from)
        assert message.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        https, mailto = message.list_unsubscribe()
        assert https.startswith(f"{PUBLIC_URL}/u/"), address
        assert mailto.startswith(f"mailto:{UNSUBSCRIBE_ADDRESS}?"), address
        assert https in message.html and https in message.text  # visible in both bodies
        assert OFFER not in message.html  # every campaign link goes through /t/c/
    assert len({m.message["Message-ID"] for m in mail.values()}) == 3

    # Only Aino allows tracking: her message has a pixel and links naming her.
    aino_pixel = one(r'src="([^"]*/t/o/[^"]+)"', mail[AINO].html)
    assert "/t/o/" not in mail[BERTTA].html and "/t/o/" not in mail[CECILIA].html
    aino_click = one(r'href="([^"]*/t/c/[^"]+)"', mail[AINO].html)
    bertta_click = one(r'href="([^"]*/t/c/[^"]+)"', mail[BERTTA].html)
    assert signer.verify(aino_click.rsplit("/", 1)[1], "click") == (aino, first["id"], 0)
    assert signer.verify(bertta_click.rsplit("/", 1)[1], "click") == (0, first["id"], 0)

    # 2. A link scanner GETs the unsubscribe link: a page, and nothing changes.
    unsubscribe_url = service.local(mail[AINO].list_unsubscribe()[0])
    before = ledger(api, aino)
    assert_page(public_get(unsubscribe_url, LINK_SCANNER))
    assert eligibility(api, aino) == {"eligible": True, "reasons": []}
    assert ledger(api, aino) == before

    # 3. Aino opens and clicks, Bertta clicks, in a browser.
    opened = public_get(service.local(aino_pixel), BROWSER)
    assert opened.status_code == 200
    assert opened.headers["content-type"] == "image/gif"
    for click in (aino_click, bertta_click):
        clicked = public_get(service.local(click), BROWSER)
        assert clicked.status_code == 302
        assert clicked.headers["location"] == OFFER

    # 4. Aino's mail client unsubscribes her in one click; again is harmless.
    assert_page(one_click_post(unsubscribe_url))
    assert eligibility(api, aino) == {"eligible": False, "reasons": ["consent_withdrawn"]}
    withdrawal = ("direct_marketing", "withdraw", "one_click", "public_link", first["id"])
    assert ledger(api, aino) == [*before, withdrawal]
    assert_page(one_click_post(unsubscribe_url))
    assert ledger(api, aino) == [*before, withdrawal]

    # 5. Cecilia's mailbox does not exist: the report comes back over SMTP, and
    #    the listener answers 250 only once the suppression is committed.
    assert eligibility(api, cecilia) == {"eligible": True, "reasons": []}
    with smtplib.SMTP("127.0.0.1", run.inbound_port, timeout=10) as smtp:
        refused = smtp.sendmail(
            "", [mail[CECILIA].envelope_from], delivery_report(mail[CECILIA], CECILIA)
        )
    assert refused == {}
    assert eligibility(api, cecilia) == {"eligible": False, "reasons": ["suppressed"]}
    assert eligibility(api, bertta) == {"eligible": True, "reasons": []}

    # 6. The next campaign skips both: only Bertta gets it.
    second_id = create_campaign(api, "Winter offer")
    audience = ok(api.get(f"/campaigns/{second_id}/audience"))
    assert audience == {
        "total": 3,
        "eligible": 1,
        "excluded": {"consent_withdrawn": 1, "suppressed": 1},
    }
    second = send(api, second_id)
    assert second["counts"] == {"queued": 0, "sent": 1, "failed": 0, "skipped": 0}
    assert second["audience_at_build"] == audience
    assert set(delivered(run, second["id"])) == {BERTTA}

    # 7. The worker stores the queued events: Aino's with her id, Bertta's
    #    click counted but not attributed; all reduced.
    expected = {
        ("open", aino, first["id"], None),
        ("click", aino, first["id"], 0),
        ("click", None, first["id"], 0),
    }
    rows: list[dict[str, Any]] = []

    def stored() -> bool:
        rows[:] = engagement_rows(run.database)
        return len(rows) >= len(expected)

    wait_for(stored, "the worker to store the engagement events", DRAIN_TIMEOUT)
    assert {(r["kind"], r["contact_id"], r["campaign_id"], r["link_index"]) for r in rows} == (
        expected
    )
    assert len(rows) == len(expected)
    for row in rows:
        assert row["ip_network"] == "127.0.0.0/24"  # the network, never the address
        assert (row["browser_family"], row["browser_major"], row["os_family"]) == (
            "Firefox",
            "128",
            "Windows",
        )
        assert row["automated"] == 0
        assert "isp" not in row  # no ISP is derived, so no column claims one
        for column, value in row.items():
            assert BROWSER not in str(value), column
            assert "127.0.0.1" not in str(value), column
    # Nor does any other table keep the user agent the public links were fetched with.
    for table, table_rows in every_table(run.database).items():
        for row in table_rows:
            for column, value in row.items():
                assert UA_FRAGMENT not in str(value), f"{table}.{column}"

    # The statistics over the API agree: one open and one unique click (Aino's),
    # two clicks, one unsubscribe, one bounce.
    statistics = ok(api.get(f"/campaigns/{first['id']}/statistics"))
    assert {
        key: statistics[key]
        for key in (
            "sent",
            "opens",
            "unique_opens",
            "clicks",
            "unique_clicks",
            "unsubscribes",
            "bounces",
        )
    } == {
        "sent": 3,
        "opens": 1,
        "unique_opens": 1,
        "clicks": 2,
        "unique_clicks": 1,
        "unsubscribes": 1,
        # Cecilia's delivery report, linked to the message it returned.
        "bounces": 1,
    }
