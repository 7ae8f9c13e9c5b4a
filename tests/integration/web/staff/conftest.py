"""The staff pages with a real mail relay (the session's catcher)."""

from __future__ import annotations

import pytest

from service.embedded import MailCatcher
from service.settings import Settings, load_settings

PUBLIC_URL = "http://consentry.example.test"


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
