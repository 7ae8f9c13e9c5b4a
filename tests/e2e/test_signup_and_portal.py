"""Issue 16's "done when" against the running service: `consentry run` as a
subprocess, reached only over HTTP and SMTP (its mail catcher's outbox).

A staff member defines a signup form through the API. Aino signs up with a
plain form POST; the confirmation mail reaches the catcher; she is not
eligible before confirming, nor after a link scanner GETs the link, and is
after the POST; her receipt names the form, the text version and hash and
both times. A second signup with her address answers byte for byte as the
first did and changes nothing. Bertta never confirms, and the retention run
after the expiry deletes her signup and the contact it made (run in-process
on the same database with the clock moved on: the only thing mocked). Then
Aino asks the privacy portal for a link, opens it, and downloads her
access export, which holds her receipt.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import pytest

from service import clock, rules
from service.crypto import DataCipher
from service.db import create_engine, create_sessionmaker
from service.retention.runner import Tools, run_retention
from service.settings import load_settings
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
SECRET_KEY = "e2e-signup-and-portal-secret-" + "k" * 32
AINO, BERTTA = "aino@example.fi", "bertta@example.fi"
SLUG = "news"
OFFER_TEXT = "Lähettäkää minulle tarjouksia sähköpostilla."
MAIL_TIMEOUT = 30


@dataclass
class Service:
    run: RunningService
    api: httpx.Client
    web: httpx.Client  # the public side, as a browser without cookies of its own

    def local(self, public_url: str) -> str:
        """The URL a mail carries, as a TLS-terminating proxy forwards it."""
        assert public_url.startswith(PUBLIC_URL + "/"), public_url
        return self.run.base_url + public_url.removeprefix(PUBLIC_URL)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    root = tmp_path_factory.mktemp("signup")
    with running_service(
        root, CONSENTRY_PUBLIC_URL=PUBLIC_URL, CONSENTRY_SECRET_KEY=SECRET_KEY
    ) as run:
        assert (
            consentry(run.env, "user", "add", ADMIN, "--role", "admin", stdin=PASSWORD).returncode
            == 0
        )
        issued = consentry(run.env, "token", "issue", ADMIN)
        assert issued.returncode == 0, issued.stderr
        headers = {"Authorization": f"Bearer {issued.stdout.strip()}"}
        with (
            httpx.Client(base_url=f"{run.base_url}/api/v1", headers=headers, timeout=10) as api,
            httpx.Client(base_url=run.base_url, timeout=10) as web,
        ):
            yield Service(run, api, web)


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def mails_to(run: RunningService, address: str) -> list[EmailMessage]:
    found = []
    for path in sorted(run.outbox.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if isinstance(message, EmailMessage) and message["To"] == address:
            found.append(message)
    return found


def link_in(run: RunningService, address: str, kind: str, count: int) -> str:
    """The one ``{PUBLIC_URL}/{kind}/…`` link of the ``count``-th mail to ``address``."""
    wait_for(
        lambda: len(mails_to(run, address)) >= count, f"mail {count} to {address}", MAIL_TIMEOUT
    )
    message = mails_to(run, address)[count - 1]
    body = message.get_body(("plain",))
    assert body is not None
    links = set(re.findall(rf"{re.escape(PUBLIC_URL)}/{kind}/[A-Za-z0-9_-]+", body.get_content()))
    assert len(links) == 1, links
    return links.pop()


def contact_of(api: httpx.Client, address: str) -> dict[str, Any]:
    found = ok(api.get("/contacts", params={"email": address}))["items"]
    every = ok(api.get("/contacts"))["total"]
    assert len(found) == 1, f"{len(found)} contacts with {address} among {every}"
    return dict(found[0])


def eligible(api: httpx.Client, contact_id: int) -> tuple[bool, list[str]]:
    answer = ok(
        api.get(f"/contacts/{contact_id}/eligibility?channel=email&purpose=direct_marketing")
    )
    return bool(answer["eligible"]), list(answer["reasons"])


def sign_up(service: Service, name: str, address: str) -> httpx.Response:
    """What a plain HTML form on any site sends."""
    return service.web.post(
        f"/s/{SLUG}",
        data={
            "full_name": name,
            "email": address,
            "language": "fi",
            "consent": "email.direct_marketing",
            "website": "",
        },
    )


def test_a_confirmed_signup_and_its_proof_reach_the_portal(service: Service) -> None:
    api = service.api
    form = ok(
        api.post(
            "/forms",
            json={
                "slug": SLUG,
                "name": "Newsletter",
                "languages": ["fi"],
                "offers": [
                    {"channel": "email", "purpose": "direct_marketing", "text": {"fi": OFFER_TEXT}}
                ],
                "fields": ["full_name", {"name": "email", "required": True}],
                "notice_version": "2026-12",
            },
        ),
        201,
    )
    hosted = service.web.get(f"/s/{SLUG}")
    assert hosted.status_code == 200 and OFFER_TEXT in hosted.text

    first = sign_up(service, "Aino Aalto", AINO)
    assert first.status_code == 200, first.text
    link = link_in(service.run, AINO, "c", 1)
    mail = mails_to(service.run, AINO)[0]
    assert OFFER_TEXT in str(mail.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    # The person's copy of what they asked for: nothing confirmed yet.
    (attached,) = mail.iter_attachments()
    assert attached.get_filename() == "consent-request.json"
    copy = json.loads(attached.get_content())
    assert (copy["form"], copy["event_state"], copy["confirmed_at"]) == (SLUG, "requested", None)
    (asked,) = copy["consents"]
    assert asked["text"]["hash"] == hashlib.sha256(OFFER_TEXT.encode()).hexdigest()

    aino = contact_of(api, AINO)
    assert eligible(api, aino["id"]) == (False, ["no_consent", "unconfirmed"])

    # A link scanner fetches the link: nothing changes.
    page = service.web.get(service.local(link))
    assert page.status_code == 200 and "<form" in page.text
    assert eligible(api, aino["id"])[0] is False

    confirmed = service.web.post(service.local(link))
    assert confirmed.status_code in {200, 303}, confirmed.text
    assert eligible(api, aino["id"]) == (True, [])

    history = ok(api.get(f"/contacts/{aino['id']}/consents"))["history"]
    (grant,) = history
    assert (grant["method"], grant["form"], grant["action"]) == ("double_opt_in", SLUG, "grant")
    receipt = ok(api.get(f"/contacts/{aino['id']}/consents/{grant['id']}/receipt"))
    assert receipt["form"] == SLUG
    (text,) = receipt["texts"]
    archived = form["offers"][0]["texts"]["fi"]
    assert (text["version"], text["hash"]) == (archived["version"], archived["hash"])
    assert text["hash"] == hashlib.sha256(OFFER_TEXT.encode()).hexdigest()
    assert receipt["submitted_at"] and receipt["confirmed_at"]
    assert receipt["submitted_at"] <= receipt["confirmed_at"]

    # The same address again, with another name: the same answer, no change.
    again = sign_up(service, "Someone Else", AINO)
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert contact_of(api, AINO)["full_name"] == "Aino Aalto"
    assert ok(api.get(f"/contacts/{aino['id']}/consents"))["history"] == history

    # Bertta never confirms: the retention run after the expiry deletes it all.
    assert sign_up(service, "Bertta Berg", BERTTA).content == first.content
    link_in(service.run, BERTTA, "c", 1)
    bertta = contact_of(api, BERTTA)
    purge_after_expiry(service.run)
    assert ok(api.get("/contacts", params={"email": BERTTA}))["items"] == []
    assert api.get(f"/contacts/{bertta['id']}").status_code == 404
    assert eligible(api, aino["id"]) == (True, [])  # the confirmed one stays

    # Then Aino, as herself, through the privacy portal. One test, not two:
    # the portal part needs the signup above, and tests must not depend on
    # the order they run in.
    the_portal_runs_from_email_to_downloaded_export(service)


def purge_after_expiry(run: RunningService) -> None:
    """The nightly retention run, on the service's own database, on the day
    after the confirmation links expired: the clock is moved, nothing else."""
    settings = load_settings(dict(run.env))
    expired = clock.now() + timedelta(days=settings.doi_expiry_days)
    # The run's day is a local (Helsinki) day: it starts before UTC's, so the
    # day after the expiry is counted in local time, not from UTC's date.
    today = rules.local_date(expired) + timedelta(days=1)
    later = rules.local_midnight(today)
    tools = Tools(
        settings=settings,
        cipher=DataCipher(settings.data_key),
        signer=TokenSigner(settings.secret_key, settings.previous_secret_keys),
        smtp=None,
    )

    async def purge() -> None:
        engine = create_engine(settings.database_url)
        try:
            report = await run_retention(create_sessionmaker(engine), today=today, tools=tools)
            assert report.done >= 1, report
        finally:
            await engine.dispose()

    real_now = clock.now
    clock.now = lambda: later  # type: ignore[assignment]
    try:
        asyncio.run(purge())
    finally:
        clock.now = real_now  # type: ignore[assignment]


def the_portal_runs_from_email_to_downloaded_export(service: Service) -> None:
    aino = contact_of(service.api, AINO)  # confirmed by the test above
    before = len(mails_to(service.run, AINO))
    asked = service.web.post("/me", data={"email": AINO, "website": ""})
    unknown = service.web.post("/me", data={"email": "nobody@example.fi", "website": ""})
    assert asked.status_code == 200 and asked.content == unknown.content
    link = link_in(service.run, AINO, "me", before + 1)

    assert service.web.get(service.local(link)).status_code == 200  # a button; changes nothing
    origin = {"Origin": PUBLIC_URL}
    opened = service.web.post(service.local(link), headers=origin, follow_redirects=False)
    assert opened.status_code == 303, opened.text
    assert service.web.post(service.local(link), headers=origin).status_code == 400  # once only

    # The session cookie is Secure (the public URL is https): the proxy's
    # client sends it, so the test does too, by hand, over the local http.
    assert "secure" in opened.headers["set-cookie"].lower()
    session = {"Cookie": opened.headers["set-cookie"].split(";", 1)[0]}
    page = service.web.get("/me/page", headers=session)
    assert page.status_code == 200 and "Aino Aalto" in page.text
    export = service.web.get("/me/export", headers=session)
    assert export.status_code == 200
    assert "attachment" in export.headers["content-disposition"]
    held = json.loads(export.content)
    assert held["contact"]["email"] == AINO
    assert len(held["consent_receipts"]) == 1, (held["consents"], service.run.output()[-4000:])
    (receipt,) = held["consent_receipts"]
    assert (receipt["form"], receipt["method"]) == (SLUG, "double_opt_in")
    assert held["contact"]["id"] == aino["id"]
