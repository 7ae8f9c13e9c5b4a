"""``CONSENTRY_REPLY_TO``: a campaign sent by the real queue jobs through a
real SMTP server carries it as Reply-To, so replies reach the inbound
listener (docs/deliverability.md, Replies)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.db import SessionMaker
from service.embedded import MailCatcher
from service.settings import Settings, load_settings
from tests.support.factories import add_recipient
from tests.support.worker import drain, worker_context

Client = AsyncTestClient[Litestar]


@pytest.fixture
def catcher(tmp_path: Path) -> Iterator[MailCatcher]:
    server = MailCatcher(tmp_path / "outbox")
    with server:
        yield server


@pytest.fixture
def settings(settings: Settings, settings_env: dict[str, str], catcher: MailCatcher) -> Settings:
    return load_settings(
        {
            **settings_env,
            "CONSENTRY_DATABASE_URL": settings.database_url,
            "CONSENTRY_REDIS_URL": settings.redis_url or "",
            "CONSENTRY_SMTP_HOST": "127.0.0.1",
            "CONSENTRY_SMTP_PORT": str(catcher.port),
            "CONSENTRY_MAIL_FROM": "Firma Oy <uutiset@firma.fi>",
            "CONSENTRY_REPLY_TO": "asiakaspalvelu@firma.fi",
        }
    )


@pytest.fixture
async def ctx(settings: Settings, sessionmaker: SessionMaker) -> AsyncIterator[dict[str, Any]]:
    async with worker_context(settings, sessionmaker) as context:
        await context["redis"].flushdb()
        yield context


async def test_campaign_mail_carries_the_reply_to(
    admin: Client, ctx: dict[str, Any], catcher: MailCatcher
) -> None:
    await add_recipient(admin, "reply-to@example.fi", tags=["reply-to"])
    campaign = await admin.post(
        "/api/v1/campaigns",
        json={
            "name": "Reply-To",
            "channel": "email",
            "subject": "Hei",
            "body_html": "<p>Hei</p>",
            "body_text": "Hei",
            "segment": {"tags": ["reply-to"]},
        },
    )
    assert campaign.status_code == 201, campaign.text
    sent = await admin.post(f"/api/v1/campaigns/{campaign.json()['id']}/send")
    assert sent.status_code == 202, sent.text
    await drain(ctx)
    (message,) = [m for m in catcher.messages() if m["X-Envelope-To"] == "reply-to@example.fi"]
    assert message.get_all("Reply-To") == ["asiakaspalvelu@firma.fi"]
    assert str(message["From"]) == "Firma Oy <uutiset@firma.fi>"
