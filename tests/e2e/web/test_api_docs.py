"""The API docs in a real browser, with nothing but this origin: Swagger UI
draws the operations under the page's policy of 'self' only, and nothing
the page does asks another host (the service works offline)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Request, expect

from tests.support.consentry_run import RunningService
from tests.support.web import new_page

pytestmark = pytest.mark.slow


def test_the_api_docs_draw_from_this_origin_only(service: RunningService, browser: Browser) -> None:
    page = new_page(browser)
    elsewhere: list[str] = []
    problems: list[str] = []

    def asked(request: Request) -> None:
        if not request.url.startswith((service.base_url, "data:")):
            elsewhere.append(request.url)

    def said(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    page.on("request", asked)
    page.on("console", said)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(f"{service.base_url}/schema/swagger")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Consentry")
    expect(page.locator(".opblock-tag", has_text="contacts").first).to_be_visible()
    page.locator(".opblock-summary").first.click()  # an operation opens
    expect(page.locator(".opblock-body").first).to_be_visible()
    assert elsewhere == []
    assert problems == []  # a refused script or style is logged as an error
