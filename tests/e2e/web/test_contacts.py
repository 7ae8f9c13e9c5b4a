"""The contacts pages in a real browser: an admin creates a contact through
the form, records a consent and then a ban through theirs, and watches the
consent gate's answer change on the page, with the reason in words."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.consentry_run import RunningService, consentry
from tests.support.web import Staff, new_page, screenshot, sign_in

pytestmark = pytest.mark.slow

NEIGHBOURS = [
    ("Aino Aalto", "aino@example.fi", "fi", ["vip"]),
    ("Bo Berg", "bo@example.fi", "sv", ["newsletter"]),
    ("Cecilia Cruz", "cecilia@example.fi", "en", []),
    ("Oy Esimerkki Ab", "info@esimerkki.example.fi", "fi", ["b2b", "vip"]),
]


def _add_neighbours(service: RunningService, admin: Staff) -> None:
    """Other people in the register, over the JSON API, so the list has rows."""
    issued = consentry(service.env, "token", "issue", admin.email)
    assert issued.returncode == 0, issued.stderr
    headers = {"Authorization": f"Bearer {issued.stdout.strip()}"}
    with httpx.Client(base_url=f"{service.base_url}/api/v1", headers=headers, timeout=10) as api:
        for name, email, language, tags in NEIGHBOURS:
            body = {
                "full_name": name,
                "email": email,
                "language": language,
                "tags": tags,
                "legal_basis": "customer_relationship",
                "source": "self",
                "contact_type": "business" if name.startswith("Oy") else "person",
            }
            if body["contact_type"] == "business":
                # A business contact is one reached for their role (issue 17).
                body |= {"employer": name, "position": "Purchasing"}
            answer = api.post("/contacts", json=body)
            assert answer.status_code == 201, answer.text


def _open(page: Page, summary: str) -> None:
    page.locator("summary", has_text=summary).first.click()


def test_create_a_contact_record_a_ban_and_see_why(
    service: RunningService, browser: Browser, staff: Callable[[str], Staff]
) -> None:
    admin = staff("admin")
    _add_neighbours(service, admin)
    page = new_page(browser)
    sign_in(page, service, admin)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Contacts").click()
    expect(page.get_by_role("heading", name="Contacts", level=1)).to_be_visible()
    page.get_by_role("link", name="New contact").click()
    page.get_by_label("Full name").fill("Maija Meikäläinen")
    page.get_by_label("Email").fill("maija@example.fi")
    page.get_by_label("Phone").fill("040 123 4567")
    page.get_by_label("Street address").fill("Esimerkkikatu 1")
    page.get_by_label("Postal code").fill("00100")
    page.get_by_label("City").fill("Helsinki")
    page.get_by_label("Legal basis").select_option("customer_relationship")
    page.get_by_label("Where the data came from").select_option("self")
    page.get_by_label("Tags").fill("vip, newsletter")
    page.get_by_role("button", name="Save contact").click()
    expect(page.get_by_role("status")).to_have_text("Contact created.")
    expect(page.get_by_role("heading", name="Maija Meikäläinen")).to_be_visible()
    email = page.locator("#eligibility-email")
    expect(email).to_contain_text("no consent recorded")

    # A consent through its form: email marketing is allowed.
    _open(page, "A consent")
    consent = page.locator("#consent-form")
    consent.get_by_label("Channel").select_option("email")
    consent.get_by_label("Source").select_option("self")
    consent.get_by_label("How it was given").select_option("paper_form")
    consent.get_by_label("Evidence: the text the person agreed to").fill(
        "Yes, send me offers by email (signed form 12)"
    )
    consent.get_by_role("button", name="Record consent").click()
    expect(page.get_by_role("status")).to_have_text("Consent recorded.")
    expect(email.locator(".badge")).to_have_text("yes")

    # A ban through its form: every channel says no, and why.
    _open(page, "A ban")
    ban = page.locator("#ban-form")
    ban.get_by_label("How it arrived").select_option("post")
    ban.get_by_label("Proof").fill("Letter of 3 May 2026")
    ban.get_by_role("button", name="Record ban").click()
    expect(page.get_by_role("status")).to_have_text("Ban recorded.")
    expect(email.locator(".badge")).to_have_text("no")
    expect(email).to_contain_text("direct_marketing_ban")
    expect(email).to_contain_text("direct-marketing ban on all channels")
    expect(page.locator("#eligibility-post")).to_contain_text("direct_marketing_ban")
    timeline = page.locator("#timeline li")
    expect(timeline.first).to_contain_text("Direct-marketing ban, All channels")
    expect(timeline.first).to_contain_text("Letter of 3 May 2026")
    expect(timeline.nth(1)).to_contain_text("Consent granted: Email, Direct marketing")
    screenshot(page, "contact")
    contact_url = page.url

    # The list: filtered by tag in the address; the name search stays in the form.
    page.goto(f"{service.base_url}/app/contacts?tag=vip")
    rows = page.locator("table.contacts tbody tr")
    expect(rows).to_have_count(3)
    page.get_by_label("Name, email or customer number").fill("meik")
    page.get_by_role("button", name="Search").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Maija Meikäläinen")
    assert "meik" not in page.url
    page.goto(f"{service.base_url}/app/contacts")
    expect(rows).to_have_count(5)
    screenshot(page, "contacts")

    # On a phone: no sideways scrolling, the timeline and the reasons readable.
    phone = new_page(browser, phone=True)
    sign_in(phone, service, admin)
    phone.goto(contact_url.split("?")[0])
    expect(phone.locator("#eligibility-email")).to_contain_text("direct_marketing_ban")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(phone, "contact-phone")


def test_edit_a_contact_download_the_export_and_erase_it(
    service: RunningService, browser: Browser, staff: Callable[[str], Staff]
) -> None:
    """An administrator corrects a contact's address in its form, downloads
    the access export from a link, and erases the contact after the
    confirmation step."""
    admin = staff("admin")
    issued = consentry(service.env, "token", "issue", admin.email)
    assert issued.returncode == 0, issued.stderr
    headers = {"Authorization": f"Bearer {issued.stdout.strip()}"}
    with httpx.Client(base_url=f"{service.base_url}/api/v1", headers=headers, timeout=10) as api:
        body = {
            "full_name": "Ville Virtanen",
            "email": "ville.virtanen@example.fi",
            "city": "Turku",
            "legal_basis": "customer_relationship",
            "source": "self",
        }
        created = api.post("/contacts", json=body)
        assert created.status_code == 201, created.text
        contact_id = created.json()["id"]
    page = new_page(browser)
    sign_in(page, service, admin)
    page.goto(f"{service.base_url}/app/contacts/{contact_id}")

    page.get_by_role("link", name="Edit").click()
    expect(page.get_by_label("Full name")).to_have_value("Ville Virtanen")
    page.get_by_label("City").fill("Tampere")
    page.get_by_label("Legal basis").select_option("consent")
    page.get_by_role("button", name="Save changes").click()
    # A gate input changed without a reason: nothing saved, the typing kept.
    expect(page.get_by_role("alert").first).to_contain_text("Nothing was changed")
    expect(page.get_by_label("City")).to_have_value("Tampere")
    page.get_by_label("Why do these change?").fill("The person asked for marketing by consent")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status")).to_have_text("Contact updated.")
    facts = page.locator(".person .facts")
    expect(facts).to_contain_text("Tampere")
    expect(facts).to_contain_text("Consent")  # the legal basis, in words

    with page.expect_download() as download:
        page.get_by_role("link", name="Access export (JSON)").click()
    assert download.value.suggested_filename == f"contact-{contact_id}-export.json"

    page.get_by_role("link", name="Erase…").click()
    expect(page.get_by_role("heading", name="Erase Ville Virtanen?")).to_be_visible()
    page.get_by_role("button", name="Erase for good").click()
    expect(page.get_by_role("status")).to_contain_text("Contact erased.")
    expect(page.get_by_role("main")).not_to_contain_text("Ville Virtanen")
    page.goto(f"{service.base_url}/app/contacts/{contact_id}")
    expect(page.get_by_role("heading", name="No such contact")).to_be_visible()
