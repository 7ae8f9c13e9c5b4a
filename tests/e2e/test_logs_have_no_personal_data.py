"""The logs of a full run hold no personal data, and every log line is JSON.

`consentry run` (API, worker, inbound mail server; CONSENTRY_LOG_FORMAT=json)
serves a whole day's work over HTTP and SMTP: contacts with emails, phone
numbers and identity codes are created, searched for and read; bad requests
carry personal data in their bodies, paths and query strings; a campaign is
sent, opened, clicked and unsubscribed from; a person unsubscribes by email
and a delivery report comes back. Health, metrics and ``consentry status``
are read on the way. Then every line the service wrote to stdout and stderr
is searched for each email, phone number, name and identity code used, and
for anything shaped like an email address or a henkilötunnus.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import signal
import smtplib
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.consentry_run import (
    PASSWORD,
    RunningService,
    consentry,
    running_service,
    wait_for,
)

pytestmark = pytest.mark.slow

ADMIN = "pirkko.paakayttaja@example.fi"
PEOPLE = [
    {
        "full_name": "Aino Aaltonen",
        "nickname": "Ainoliina",
        "email": "aino.aaltonen@example.fi",
        "phone": "+358401234567",
        "personal_identity_code": "131052-308T",
        "street_address": "Kuusitie 12 B 7",
    },
    {
        "full_name": "Bertta Berg",
        "email": "bertta.berg@example.fi",
        "phone": "+358507654321",
        "personal_identity_code": "240387-112Y",
    },
]
CODE_BASIS = {"personal_identity_code_basis": "consent"}
# A third person appears only in bad requests, never stored.
STRANGER = {
    "full_name": "Cecilia Carlsson",
    "email": "cecilia.carlsson@example.fi",
    "phone": "+358449998877",
    "personal_identity_code": "010203-456R",
}
# Each value, and the forms a phone number is also written in.
PERSONAL = [
    ADMIN,
    *(str(value) for person in [*PEOPLE, STRANGER] for value in person.values()),
    "Aaltonen",
    "Ainoliina",
    "Carlsson",
    "0401234567",
    "040 123 4567",
    "0507654321",
    "0449998877",
]
ANY_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
ANY_IDENTITY_CODE = re.compile(r"\d{6}[-+A-FU-Y]\d{3}[0-9A-Y]")
DONE_TIMEOUT = 30
DRAIN_TIMEOUT = 30  # the worker stores queued events every 5 seconds


@dataclass
class Service:
    run: RunningService
    api: httpx.Client

    def local(self, url: str) -> str:
        """A link from a message, sent to this service's own port."""
        path = re.sub(r"^https?://[^/]+", "", url)
        return self.run.base_url + path


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    root = tmp_path_factory.mktemp("logs")
    with running_service(root, CONSENTRY_LOG_FORMAT="json") as run:
        added = consentry(run.env, "user", "add", ADMIN, "--role", "admin", stdin=PASSWORD)
        assert added.returncode == 0, added.stderr
        issued = consentry(run.env, "token", "issue", ADMIN)
        assert issued.returncode == 0, issued.stderr
        headers = {"Authorization": f"Bearer {issued.stdout.strip()}"}
        with httpx.Client(base_url=f"{run.base_url}/api/v1", headers=headers, timeout=10) as api:
            yield Service(run, api)


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def grant(api: httpx.Client, contact_id: int, purpose: str) -> None:
    body = {
        "channel": "email",
        "purpose": purpose,
        "action": "grant",
        "source": "self",
        "method": "web_form",
        "evidence": {"text": "Send me offers by email", "notice_version": "2026-01"},
    }
    ok(api.post(f"/contacts/{contact_id}/consents", json=body), 201)


