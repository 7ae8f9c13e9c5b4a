"""The inbound listener's settings: defaults and one clear error per bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.settings import SettingsError, load_settings


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"CONSENTRY_VAR_DIR": str(tmp_path / "var")}


def test_defaults(env: dict[str, str]) -> None:
    settings = load_settings({**env, "CONSENTRY_MAIL_FROM": "news@example.fi"})
    assert (settings.inbound_host, settings.inbound_port) == ("127.0.0.1", 2525)
    assert settings.bounce_address == "news@example.fi"
    assert settings.soft_bounce_limit == 3


def test_values(env: dict[str, str]) -> None:
    settings = load_settings(
        {
            **env,
            "CONSENTRY_INBOUND_HOST": "192.0.2.10",
            "CONSENTRY_INBOUND_PORT": "25",
            "CONSENTRY_BOUNCE_ADDRESS": "bounces@example.fi",
            "CONSENTRY_SOFT_BOUNCE_LIMIT": "5",
        }
    )
    assert (settings.inbound_host, settings.inbound_port) == ("192.0.2.10", 25)
    assert settings.bounce_address == "bounces@example.fi"
    assert settings.soft_bounce_limit == 5


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("INBOUND_PORT", "smtp", "must be a port number from 1 to 65535"),
        ("INBOUND_PORT", "70000", "must be a port number from 1 to 65535"),
        ("SOFT_BOUNCE_LIMIT", "0", "must be a whole number from 1 to 100"),
        (
            "BOUNCE_ADDRESS",
            "bounces",
            'must be an email address, optionally with a display name ("Firma Oy <news@firma.fi>")',
        ),
    ],
)
def test_bad_values_name_the_variable(
    env: dict[str, str], name: str, value: str, message: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({**env, f"CONSENTRY_{name}": value})
    assert str(caught.value) == f"CONSENTRY_{name}: {message}"
