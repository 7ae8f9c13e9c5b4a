"""Fixtures of the campaign page tests: settings with a real SMTP server (the
session's mail catcher) and the real queue jobs, contacts made over the API,
and a campaign composed through the page's own form.

Everyone's requests go through the test's one client, each person with their
own cookie or token (``Client`` of tests/integration/web/conftest.py).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.db import SessionMaker
from service.embedded import MailCatcher
from service.models.enums import Role
from service.settings import Settings, load_settings
from tests.conftest import TokenFactory
from tests.integration.web.conftest import Client, csrf
from tests.support.worker import worker_context

_numbers = itertools.count(1)


@pytest.fixture
async def admin(client: AsyncTestClient[Litestar], make_token: TokenFactory) -> Client:
    """The JSON API, as an admin with a bearer token."""
    return Client(client, {"Authorization": f"Bearer {await make_token(Role.ADMIN)}"})


FORM = {
    "name": "Autumn coaching",
    "channel": "email",
    "purpose": "direct_marketing",
    "subject": "Hello {{ contact.name }}",
    "body_html": "<p>Dear {{ contact.name }},</p>\n<p>our autumn programme.</p>",
    "body_text": "Dear {{ contact.name }},\nour autumn programme.",
}


@pytest.fixture
def settings(
    settings: Settings, settings_env: dict[str, str], smtp_server: MailCatcher
) -> Settings:
    return load_settings(
        {
            **settings_env,
            "CONSENTRY_DATABASE_URL": settings.database_url,
            "CONSENTRY_REDIS_URL": settings.redis_url or "",
            "CONSENTRY_SMTP_HOST": "127.0.0.1",
            "CONSENTRY_SMTP_PORT": str(smtp_server.port),
            "CONSENTRY_MAIL_FROM": "news@example.fi",
            "CONSENTRY_SEND_BATCH_SIZE": "2",
        }
    )


@pytest.fixture
async def ctx(settings: Settings, sessionmaker: SessionMaker) -> AsyncIterator[dict[str, Any]]:
    """The worker's context; the queue starts empty."""
    async with worker_context(settings, sessionmaker) as context:
        await context["redis"].flushdb()
        yield context


async def compose(browser: Client, **fields: str) -> int:
    """Create a draft through the new-campaign form; its id."""
    form_page = await browser.get("/app/campaigns/new")
    assert form_page.status_code == 200, form_page.text
    answer = await browser.post(
        "/app/campaigns/new", data={**FORM, **fields, "csrf_token": csrf(form_page)}
    )
    assert answer.status_code == 303, answer.text
    found = re.fullmatch(r"/app/campaigns/(\d+)\?saved=1", answer.headers["location"])
    assert found is not None, answer.headers["location"]
    return int(found.group(1))


async def form_post(
    browser: Client, page_url: str, action: str, data: dict[str, str] | None = None
) -> httpx.Response:
    """Post a form of ``page_url`` to ``action``, with the page's CSRF token."""
    shown = await browser.get(page_url)
    assert shown.status_code == 200, shown.text
    return await browser.post(action, data={**(data or {}), "csrf_token": csrf(shown)})


CONFIRMATION = re.compile(r'name="confirmation" value="([^"]+)"')


def confirmation_of(page: httpx.Response) -> str:
    """The signed confirmation a confirmation page's form carries."""
    found = CONFIRMATION.search(page.text)
    assert found is not None, page.text
    return found.group(1)


async def send_confirmed(
    browser: Client, campaign_id: int, *, send_at: str | None = None
) -> httpx.Response:
    """Send now (or schedule at ``send_at``) through the confirmation page, as
    the buttons do: look first, then post its form."""
    url = f"/app/campaigns/{campaign_id}"
    look = await browser.get(
        f"{url}/send" if send_at is None else f"{url}/schedule?send_at={send_at}"
    )
    assert look.status_code == 200, look.text
    data = {"csrf_token": csrf(look), "confirmation": confirmation_of(look)}
    if send_at is not None:
        data["send_at"] = send_at
    return await browser.post(f"{url}/send" if send_at is None else f"{url}/schedule", data=data)
