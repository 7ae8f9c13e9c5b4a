"""The hosted signup form in a real browser, against the running service
(`consentry run`, its worker and its mail catcher): filled and sent with the
keyboard alone, the errors announced and tied to their fields, the
thank-you page; then the confirmation mail the worker sent, its link opened
and the button pressed."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage

import pytest
from playwright.sync_api import Browser, Page, expect

from service.db import create_engine, create_sessionmaker
from service.models import SignupForm
from tests.support.consentry_run import RunningService, wait_for
from tests.support.forms import add_form
from tests.support.web import new_page, screenshot

pytestmark = pytest.mark.slow

ADDRESS = "keyboard.person@example.fi"
MAIL_TIMEOUT = 30


def make_form(service: RunningService) -> SignupForm:
    async def insert() -> SignupForm:
        engine = create_engine(f"sqlite+aiosqlite:///{service.database}")
        try:
            return await add_form(
                create_sessionmaker(engine),
                slug="keyboard-news",
                fields={"full_name": True, "email": True},
            )
        finally:
            await engine.dispose()

    # Playwright's sync API runs an event loop in this thread: insert from another.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, insert()).result()


def focused(page: Page) -> str:
    return str(page.evaluate("document.activeElement && document.activeElement.id"))


def tab_to(page: Page, element_id: str, limit: int = 15) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if focused(page) == element_id:
            return
    pytest.fail(f"Tab never reached #{element_id}")


def mail_to(service: RunningService, address: str) -> EmailMessage | None:
    for path in sorted(service.outbox.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if isinstance(message, EmailMessage) and message["To"] == address:
            return message
    return None


def test_a_person_signs_up_with_the_keyboard_and_confirms_from_the_mail(
    service: RunningService, browser: Browser
) -> None:
    form = make_form(service)
    page = new_page(browser)
    page.goto(f"{service.base_url}/s/{form.slug}?lang=en")
    expect(page.locator("html")).to_have_attribute("lang", "en")

    # Every input has a label; the consent checkboxes are a fieldset with a legend.
    for input_id in ("f-full_name", "f-email", "consent-0"):
        expect(page.locator(f"label[for='{input_id}']")).to_have_count(1)
    expect(page.locator("fieldset legend")).to_contain_text("What may we send you?")
    expect(page.locator("label[for='f-email']")).to_contain_text("(required)")
    expect(page.get_by_role("checkbox")).not_to_be_checked()
    honeypot = page.locator("input[name='website']")
    expect(honeypot).to_have_attribute("tabindex", "-1")
    box = honeypot.bounding_box()
    assert box is None or box["x"] + box["width"] <= 0  # off screen, not just hidden by colour

    # Sent empty with the keyboard: the errors are announced and tied to the fields.
    tab_to(page, "f-full_name")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", ""), "no visible focus"
    page.keyboard.press("Enter")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Please correct the following")
    name = page.get_by_label(re.compile("^Name"))
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(name).to_have_attribute("aria-describedby", "f-full_name-error")
    expect(page.locator("#f-full_name-error")).to_have_text("This field is required.")
    expect(page.locator("#consent-error")).to_be_visible()
    screenshot(page, "signup-form-errors")

    # Filled and sent with the keyboard alone; Tab skips the hidden honeypot.
    tab_to(page, "f-full_name")
    page.keyboard.type("Kaisa Keyboard")
    page.keyboard.press("Tab")
    assert focused(page) == "f-email"
    page.keyboard.type(ADDRESS)
    page.keyboard.press("Tab")
    assert focused(page) == "consent-0"
    page.keyboard.press("Space")
    expect(page.locator("#consent-0")).to_be_checked()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.type") == "submit"
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("confirmation link")
    screenshot(page, "signup-form-thanks")

    # The worker sent the confirmation; its link shows a button that grants.
    wait_for(lambda: mail_to(service, ADDRESS) is not None, "the confirmation mail", MAIL_TIMEOUT)
    message = mail_to(service, ADDRESS)
    assert message is not None
    body = message.get_body(("plain",))
    assert body is not None and isinstance(body, EmailMessage)
    [token] = re.findall(r"/c/([A-Za-z0-9_-]{43})", str(body.get_content()))
    confirm = new_page(browser)
    confirm.goto(f"{service.base_url}/c/{token}")
    expect(confirm.locator("li")).to_contain_text("I want the newsletter by email")
    confirm.get_by_role("button", name="I confirm the subscription").press("Enter")
    expect(confirm.get_by_role("status")).to_contain_text("Your subscription is confirmed")
