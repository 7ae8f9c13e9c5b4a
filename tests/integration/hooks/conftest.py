"""Fixtures of the ESP webhook tests: an app with every provider configured
(tests/support/hooks.py holds the keys and signs the requests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.db import SessionMaker
from service.hooks.public import SES_HTTP_GET
from service.settings import Settings, load_settings
from tests.support.clock import FrozenClock
from tests.support.hooks import CERT_URL, HOOK_ENV, SNS_KEY, Client, FakeSns, certificate


@pytest.fixture
def hook_settings(settings_env: dict[str, str], database_url: str, redis_url: str) -> Settings:
    return load_settings(
        {
            **settings_env,
            **HOOK_ENV,
            "CONSENTRY_DATABASE_URL": database_url,
            "CONSENTRY_REDIS_URL": redis_url,
        }
    )


@pytest.fixture
def sns(frozen_clock: FrozenClock) -> FakeSns:
    start = frozen_clock.now - timedelta(days=1)
    return FakeSns({CERT_URL: certificate(SNS_KEY, valid_from=start)})


@pytest.fixture
async def hooks(
    hook_settings: Settings, sessionmaker: SessionMaker, sns: FakeSns
) -> AsyncIterator[Client]:
    """A client of the app with every provider configured, on an emptied database."""
    app = create_app(hook_settings)
    setattr(app.state, SES_HTTP_GET, sns.get)
    async with AsyncTestClient(app=app) as client:
        yield client
