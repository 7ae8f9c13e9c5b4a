"""An admin invites a marketer in the browser; the marketer opens the link
from the mail catcher, sets a password, signs in and enrols the second factor."""

from __future__ import annotations

import email
import email.policy
import re
import time
from collections.abc import Callable
from email.message import EmailMessage

import pytest
from playwright.sync_api import Browser, expect

from tests.support.consentry_run import RunningService
from tests.support.web import Staff, new_page, screenshot, sign_in

pytestmark = pytest.mark.slow
PASSWORD = "the marketer's own passphrase"
LINK = re.compile(r"/app/set-password/[A-Za-z0-9_-]{43}")


def _mailed_link(service: RunningService, address: str) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for path in sorted(service.outbox.glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            if message["To"] != address:
                continue
            text = message.get_body(("plain",))
            assert text is not None
            found = LINK.search(str(text.get_content()))
            assert found is not None
            return found.group(0)
        time.sleep(0.2)
    raise AssertionError(f"no mail to {address} in {service.outbox}")


def test_an_admin_invites_a_marketer_who_signs_in(
    service: RunningService, browser: Browser, staff: Callable[[str], Staff]
) -> None:
    admin = staff("admin")
    page = new_page(browser)
    sign_in(page, service, admin)
    page.get_by_role("link", name="Staff").click()
    expect(page.get_by_role("heading", name="Staff", exact=True)).to_be_visible()
    page.get_by_label("Email").fill("new.marketer@example.fi")
    page.get_by_label("Role").select_option("marketer")
    page.get_by_role("button", name="Send the invitation").click()
    expect(page.get_by_role("status")).to_have_text("The invitation is mailed.")
    row = page.locator("#staff tr", has_text="new.marketer@example.fi")
    expect(row).to_contain_text("invited")
    screenshot(page, "staff")

    link = _mailed_link(service, "new.marketer@example.fi")
    marketer_page = new_page(browser)
    marketer_page.goto(f"{service.base_url}{link}")
    marketer_page.get_by_label("New password").fill(PASSWORD)
    marketer_page.get_by_label("The same password again").fill(PASSWORD)
    marketer_page.get_by_role("button", name="Set the password").click()
    expect(marketer_page.get_by_role("status")).to_have_text(
        "Your password is set. Sign in with it."
    )
    # The link is spent.
    marketer_page.goto(f"{service.base_url}{link}")
    expect(marketer_page.get_by_role("alert")).to_contain_text("already used")

    marketer = Staff(email="new.marketer@example.fi", role="marketer")
    marketer_page.goto(f"{service.base_url}/app/login")
    marketer_page.get_by_label("Email").fill(marketer.email)
    marketer_page.get_by_label("Password").fill(PASSWORD)
    marketer_page.get_by_role("button", name="Continue").click()
    expect(marketer_page.locator("svg").first).to_be_visible()  # the QR code: enrolment
    marketer.secret = marketer_page.locator("#secret").inner_text().replace(" ", "")
    marketer_page.get_by_label("The six-digit code the app shows now").fill(marketer.code())
    marketer_page.get_by_role("button", name="Turn on the second factor").click()
    marketer_page.get_by_role("link", name="I have saved them").click()
    expect(marketer_page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(marketer_page.get_by_role("link", name="Staff")).to_have_count(0)

    page.reload()
    row = page.locator("#staff tr", has_text="new.marketer@example.fi")
    expect(row).to_contain_text("active")
    expect(row).to_contain_text("set up")
    expect(row).not_to_contain_text("not set up")
    expect(row).not_to_contain_text("never")  # the sign-in is shown
