"""Signup forms in a real browser: a marketer defines a form in the page's
form, finds its hosted link and embed snippet, changes a text and reads the
version history with the old words still there."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, expect

from tests.support.consentry_run import RunningService
from tests.support.web import Staff, new_page, screenshot, sign_in

pytestmark = pytest.mark.slow

FI = "Haluan uutiskirjeen sähköpostiini."
EN_OLD = "Send me the <newsletter> by email."
EN_NEW = "Send me the monthly newsletter by email."


def test_a_marketer_defines_and_changes_a_form(
    browser: Browser, service: RunningService, staff: Callable[[str], Staff]
) -> None:
    public = service.base_url  # the running service is its own public address
    page = new_page(browser)
    sign_in(page, service, staff("marketer"))
    page.get_by_role("link", name="Signup forms").click()
    page.get_by_role("link", name="New signup form").click()
    page.get_by_label("Name", exact=True).fill("Newsletter")
    page.get_by_label("Web address").fill("news")
    page.get_by_role("checkbox", name="English", exact=True).check()
    page.get_by_role("checkbox", name="Offer email: marketing").check()
    offer = page.get_by_role("group", name="Offer email: marketing")
    offer.get_by_label("Words in Finnish").fill(FI)
    offer.get_by_label("Words in English").fill(EN_OLD)
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("status")).to_contain_text("version 1")
    expect(page.locator("#hosted-url")).to_have_text(f"{public}/s/news")
    snippet = page.locator("#embed-en").input_value()
    assert f'action="{public}/s/news"' in snippet
    assert "&lt;newsletter&gt;" in snippet and 'name="website"' in snippet
    expect(page.locator("td.words").filter(has_text=EN_OLD)).to_have_count(1)
    screenshot(page, "signup-form")

    page.get_by_role("link", name="Edit").click()
    page.locator("#f-text-email-direct_marketing-en").fill(EN_NEW)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("version 2")
    expect(page.locator("td.words").filter(has_text=EN_NEW)).to_have_count(1)
    page.get_by_role("link", name="Version 1").click()
    expect(page.locator("td.words").filter(has_text=EN_OLD)).to_have_count(1)
    expect(page.locator("td.words").filter(has_text=EN_NEW)).to_have_count(0)
