"""The privacy officer's pages and the caller's call list in a real browser,
against the running service: the requests register with its deadline
warnings, the retention plan for a chosen day, the audit trail filtered by a
staff member; then a caller downloads a call list a worker built."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.support.consentry_run import PASSWORD, RunningService, consentry, wait_for
from tests.support.web import Staff, new_page, screenshot, sign_in

pytestmark = pytest.mark.slow

ADMIN = "privacy.admin@example.fi"
BUILD_TIMEOUT = 30  # a list of three; the worker takes well under a second


@pytest.fixture(scope="module")
def api(service: RunningService) -> Iterator[httpx.Client]:
    """The JSON API as an admin, for making the test's data."""
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


def menu(page: Page) -> Locator:
    return page.get_by_role("navigation", name="Main")


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def contact(api: httpx.Client, name: str, **fields: Any) -> int:
    body = {"full_name": name, "legal_basis": "customer_relationship", "source": "self", **fields}
    return int(ok(api.post("/contacts", json=body), 201)["id"])


def data_request(api: httpx.Client, received: date, kind: str, requester: str) -> int:
    body = {
        "type": kind,
        "channel": "email",
        "received_on": received.isoformat(),
        "requester": requester,
    }
    return int(ok(api.post("/requests", json=body), 201)["id"])


def test_the_privacy_officer_reads_the_register_the_plan_and_the_trail(
    service: RunningService,
    browser: Browser,
    staff: Callable[[str], Staff],
    api: httpx.Client,
) -> None:
    today = date.today()
    late = data_request(api, today - timedelta(days=45), "access", "Maija Meikäläinen")
    soon = data_request(api, today - timedelta(days=27), "erasure", "Pekka Puhelin")
    data_request(api, today - timedelta(days=1), "objection", "Liisa Lomake")
    contact(api, "Old Customer", email="old@example.fi", last_service_contact_at="2019-03-01")
    contact(api, "Recent Customer", email="recent@example.fi", last_service_contact_at="2024-06-01")

    officer = staff("privacy_officer")
    page = new_page(browser)
    sign_in(page, service, officer)
    menu(page).get_by_role("link", name="Privacy").click()
    expect(page.get_by_role("heading", name="Requests register")).to_be_visible()
    register = page.locator("#register")
    late_row = register.locator("tr", has=page.get_by_role("link", name=str(late), exact=True))
    expect(late_row).to_contain_text(re.compile(r"overdue by \d+ days"))
    expect(late_row).to_contain_text("Maija Meikäläinen")
    soon_row = register.locator("tr", has=page.get_by_role("link", name=str(soon), exact=True))
    expect(soon_row).to_contain_text(re.compile(r"due (in \d+ days?|today)"))
    expect(page.locator("#overdue-count")).to_have_text("1")
    screenshot(page, "privacy-requests")

    # The retention plan for a chosen day: both customers are due by 2030.
    page.get_by_role("link", name="Retention plan").click()
    page.get_by_label("Plan for the day").fill("2030-01-01")
    page.get_by_role("button", name="Show the plan").click()
    expect(page).to_have_url(re.compile(r"/app/privacy/retention\?as_of=2030-01-01$"))
    expect(page.locator("#plan-summary")).to_have_text(
        re.compile(r"^Retention plan for 1 Jan 2030: \d+ due, \d+ skipped, \d+ overdue$")
    )
    plan = page.locator('table[data-rule="contact_5_years"]')
    expect(plan.locator("tbody tr")).to_have_count(2)
    expect(plan).to_contain_text("2 Mar 2024")  # 2019-03-01 + 5 years, erased the day after
    screenshot(page, "retention-plan")

    # The audit trail, filtered by the admin who made the data over the API.
    menu(page).get_by_role("link", name="Audit trail").click()
    page.get_by_label("Staff member").select_option(label=f"{ADMIN} (Administrator)")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page).to_have_url(re.compile(r"/app/audit\?.*\buser_id=\d+"))
    assert "@" not in page.url  # the staff member travels as an id
    events = page.locator("#audit-events tbody tr")
    expect(events.first).to_contain_text(ADMIN)
    expect(page.locator("#audit-events")).to_contain_text("contact.create")
    expect(page.locator("#audit-events")).not_to_contain_text(officer.email)
    screenshot(page, "audit-trail")

    page.get_by_role("button", name="Verify the chain").click()
    expect(page.get_by_role("status")).to_contain_text("The audit trail is intact")


def test_a_caller_downloads_a_call_list(
    service: RunningService,
    browser: Browser,
    staff: Callable[[str], Staff],
    api: httpx.Client,
    tmp_path: Path,
) -> None:
    # A Robinson extract in force (without one no list is built), three people.
    ok(
        api.post(
            "/robinson/extracts",
            content=b"0402222222\n",
            headers={"Content-Type": "text/plain"},
        ),
        201,
    )
    contact(api, "Aino Soitettava", phone="0401111111", last_service_contact_at="2026-01-15")
    contact(api, "Bertta Soitettava", phone="0405555555", last_service_contact_at="2026-01-15")
    contact(api, "Robin Kieltäytyjä", phone="0402222222", last_service_contact_at="2026-01-15")
    campaign = ok(api.post("/campaigns", json={"name": "Kevään soitot", "channel": "phone"}), 201)
    url = f"/campaigns/{campaign['id']}/call-list"
    ok(api.post(url), 202)
    wait_for(
        lambda: ok(api.get(url))["status"] != "building", "the call list to be built", BUILD_TIMEOUT
    )
    assert ok(api.get(url))["status"] == "ready"

    caller = staff("caller")
    page = new_page(browser)
    sign_in(page, service, caller)
    menu(page).get_by_role("link", name="Call lists").click()
    card = page.locator("section.call-list", has=page.get_by_role("heading", name="Kevään soitot"))
    expect(card.locator(".badge.state-ready")).to_have_text("Ready")
    expect(card).to_contain_text(re.compile(r"\d+ days left"))
    expect(card).to_contain_text("On the Robinson register")
    expect(page.get_by_role("button", name="Build a new list")).to_have_count(0)
    screenshot(page, "call-lists")

    with page.expect_download() as started:
        card.get_by_role("button", name="Download CSV").click()
    download = started.value
    assert re.fullmatch(r"call-list-\d+\.csv", download.suggested_filename)
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    lines = saved.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "name,phone,language"
    assert sorted(line.split(",")[0] for line in lines[1:]) == [
        "Aino Soitettava",
        "Bertta Soitettava",
    ]

    # The download is in the trail, as the caller's; a privacy officer can see it.
    downloads = ok(api.get("/audit", params={"action": "call_list.download"}))["items"]
    assert len(downloads) == 1 and downloads[0]["details"]["entries"] == 2
    assert downloads[0]["route"] == "/app/call-lists/{campaign_id}/download"

    # A caller's phone: the page fits, nothing scrolls sideways.
    phone = new_page(browser, phone=True)
    sign_in(phone, service, caller)
    phone.goto(f"{service.base_url}/app/call-lists")
    expect(phone.get_by_role("button", name="Download CSV").first).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(phone, "call-lists-phone")
