"""The privacy portal in a real browser, against `consentry run` (its worker
and mail catcher): ask for a link at /me, read the mail, open the link, press
the button, see the page, download the export, change a consent, make a
request, log out."""

from __future__ import annotations

import email
import email.policy
import json
import re
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.support.consentry_run import PASSWORD, RunningService, consentry
from tests.support.web import new_page, screenshot

pytestmark = pytest.mark.slow

ADMIN = "portal.admin@example.fi"
PERSON = "aino.portaali@example.fi"
MAIL_TIMEOUT = 30  # the worker polls every 0.1 s; this is for a loaded machine


@pytest.fixture(scope="module")
def api(service: RunningService) -> Iterator[httpx.Client]:
    added = consentry(
        service.env,
        "user",
        "add",
        ADMIN,
        "--role",
        "admin",
        "--language",
        "en",
        stdin=PASSWORD + "\n",
    )
    assert added.returncode == 0, added.stderr
    issued = consentry(service.env, "token", "issue", ADMIN)
    assert issued.returncode == 0, issued.stderr
    headers = {"Authorization": f"Bearer {issued.stdout.strip()}"}
    with httpx.Client(base_url=f"{service.base_url}/api/v1", headers=headers, timeout=10) as client:
        yield client


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def mail_to(outbox: Path, address: str) -> EmailMessage:
    deadline = time.monotonic() + MAIL_TIMEOUT
    while time.monotonic() < deadline:
        for path in sorted(outbox.glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            if message["To"] == address:
                return message
        time.sleep(0.2)
    raise AssertionError(f"no mail reached {address} in {MAIL_TIMEOUT} s")


def test_a_person_opens_their_page_downloads_the_export_and_changes_a_consent(
    service: RunningService, browser: Browser, api: httpx.Client, tmp_path: Path
) -> None:
    body = {
        "full_name": "Aino Portaali",
        "email": PERSON,
        "legal_basis": "customer_relationship",
        "source": "self",
        "language": "en",
    }
    contact_id = int(ok(api.post("/contacts", json=body), 201)["id"])

    page = new_page(browser)
    page.goto(f"{service.base_url}/me?lang=en")
    expect(page.get_by_role("heading", name="Your data")).to_be_visible()
    page.get_by_label("Email address").fill(PERSON)
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("status")).to_contain_text("If this address is in our register")
    screenshot(page, "portal-sent")

    mail = mail_to(service.outbox, PERSON)
    plain = mail.get_body(("plain",))
    assert isinstance(plain, EmailMessage)
    link = rf"{re.escape(service.base_url)}/me/[A-Za-z0-9_-]{{43}}"
    [url] = re.findall(link, plain.get_content())

    page.goto(url)
    expect(page.get_by_role("button", name="Open my page")).to_be_visible()
    page.get_by_role("button", name="Open my page").click()
    expect(page).to_have_url(re.compile(r"/me/page"))
    expect(page.get_by_role("heading", name="What we hold about you")).to_be_visible()
    expect(page.locator("dl")).to_contain_text("Aino Portaali")
    screenshot(page, "portal-page")

    with page.expect_download() as waiting:
        page.get_by_role("link", name="Download all your data (JSON)").click()
    download = waiting.value
    assert download.suggested_filename == "my-data.json"
    saved = tmp_path / "my-data.json"
    download.save_as(saved)
    exported = json.loads(saved.read_text())
    assert exported["contact"]["id"] == contact_id
    assert exported["contact"]["email"] == PERSON

    page.get_by_role("group", name="Marketing by email").get_by_label("Yes").check()
    page.get_by_role("button", name="Save my choices").click()
    expect(page.get_by_role("status")).to_have_text("Your choices are saved.")
    expect(page.get_by_role("group", name="Marketing by email").get_by_label("Yes")).to_be_checked()

    page.get_by_label("What is wrong in the data?").fill("My name is spelt Aino-Maija")
    page.get_by_role("button", name="I ask you to correct my data").click()
    expect(page.get_by_role("status")).to_contain_text("Your request is recorded")
    expect(page.locator("#open-requests")).to_contain_text("rectification")

    ledger = ok(api.get(f"/contacts/{contact_id}/consents"))
    [grant] = [e for e in ledger["history"] if e["action"] == "grant"]
    assert grant["method"] == "privacy_portal" and grant["channel"] == "email"
    assert grant["evidence_ip"] == "127.0.0.0/24"
    requests = ok(api.get("/requests", params={"contact_id": contact_id}))["items"]
    assert [(r["type"], r["channel"], r["verification_method"]) for r in requests] == [
        ("rectification", "web", "email_link")
    ]

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("status")).to_have_text("You have logged out.")
    page.goto(f"{service.base_url}/me/page")
    expect(page.get_by_role("status")).to_contain_text("Your session has ended")
    # The link worked once.
    page.goto(url)
    expect(page.get_by_role("status")).to_contain_text("expired or has been used")
