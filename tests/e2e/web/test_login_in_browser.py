"""Signing in through a real browser: the second factor is not optional."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, expect

from tests.support.consentry_run import PASSWORD, RunningService
from tests.support.web import Staff, new_page, screenshot, sign_in

pytestmark = pytest.mark.slow


def test_first_sign_in_enrols_then_the_code_is_required(
    service: RunningService, browser: Browser, staff: Callable[[str], Staff]
) -> None:
    person = staff("admin")
    page = new_page(browser)
    page.goto(f"{service.base_url}/")  # the root leads to the staff pages
    expect(page).to_have_url(f"{service.base_url}/app/login?next=/app")
    screenshot(page, "login")
    page.get_by_label("Email").fill(person.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Set up your second factor")).to_be_visible()
    screenshot(page, "enrol-second-factor")
    # Leaving the enrolment for a page: the password alone opens nothing.
    page.goto(f"{service.base_url}/app")
    expect(page).to_have_url(f"{service.base_url}/app/login?next=/app&session=expired")

    sign_in(page, service, person)
    assert len(person.recovery_codes) == 10
    expect(page.get_by_text(f"Signed in as {person.email}")).to_be_visible()
    # The home page: the register's health, an admin's whole of it.
    expect(page.get_by_role("heading", name="The register")).to_be_visible()
    expect(page.locator("#reach-email")).to_be_visible()
    expect(page.get_by_role("heading", name="Breaches")).to_be_visible()
    screenshot(page, "home")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You have signed out.")).to_be_visible()
    page.get_by_label("Email").fill(person.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("The six-digit code from your authenticator app").fill("000000")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("The code is wrong or was already used.")
    page.goto(f"{service.base_url}/app")
    expect(page.get_by_role("button", name="Continue")).to_be_visible()  # still outside


def test_the_login_page_fits_a_phone(service: RunningService, browser: Browser) -> None:
    page = new_page(browser, phone=True)
    page.goto(f"{service.base_url}/app/login")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # no sideways scrolling
    # The keyboard alone signs in: the email field has the focus, Tab walks on.
    focused = []
    for _ in range(3):
        focused.append(
            page.evaluate("document.activeElement.id || document.activeElement.textContent")
        )
        page.keyboard.press("Tab")
    assert focused == ["email", "password", "Continue"]