def messages(outbox: Path) -> dict[str, EmailMessage]:
    found: dict[str, EmailMessage] = {}
    for path in sorted(outbox.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        found[str(message["X-Envelope-To"])] = message
    return found


def delivery_report(recipient: str, envelope_from: str) -> bytes:
    return (
        "From: MAILER-DAEMON@mx.example.net\r\n"
        f"To: {envelope_from}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="R"\r\n'
        "\r\n--R\r\nContent-Type: text/plain\r\n\r\nNot delivered.\r\n"
        "--R\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.net\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        "Action: failed\r\nStatus: 5.1.1\r\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: unknown user\r\n"
        "\r\n--R--\r\n"
    ).encode()


def a_day_of_work(service: Service) -> None:
    api, run = service.api, service.run
    ids = []
    for person in PEOPLE:
        # The code's basis (Data Protection Act § 29): the person's consent.
        body = {**person, "legal_basis": "consent", "source": "self", **CODE_BASIS}
        ids.append(ok(api.post("/contacts", json=body), 201)["id"])
    aino, bertta = ids
    grant(api, aino, "direct_marketing")
    grant(api, aino, "email_tracking")
    grant(api, bertta, "direct_marketing")

    # Searches put an email address and a name in the query string.
    assert len(ok(api.get("/contacts", params={"email": PEOPLE[0]["email"]}))) >= 1
    ok(api.get("/contacts", params={"q": "Aaltonen"}))
    ok(api.get(f"/contacts/{aino}"))
    # Bad requests carry personal data in the body, the path and the query.
    bad = {**STRANGER, "personal_identity_code": "131052-308X", "legal_basis": "consent"}
    assert api.post("/contacts", json={**bad, "source": "self"}).status_code == 422
    duplicate = {**PEOPLE[1], "legal_basis": "consent", "source": "self", **CODE_BASIS}
    assert api.post("/contacts", json=duplicate).status_code == 409
    assert api.post("/contacts", content=b'{"email": "' + ADMIN.encode()).status_code == 400
    assert api.get(f"/contacts/{STRANGER['email']}").status_code == 404
    assert httpx.get(f"{run.base_url}/nowhere/{STRANGER['email']}").status_code == 404
    stranger_query = {"email": STRANGER["email"], "hetu": STRANGER["personal_identity_code"]}
    assert httpx.get(f"{run.base_url}/u/not-a-token", params=stranger_query).status_code == 400

    # A campaign goes out to both.
    campaign = ok(
        api.post(
            "/campaigns",
            json={
                "name": "Autumn offer",
                "channel": "email",
                "subject": "Hello {{ contact.name }}",
                "body_html": '<p>Hi {{ contact.name }}, <a href="https://example.fi/o">go</a></p>',
                "body_text": "Hi {{ contact.name }}, https://example.fi/o",
            },
        ),
        201,
    )
    ok(api.post(f"/campaigns/{campaign['id']}/send"), 202)

    def sent() -> bool:
        return bool(ok(api.get(f"/campaigns/{campaign['id']}"))["status"] == "done")

    wait_for(sent, "the campaign to be sent", DONE_TIMEOUT)
    mail = messages(run.outbox)
    to_aino = mail[str(PEOPLE[0]["email"])]
    html = str(to_aino.get_body(("html",)).get_content())  # type: ignore[union-attr]
    pixel = re.findall(r'src="([^"]*/t/o/[^"]+)"', html)[0]
    click = re.findall(r'href="([^"]*/t/c/[^"]+)"', html)[0]
    unsubscribe = re.findall(r"<(http[^<>]+)>", str(to_aino["List-Unsubscribe"]))[0]
    assert httpx.get(service.local(pixel)).status_code == 200
    assert httpx.get(service.local(click)).status_code == 302
    assert httpx.get(service.local(unsubscribe)).status_code == 200
    one_click = httpx.post(
        service.local(unsubscribe),
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert one_click.status_code == 200

    # Bertta unsubscribes by email; then a delivery report names her address.
    to_bertta = mail[str(PEOPLE[1]["email"])]
    unsubscribe_address = re.findall(r"<mailto:([^?>]+)", str(to_bertta["List-Unsubscribe"]))[0]
    with smtplib.SMTP("127.0.0.1", run.inbound_port, timeout=10) as smtp:
        note = f"From: Bertta Berg <{PEOPLE[1]['email']}>\r\nSubject: unsubscribe\r\n\r\nStop.\r\n"
        assert smtp.sendmail(str(PEOPLE[1]["email"]), [unsubscribe_address], note) == {}
        envelope_from = str(to_bertta["X-Envelope-From"])
        report = delivery_report(str(PEOPLE[1]["email"]), envelope_from)
        assert smtp.sendmail("", [envelope_from], report) == {}


def scrape(run: RunningService) -> str:
    # From 127.0.0.1 and with no CONSENTRY_METRICS_TOKEN: served.
    response = httpx.get(f"{run.base_url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    return response.text


def sample(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert match, name
    return float(match.group(1))


def test_a_full_run_logs_json_lines_without_personal_data(service: Service) -> None:
    run = service.run
    a_day_of_work(service)

    ready = httpx.get(f"{run.base_url}/health/ready", timeout=10)
    assert ready.status_code == 200, ready.text
    metrics = scrape(run)
    assert sample(metrics, 'consentry_messages_total{status="sent"}') == 2
    stored = "consentry_engagement_events_stored_total"
    wait_for(lambda: sample(scrape(run), stored) >= 1, "events to be stored", DRAIN_TIMEOUT)

    status = consentry(run.env, "status")
    assert status.returncode == 0, status.stderr
    assert "Worker: alive" in status.stdout
    assert "Queue: " in status.stdout and "unknown" not in status.stdout
    as_json = consentry(run.env, "status", "--json")
    assert json.loads(as_json.stdout)["queue"]["reachable"] is True

    assert run.stop(signal.SIGINT) == 0
    stdout, stderr = run.stdout(), run.stderr_path.read_text()

    everything = "\n".join([stdout, stderr, status.stdout, status.stderr, as_json.stdout])
    for value in PERSONAL:
        assert value not in everything, value
    assert not ANY_IDENTITY_CODE.search(everything), ANY_IDENTITY_CODE.search(everything)
    # The banner names system addresses (the mail catcher's, "…@localhost"); a
    # log line names none at all.
    assert not ANY_EMAIL.search(stderr), ANY_EMAIL.search(stderr)

    lines = [json.loads(line) for line in stderr.splitlines()]
    for line in lines:
        assert {"time", "level", "logger", "message"} <= set(line), line
    loggers = {line["logger"] for line in lines}
    assert {"consentry.access", "arq.worker", "service.inbound", "uvicorn.error"} <= loggers
    access = {(line["method"], line["route"], line["status"]) for line in lines if "route" in line}
    assert {
        ("POST", "/api/v1/contacts", 201),
        ("POST", "/api/v1/contacts", 400),
        ("POST", "/api/v1/contacts", 409),
        ("GET", "/api/v1/contacts/{contact_id}", 200),
        ("GET", "/u/{token}", 200),
        ("POST", "/u/{token}", 200),
        ("GET", "/u/{token}", 400),
        ("GET", "/t/o/{token}", 200),
        ("GET", "(unmatched)", 404),
    } <= access
    for line in lines:
        if "route" in line:
            assert "?" not in line["route"] and "?" not in line["message"]
