"""The main paths with the keyboard alone (Tab, Shift+Tab, Enter, typing):
sign in, open a contact, go through a campaign's page. Every stop of Tab
shows where the focus is (the :focus-visible outline), and the first stop of
every page is the link that skips to its main content."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.consentry_run import PASSWORD, RunningService, consentry
from tests.support.factories import EMAIL_CAMPAIGN
from tests.support.web import Staff, new_page, sign_in

pytestmark = pytest.mark.slow

MOST_STOPS = 150
FOCUSED = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const style = getComputedStyle(e);
  const box = e.getBoundingClientRect();
  return {
    tag: e.tagName.toLowerCase(),
    id: e.id,
    name: (e.labels && e.labels[0] ? e.labels[0].textContent : e.getAttribute("aria-label")
           || e.textContent || e.getAttribute("value") || "").trim().replace(/\\s+/g, " "),
    outlined: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2,
    shown: box.width > 0 && box.height > 0,
  };
}"""


def _seed(service: RunningService, admin: Staff) -> tuple[int, int]:
    """A contact and a draft campaign, over the API: their ids."""
    issued = consentry(service.env, "token", "issue", admin.email)
    assert issued.returncode == 0, issued.stderr
    headers = {"Authorization": f"Bearer {issued.stdout.strip()}"}
    with httpx.Client(base_url=f"{service.base_url}/api/v1", headers=headers, timeout=10) as api:
        contact = api.post(
            "/contacts",
            json={
                "full_name": "Kaarina Keyboard",
                "email": "kaarina@example.fi",
                "legal_basis": "customer_relationship",
                "source": "self",
            },
        )
        assert contact.status_code == 201, contact.text
        campaign = api.post("/campaigns", json={**EMAIL_CAMPAIGN, "name": "Keyboard news"})
        assert campaign.status_code == 201, campaign.text
    return int(contact.json()["id"]), int(campaign.json()["id"])


def _focused(page: Page) -> dict[str, Any]:
    found: dict[str, Any] | None = page.evaluate(FOCUSED)
    assert found is not None, "Tab left the focus nowhere"
    assert found["shown"], f"the focus is on something not shown: {found}"
    assert found["outlined"], f"no visible focus on {found}"
    return found


def _tab_to(page: Page, name: str, *, tag: str | None = None, key: str = "Tab") -> dict[str, Any]:
    """Tab (or ``key``: Shift+Tab) until the focus is on what is called ``name``."""
    for _ in range(MOST_STOPS):
        page.keyboard.press(key)
        found = _focused(page)
        if name in found["name"] and (tag is None or found["tag"] == tag):
            return found
    raise AssertionError(f"Tab never reached {name!r}")


def _skip_to_content(page: Page) -> None:
    """The first Tab stop skips to the main content; Enter goes there."""
    page.keyboard.press("Tab")
    skip = _focused(page)
    assert skip["name"] == "Skip to content", skip
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def _every_stop_shows_its_focus(page: Page) -> list[str]:
    """Tab through the whole page; the names of its stops."""
    page.evaluate("document.activeElement && document.activeElement.blur()")
    stops = []
    for _ in range(MOST_STOPS):
        page.keyboard.press("Tab")
        found = page.evaluate(FOCUSED)
        if found is None or (stops and found["name"] == "Skip to content"):
            return stops  # round to the browser's own controls, or to the start
        _focused(page)
        stops.append(found["name"])
    raise AssertionError("more Tab stops than any page has")


def test_sign_in_open_a_contact_and_a_campaign_with_the_keyboard(
    service: RunningService, browser: Browser, staff: Callable[[str], Staff]
) -> None:
    admin = staff("admin")
    contact_id, campaign_id = _seed(service, admin)
    setup = new_page(browser)
    sign_in(setup, service, admin)  # enrols the second factor (reading its key)
    setup.context.close()

    page = new_page(browser)
    page.goto(f"{service.base_url}/app/login")
    assert _focused(page)["id"] == "email"  # the form's first field has the focus
    page.keyboard.type(admin.email)
    _tab_to(page, "Password", tag="input")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{service.base_url}/app/login/code?next=/app")
    assert _focused(page)["id"] == "code"
    page.keyboard.type(admin.code())
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    _tab_to(page, "Contacts", tag="a")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Contacts", level=1)).to_be_visible()
    _skip_to_content(page)
    _tab_to(page, "Kaarina Keyboard", tag="a")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{service.base_url}/app/contacts/{contact_id}")
    expect(page.get_by_role("heading", name="Kaarina Keyboard")).to_be_visible()
    assert "Sign out" in _every_stop_shows_its_focus(page)

    _tab_to(page, "Campaigns", tag="a")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Campaigns", level=1)).to_be_visible()
    _tab_to(page, "Keyboard news", tag="a")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{service.base_url}/app/campaigns/{campaign_id}")
    stops = _every_stop_shows_its_focus(page)
    assert "Save the draft" in stops
    # Back up the page with Shift+Tab, past the draft's Save button, to its statistics.
    _tab_to(page, "Save the draft", tag="button", key="Shift+Tab")
    _tab_to(page, "Statistics", tag="a", key="Shift+Tab")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{service.base_url}/app/campaigns/{campaign_id}/statistics")
    _every_stop_shows_its_focus(page)
