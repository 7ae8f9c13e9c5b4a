"""Fixtures of the privacy portal: settings with a real mail relay (the
session's catcher) and a public URL of its own, a clean queue, and helpers
that open a portal session as a person would."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from arq.connections import ArqRedis
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service import queue
from service.db import SessionMaker, session_scope
from service.embedded import MailCatcher
from service.portal import links
from service.settings import Settings, load_settings

Client = AsyncTestClient[Litestar]
PUBLIC_URL = "http://consentry.example.test"
# What a browser sends with a form posted from one of our own pages.
OURS = {"Origin": PUBLIC_URL}


@pytest.fixture
def settings(
    database_url: str, settings_env: dict[str, str], redis_url: str, smtp_server: MailCatcher
) -> Settings:
    return load_settings(
        {
            **settings_env,
            "CONSENTRY_DATABASE_URL": database_url,
            "CONSENTRY_REDIS_URL": redis_url,
            "CONSENTRY_SMTP_HOST": "127.0.0.1",
            "CONSENTRY_SMTP_PORT": str(smtp_server.port),
            "CONSENTRY_PUBLIC_URL": PUBLIC_URL,
        }
    )


@pytest.fixture
async def jobs(redis_url: str) -> AsyncIterator[ArqRedis]:
    """The queue, emptied: what a test finds there, its requests put there."""
    redis = await queue.connect(redis_url)
    await redis.flushdb()
    try:
        yield redis
    finally:
        await redis.aclose()


async def link_for(sessionmaker: SessionMaker, contact_id: int) -> str:
    """A fresh one-time link's token, as the worker makes it."""
    async with session_scope(sessionmaker) as session:
        return await links.issue_link(session, contact_id=contact_id)


async def signed_in(client: Client, sessionmaker: SessionMaker, contact_id: int) -> None:
    """Open a portal session in ``client`` (the cookie stays in its jar)."""
    token = await link_for(sessionmaker, contact_id)
    response = await client.post(f"/me/{token}", headers=OURS, follow_redirects=False)
    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith("/me/page")
