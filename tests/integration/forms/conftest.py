"""Fixtures for the public side of signup forms: settings with a real SMTP
catcher and a public URL, a visitor with a real-looking address (the test
client says "testclient"), and the app's queue."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from arq.connections import ArqRedis
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service import queue
from service.crypto import DataCipher
from service.embedded import MailCatcher
from service.settings import Settings, load_settings
from tests.conftest import TEST_DATA_KEY

PUBLIC_URL = "https://consentry.example.fi"
VISITOR_IP = "203.0.113.77"


@pytest.fixture
def settings(
    database_url: str, settings_env: dict[str, str], redis_url: str, smtp_server: MailCatcher
) -> Settings:
    """The shared test settings, plus a real relay and a public URL."""
    return load_settings(
        {
            **settings_env,
            "CONSENTRY_DATABASE_URL": database_url,
            "CONSENTRY_REDIS_URL": redis_url,
            "CONSENTRY_SMTP_HOST": "127.0.0.1",
            "CONSENTRY_SMTP_PORT": str(smtp_server.port),
            "CONSENTRY_PUBLIC_URL": PUBLIC_URL,
            "CONSENTRY_CONTROLLER_NAME": "Valmennus Esimerkki Oy",
            "CONSENTRY_PRIVACY_CONTACT": "tietosuoja@example.fi",
        }
    )


@pytest.fixture
def cipher() -> DataCipher:
    return DataCipher(TEST_DATA_KEY)


class FromAddress:
    """The app as reached from ``VISITOR_IP``: the test client says
    "testclient", which is no address at all."""

    def __init__(self, app: Litestar) -> None:
        self._app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope = {**scope, "client": (VISITOR_IP, 50123)}
        await self._app(scope, receive, send)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._app, name)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """Overrides tests/conftest.py's: every request comes from ``VISITOR_IP``."""
    async with AsyncTestClient(app=FromAddress(app)) as test_client:  # type: ignore[arg-type]
        yield test_client


@pytest.fixture
def visitor(client: AsyncTestClient[Litestar]) -> AsyncTestClient[Litestar]:
    """A browser at 203.0.113.77 (the same client as ``admin``'s, whose
    token it may carry: the public routes ignore it)."""
    return client


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[ArqRedis]:
    """The queue, as seen from the test (the app's own client lives in the
    test client's thread)."""
    pool = await queue.connect(redis_url)
    try:
        yield pool
    finally:
        await pool.aclose()
