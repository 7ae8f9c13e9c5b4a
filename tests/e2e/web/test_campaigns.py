"""Campaigns in a real browser: a marketer composes a campaign in the form,
sees who will get it and why the others will not, sends it, watches the
progress bar reach done and reads the statistics. A ban recorded meanwhile
shows in the audience panel without a reload."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.consentry_run import RunningService, consentry, wait_for
from tests.support.web import Staff, new_page, screenshot, sign_in

pytestmark = pytest.mark.slow

GRANT = {
    "channel": "email",
    "purpose": "direct_marketing",
    "action": "grant",
    "source": "self",
    "method": "web_form",
    "evidence": {"text": "Yes, send me offers", "notice_version": "1"},
}
# Workers send while the page polls; three messages take well under a second,
# the rest is a busy machine's margin.
SENDING_TIMEOUT = 60_000  # ms
# The audience panel refreshes every 10 s.
PANEL_TIMEOUT = 30_000  # ms
STORED_TIMEOUT = 30  # s; the worker stores queued engagement events every 5 seconds
TRACKING = {**GRANT, "purpose": "email_tracking"}
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36"
)


@contextmanager
def api_of(service: RunningService, person: Staff) -> Iterator[httpx.Client]:
    issued = consentry(service.env, "token", "issue", person.email)
    assert issued.returncode == 0, issued.stderr
    headers = {"Authorization": f"Bearer {issued.stdout.strip()}"}
    with httpx.Client(base_url=f"{service.base_url}/api/v1", headers=headers, timeout=10) as api:
        yield api


def add_contact(
    api: httpx.Client, name: str, address: str, *, consent: bool, tracking: bool = False
) -> int:
    answer = api.post(
        "/contacts",
        json={"full_name": name, "email": address, "legal_basis": "consent", "source": "self"},
    )
    assert answer.status_code == 201, answer.text
    contact_id = int(answer.json()["id"])
    for wanted, body in ((consent, GRANT), (tracking, TRACKING)):
        if wanted:
            granted = api.post(f"/contacts/{contact_id}/consents", json=body)
            assert granted.status_code == 201, granted.text
    return contact_id


def screenshot_whole(page: Page, name: str) -> None:
    """A screenshot with the preview frame painted: Chromium leaves a sandboxed
    (cross-origin) frame outside the viewport blank in a full-page capture, so
    the viewport is made as tall as the page for it."""
    size = page.viewport_size
    assert size is not None
    height = int(page.evaluate("document.documentElement.scrollHeight"))
    page.set_viewport_size({"width": size["width"], "height": height})
    expect(page.frame_locator("iframe.preview-frame").locator("body")).to_be_visible()
    screenshot(page, name)
    page.set_viewport_size(size)


def messages(service: RunningService, campaign_id: int) -> dict[str, EmailMessage]:
    """The campaign's messages in the mail catcher's outbox, by recipient."""
    found: dict[str, EmailMessage] = {}
    for path in sorted(service.outbox.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        if str(message["List-Id"]).startswith(f"<campaign-{campaign_id}."):
            found[str(message["X-Envelope-To"])] = message
    return found


def public_get(service: RunningService, url: str, user_agent: str) -> httpx.Response:
    """A link of a message as the recipient's browser follows it (the public URL's
    path, on the running service)."""
    parts = urlsplit(url)
    return httpx.get(
        f"{service.base_url}{parts.path}", headers={"User-Agent": user_agent}, timeout=10
    )


def engage(service: RunningService, campaign_id: int) -> None:
    """Aino opens and clicks in Firefox, Bertta clicks on her phone and unsubscribes."""
    mail = messages(service, campaign_id)
    aino = str(mail["aino@example.fi"].get_body(("html",)).get_content())  # type: ignore[union-attr]
    bertta = mail["bertta@example.fi"]
    bertta_html = str(bertta.get_body(("html",)).get_content())  # type: ignore[union-attr]
    (pixel,) = re.findall(r'src="([^"]*/t/o/[^"]+)"', aino)
    assert public_get(service, pixel, FIREFOX).status_code == 200
    for html, agent in ((aino, FIREFOX), (bertta_html, CHROME_ANDROID)):
        (click,) = re.findall(r'href="([^"]*/t/c/[^"]+)"', html)
        assert public_get(service, click, agent).status_code == 302
    unsubscribe = re.findall(r"<(https?://[^<>]+)>", str(bertta["List-Unsubscribe"]))[0]
    answer = httpx.post(
        f"{service.base_url}{urlsplit(unsubscribe).path}",
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert answer.status_code == 200


def test_compose_see_the_audience_send_and_read_the_statistics(
    service: RunningService, browser: Browser, staff: Callable[[str], Staff]
) -> None:
    marketer = staff("marketer")
    with api_of(service, marketer) as api:
        aino = add_contact(api, "Aino Aaltonen", "aino@example.fi", consent=True, tracking=True)
        add_contact(api, "Bertta Berg", "bertta@example.fi", consent=True)
        cecilia = add_contact(api, "Cecilia Co", "cecilia@example.fi", consent=False)
    page = new_page(browser)
    sign_in(page, service, marketer)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Campaigns").click()
    page.get_by_role("link", name="New campaign").click()
    page.get_by_label("Name", exact=True).fill("Autumn coaching")
    page.get_by_label("Subject", exact=True).fill("Autumn news for {{ contact.name }}")
    page.get_by_label("HTML body", exact=True).fill(
        "<p>Dear {{ contact.name }},</p>\n<p>our autumn programme starts soon: "
        '<a href="https://example.fi/autumn">read more</a>.</p>'
    )
    page.get_by_label("Text body", exact=True).fill(
        "Dear {{ contact.name }},\nour autumn programme starts soon."
    )
    page.get_by_role("button", name="Save as a draft").click()
    expect(page.get_by_role("status").filter(has_text="Saved as a draft.")).to_be_visible()
    found = re.search(r"/app/campaigns/(\d+)\?saved=1$", page.url)
    assert found is not None, page.url
    campaign_id = int(found.group(1))

    # Who will get it, and why the others will not.
    panel = page.locator("#audience")
    expect(panel.locator("#eligible-count")).to_have_text("2 eligible")
    no_consent = panel.locator("#reason-no_consent")
    expect(no_consent).to_contain_text("no consent for email marketing and no other lawful basis")
    expect(no_consent.get_by_role("link")).to_have_text("1 left out: no_consent")
    # The live preview, as the first eligible contact sees it.
    expect(page.locator(".preview-who")).to_contain_text("Preview for Aino Aaltonen")
    frame = page.frame_locator("iframe.preview-frame")
    expect(frame.get_by_text("Dear Aino Aaltonen,")).to_be_visible()
    # Typing changes the preview, unsaved.
    subject = page.get_by_label("Subject", exact=True)
    subject.fill("Special autumn news for {{ contact.name }}")
    subject.press("End")  # a key: the form previews on keyup, not on fill's input event
    expect(page.locator(".preview-subject")).to_have_text("Special autumn news for Aino Aaltonen")
    expect(frame.get_by_text("Dear Aino Aaltonen,")).to_be_visible()
    expect(page.locator("#preview-contact")).to_have_value(str(aino))
    screenshot_whole(page, "composer")

    no_consent.get_by_role("link").click()
    expect(
        page.get_by_text("no consent for email marketing and no other lawful basis")
    ).to_be_visible()
    expect(page.locator("ul.people a")).to_have_count(1)
    person = page.get_by_role("link", name="Cecilia Co")
    expect(person).to_have_attribute("href", f"/app/contacts/{cecilia}")
    screenshot(page, "audience-reason")
    page.go_back()

    page.get_by_role("button", name="Send now").click()
    # The second look: channel, who gets it and who is left out, then confirm.
    expect(page.locator("#confirm-channel")).to_have_text("email")
    expect(page.locator("#confirm-eligible")).to_have_text("2 people")
    expect(page.locator("#confirm-reason-no_consent .count")).to_have_text("1")
    screenshot(page, "confirm-send")
    page.get_by_role("button", name="Send to 2 people now").click()
    progress = page.locator("#progress-text")
    expect(progress).to_contain_text("of 2", timeout=SENDING_TIMEOUT)
    expect(progress).to_have_text(
        "sent 2 / skipped 0 / failed 0 of 2 · done", timeout=SENDING_TIMEOUT
    )
    expect(page.locator("#campaign-status")).to_have_text("Finished")
    expect(page.locator("#progress-bar")).to_have_attribute("value", "2")
    expect(page.get_by_role("button", name="Pause")).to_have_count(0)
    screenshot(page, "sending")

    engage(service, campaign_id)
    with api_of(service, marketer) as api:

        def stored() -> bool:
            answer = api.get(f"/campaigns/{campaign_id}/statistics")
            return bool(answer.json()["clicks"] == 2)

        wait_for(stored, "the clicks to be stored", timeout=STORED_TIMEOUT)
    page.get_by_role("link", name="Statistics").click()
    expect(page.get_by_role("heading", name="Statistics: Autumn coaching")).to_be_visible()
    expect(page.locator("svg.chart-svg").first).to_be_visible()
    expect(page.locator("figure#chart-outcomes tbody tr").first).to_contain_text("Sent")
    browsers = page.locator("figure#chart-browser tbody tr")
    expect(browsers).to_have_count(2)
    expect(page.locator("figure#chart-browser svg rect")).to_have_count(4)
    unsubscribed = page.get_by_role("row", name="Unsubscribed")
    expect(unsubscribed.get_by_role("cell")).to_have_text("1")
    with page.expect_download() as downloading:
        page.get_by_role("link", name="Download as CSV").click()
    download = downloading.value
    assert download.suggested_filename.endswith(".csv")
    with open(download.path(), encoding="utf-8") as csv:
        assert csv.readline().strip() == "section,key,value,clicks"
        assert "total,sent,2," in csv.read()
    screenshot(page, "statistics")

    page.get_by_role("link", name="Back to Autumn coaching").click()
    page.get_by_role("link", name="All campaigns").click()
    expect(page.get_by_role("link", name="Autumn coaching")).to_be_visible()
    expect(page.get_by_role("row", name="Autumn coaching")).to_contain_text("Finished")
    screenshot(page, "campaigns")


def test_a_ban_shows_in_the_audience_panel_without_a_reload(
    service: RunningService, browser: Browser, staff: Callable[[str], Staff]
) -> None:
    marketer = staff("marketer")
    with api_of(service, marketer) as api:
        dora = add_contact(api, "Dora Dahl", "dora@example.fi", consent=True)
        made = api.post(
            "/campaigns",
            json={
                "name": "Winter offers",
                "channel": "email",
                "subject": "Winter",
                "body_html": "<p>Hi {{ contact.name }}</p>",
                "body_text": "Hi {{ contact.name }}",
            },
        )
        assert made.status_code == 201, made.text
        page = new_page(browser, phone=True)
        sign_in(page, service, marketer)
        page.goto(f"{service.base_url}/app/campaigns/{made.json()['id']}")
        eligible = page.locator("#eligible-count")
        expect(eligible).not_to_have_text("0 eligible")
        before = int(eligible.inner_text().split()[0])
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # fits a phone
        banned = api.post(
            f"/contacts/{dora}/bans",
            json={"kind": "direct_marketing", "channel": "all", "source": "self"},
        )
        assert banned.status_code == 201, banned.text
    expect(eligible).to_have_text(f"{before - 1} eligible", timeout=PANEL_TIMEOUT)
    expect(page.locator("#reason-direct_marketing_ban")).to_contain_text(
        "banned all direct marketing to them"
    )


def test_write_a_campaign_in_the_editor_on_a_layout_and_see_it_styled(
    service: RunningService, browser: Browser, staff: Callable[[str], Staff]
) -> None:
    marketer = staff("marketer")
    with api_of(service, marketer) as api:
        add_contact(api, "Aino Aaltonen", "aino.layout@example.fi", consent=True)
    page = new_page(browser)
    refused: list[str] = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    sign_in(page, service, marketer)
    page.goto(f"{service.base_url}/app/campaigns/new")
    page.get_by_label("Name", exact=True).fill("Winter letter")
    page.get_by_label("Subject", exact=True).fill("Winter news")
    page.get_by_label("Markdown, in the editor").check()
    page.get_by_label("Layout", exact=True).select_option(label="Default (responsive)")
    page.get_by_label("Body", exact=True).fill("Draft")
    page.get_by_role("button", name="Save as a draft").click()
    expect(page.get_by_role("status").filter(has_text="Saved as a draft.")).to_be_visible()

    # The Markdown editor (vendored EasyMDE) replaces the textarea; its
    # buttons are words, no icon font is fetched.
    editor = page.locator(".EasyMDEContainer .CodeMirror")
    expect(editor).to_be_visible()
    expect(page.locator(".editor-toolbar").get_by_role("button", name="Bold")).to_be_visible()
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("# Hello {{ contact.name }}\n\nOur winter programme.\n")
    page.keyboard.press("End")
    frame = page.frame_locator("iframe.preview-frame")
    heading = frame.get_by_role("heading", name="Hello Aino Aaltonen")
    expect(heading).to_be_visible()
    # The layout's styles reach the preview: inlined, allowed by the frame's policy.
    expect(heading).to_have_css("color", "rgb(16, 42, 67)")
    # The frame is narrower than 480px: the layout's responsive rule is in force.
    expect(heading).to_have_css("font-size", "22px")
    page.get_by_role("button", name="Save the draft").click()
    expect(page.get_by_role("status").filter(has_text="Saved as a draft.")).to_be_visible()
    screenshot_whole(page, "composer-markdown")

    page.get_by_role("button", name="Send a test to my address").click()
    expect(page.get_by_role("status")).to_contain_text("The test message was sent")
    assert not refused, refused
