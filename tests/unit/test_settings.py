"""``service.settings.load_settings``: defaults, one clear error per bad value, dev keys."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from service.settings import Environment, SettingsError, SmtpTls, load_settings

# Random-looking: production refuses hand-typed repetitions such as "s" * 32.
SECRET = "Qm7vT2xLp9RkW4zNc8HbJ5sYd3FgA6eU"
DATA_KEY = "hT4nW8qZ2mXc6RvL9pKj3BsY7dGf5EaN"
PRODUCTION = {
    "CONSENTRY_ENV": "production",
    "CONSENTRY_SECRET_KEY": SECRET,
    "CONSENTRY_DATA_KEY": DATA_KEY,
    "CONSENTRY_CONTROLLER_NAME": "Esimerkki Oy",
    "CONSENTRY_CONTROLLER_BUSINESS_ID": "1234567-8",
    "CONSENTRY_CONTROLLER_ADDRESS": "Esimerkkikatu 1, 00100 Helsinki",
    "CONSENTRY_PRIVACY_CONTACT": "tietosuoja@example.fi",
    "CONSENTRY_MAIL_FROM": "markkinointi@example.fi",
    "CONSENTRY_PUBLIC_URL": "https://crm.example.fi",
}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The smallest environment: only a private var dir."""
    return {"CONSENTRY_VAR_DIR": str(tmp_path / "var")}


def test_defaults(env: dict[str, str], tmp_path: Path) -> None:
    settings = load_settings(env)
    var_dir = tmp_path / "var"
    assert settings.env is Environment.DEV
    assert settings.is_dev
    assert settings.var_dir == var_dir
    assert settings.database_url == f"sqlite+aiosqlite:///{var_dir}/consentry.db"
    assert settings.public_url == "http://127.0.0.1:8000"
    assert settings.redis_url is None
    assert settings.smtp_host is None
    assert settings.smtp_tls is SmtpTls.NONE
    assert settings.smtp_port == 25
    assert settings.mail_from == "marketing@localhost"
    # Placeholders in dev, so the service starts without the controller's details.
    assert settings.controller_name
    assert settings.privacy_contact


@pytest.mark.parametrize(
    ("tls", "port"), [("none", 25), ("starttls", 587), ("tls", 465), ("STARTTLS", 587)]
)
def test_smtp_port_follows_tls_mode(env: dict[str, str], tls: str, port: int) -> None:
    settings = load_settings({**env, "CONSENTRY_SMTP_TLS": tls})
    assert settings.smtp_tls is SmtpTls(tls.lower())
    assert settings.smtp_port == port


def test_explicit_values_are_kept(env: dict[str, str]) -> None:
    settings = load_settings(
        {
            **env,
            "CONSENTRY_DATABASE_URL": "postgresql+asyncpg://u:p@db.example/consentry",
            "CONSENTRY_REDIS_URL": "redis://127.0.0.1:6380/1",
            "CONSENTRY_SMTP_HOST": "smtp.example.fi",
            "CONSENTRY_SMTP_PORT": "2525",
            "CONSENTRY_SMTP_TLS": "tls",
            "CONSENTRY_PUBLIC_URL": "https://crm.example.fi/",
            "CONSENTRY_SECRET_KEY": SECRET,
            "CONSENTRY_DATA_KEY": DATA_KEY,
        }
    )
    assert settings.database_url == "postgresql+asyncpg://u:p@db.example/consentry"
    assert settings.redis_url == "redis://127.0.0.1:6380/1"
    assert settings.smtp_host == "smtp.example.fi"
    assert settings.smtp_port == 2525  # an explicit port wins over the TLS default
    assert settings.public_url == "https://crm.example.fi"  # no trailing slash
    assert (settings.secret_key, settings.data_key) == (SECRET, DATA_KEY)


def test_site_origins_are_normalised_and_default_to_none(env: dict[str, str]) -> None:
    assert load_settings(env).site_origins == ()
    origins = " https://WWW.Example.fi/ ,http://127.0.0.1:8080,"
    settings = load_settings({**env, "CONSENTRY_SITE_ORIGINS": origins})
    assert settings.site_origins == ("https://www.example.fi", "http://127.0.0.1:8080")


def test_blank_values_count_as_unset(env: dict[str, str]) -> None:
    settings = load_settings({**env, "CONSENTRY_SMTP_PORT": "  ", "CONSENTRY_ENV": ""})
    assert settings.smtp_port == 25
    assert settings.env is Environment.DEV


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CONSENTRY_ENV", "staging"),
        ("CONSENTRY_SMTP_PORT", "abc"),
        ("CONSENTRY_SMTP_PORT", "0"),
        ("CONSENTRY_SMTP_PORT", "70000"),
        ("CONSENTRY_SMTP_PORT", "-25"),
        ("CONSENTRY_SMTP_PORT", "²"),  # a "digit" that int() refuses
        ("CONSENTRY_SMTP_TLS", "ssl"),
        ("CONSENTRY_DATABASE_URL", "mysql://x"),
        ("CONSENTRY_DATABASE_URL", "consentry.db"),
        ("CONSENTRY_PUBLIC_URL", "ftp://x"),
        ("CONSENTRY_PUBLIC_URL", "http://"),
        ("CONSENTRY_PUBLIC_URL", "http://[::1"),  # urlsplit itself raises on this
        ("CONSENTRY_REDIS_URL", "http://x"),
        ("CONSENTRY_REDIS_URL", "redis://"),
        ("CONSENTRY_SECRET_KEY", "too-short"),
        ("CONSENTRY_DATA_KEY", "d" * 31),
        ("CONSENTRY_SITE_ORIGINS", "www.example.fi"),
        ("CONSENTRY_SITE_ORIGINS", "https://www.example.fi/shop"),
        ("CONSENTRY_SITE_ORIGINS", "https://www.example.fi, ftp://files.example.fi"),
        ("CONSENTRY_SITE_ORIGINS", "http://[::1"),
        ("CONSENTRY_SITE_ORIGINS", "https://example.fi:port"),
        ("CONSENTRY_IP_V4_PREFIX", "32"),  # finer than the notice allows
        ("CONSENTRY_IP_V6_PREFIX", "64"),
        ("CONSENTRY_VISIT_COOKIE_DAYS", "400"),  # longer than 13 months
    ],
)
def test_bad_value_names_the_variable(env: dict[str, str], name: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({**env, name: value})
    message = str(caught.value)
    assert message.startswith(f"{name}: ")
    assert "\n" not in message


def test_var_dir_that_cannot_hold_the_dev_keys_is_a_settings_error(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    with pytest.raises(SettingsError, match=r"^CONSENTRY_VAR_DIR: "):
        load_settings({"CONSENTRY_VAR_DIR": str(not_a_dir)})


def test_production_accepts_a_complete_set(env: dict[str, str]) -> None:
    settings = load_settings({**env, **PRODUCTION})
    assert settings.env is Environment.PRODUCTION
    assert not settings.is_dev
    assert settings.controller_name == "Esimerkki Oy"
    assert settings.controller_business_id == "1234567-8"
    assert settings.controller_address == "Esimerkkikatu 1, 00100 Helsinki"
    assert settings.privacy_contact == "tietosuoja@example.fi"
    assert settings.mail_from == "markkinointi@example.fi"
    assert (settings.secret_key, settings.data_key) == (SECRET, DATA_KEY)


@pytest.mark.parametrize("missing", [name for name in PRODUCTION if name != "CONSENTRY_ENV"])
def test_production_refuses_a_missing_setting(
    env: dict[str, str], tmp_path: Path, missing: str
) -> None:
    incomplete = {name: value for name, value in {**env, **PRODUCTION}.items() if name != missing}
    with pytest.raises(SettingsError) as caught:
        load_settings(incomplete)
    assert str(caught.value).startswith(f"{missing}: ")
    assert "production" in str(caught.value)
    # Production never falls back to keys generated on disk.
    assert not (tmp_path / "var").exists()


def test_dev_keys_are_generated_once_private_and_stable(
    env: dict[str, str], tmp_path: Path
) -> None:
    first = load_settings(env)
    second = load_settings(env)
    var_dir = tmp_path / "var"
    key_files = {var_dir / "secret_key", var_dir / "data_key"}
    assert set(var_dir.iterdir()) == key_files  # no temporary files left behind
    for key_file in key_files:
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert (first.secret_key, first.data_key) == (second.secret_key, second.data_key)
    assert first.secret_key == (var_dir / "secret_key").read_text().strip()
    assert first.data_key == (var_dir / "data_key").read_text().strip()
    assert len(first.secret_key) >= 32
    assert len(first.data_key) >= 32
    assert first.secret_key != first.data_key


def test_dev_keys_from_the_environment_are_not_written(env: dict[str, str], tmp_path: Path) -> None:
    settings = load_settings(
        {**env, "CONSENTRY_SECRET_KEY": SECRET, "CONSENTRY_DATA_KEY": DATA_KEY}
    )
    assert (settings.secret_key, settings.data_key) == (SECRET, DATA_KEY)
    assert not (tmp_path / "var").exists()


@pytest.mark.parametrize(
    "key",
    [
        "s" * 32,
        "0123456789" * 4,
        "changeme-changeme-changeme-changeme",
        "my-example-key-Qm7vT2xLp9RkW4zNc8",
    ],
)
def test_production_refuses_placeholder_keys(env: dict[str, str], key: str) -> None:
    with pytest.raises(SettingsError, match="CONSENTRY_SECRET_KEY: looks like a placeholder"):
        load_settings({**env, **PRODUCTION, "CONSENTRY_SECRET_KEY": key})
    assert load_settings({**env, "CONSENTRY_SECRET_KEY": key}).secret_key == key  # dev allows


def test_production_refuses_one_key_for_both_purposes(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match="CONSENTRY_DATA_KEY: must differ"):
        load_settings({**env, **PRODUCTION, "CONSENTRY_DATA_KEY": SECRET})


def test_cors_origins_default_to_none(env: dict[str, str]) -> None:
    assert load_settings(env).cors_origins == ()
    origins = "https://app.example.fi, http://127.0.0.1:5173"
    settings = load_settings({**env, "CONSENTRY_CORS_ORIGINS": origins})
    assert settings.cors_origins == ("https://app.example.fi", "http://127.0.0.1:5173")


# -- issue 13 item 8: settings cannot mislead -------------------------------


@pytest.mark.parametrize("url", ["http://crm.example.fi", "http://127.0.0.1:8000"])
def test_production_refuses_a_public_url_in_clear_text(env: dict[str, str], url: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({**env, **PRODUCTION, "CONSENTRY_PUBLIC_URL": url})
    assert str(caught.value) == "CONSENTRY_PUBLIC_URL: must start with https:// in production"
    assert load_settings({**env, "CONSENTRY_PUBLIC_URL": url}).public_url == url  # dev allows


@pytest.mark.parametrize(
    ("configured", "header", "address"),
    [
        ("Firma Oy <news@firma.fi>", "Firma Oy <news@firma.fi>", "news@firma.fi"),
        ("Ääkkönen Oy <uutiset@firma.fi>", "Ääkkönen Oy <uutiset@firma.fi>", "uutiset@firma.fi"),
        # Quotes are added where the name needs them, kept where given.
        ("Firma Oy Ab. <news@firma.fi>", '"Firma Oy Ab." <news@firma.fi>', "news@firma.fi"),
        ('"Firma, Oy" <news@firma.fi>', '"Firma, Oy" <news@firma.fi>', "news@firma.fi"),
        ('"Firma Oy" <news@firma.fi>', "Firma Oy <news@firma.fi>", "news@firma.fi"),
        ("news@firma.fi", "news@firma.fi", "news@firma.fi"),
        ("<news@firma.fi>", "news@firma.fi", "news@firma.fi"),
        ("uutiset@mäkelä.fi", "uutiset@xn--mkel-load.fi", "uutiset@xn--mkel-load.fi"),
    ],
)
def test_mail_from_may_carry_a_display_name(
    env: dict[str, str], configured: str, header: str, address: str
) -> None:
    settings = load_settings({**env, "CONSENTRY_MAIL_FROM": configured})
    assert settings.mail_from == header
    assert settings.mail_from_address == address
    # Everything derived from it is a bare address.
    domain = address.rpartition("@")[2]
    assert settings.bounce_address == address
    assert settings.unsubscribe_address == f"unsubscribe@{domain}"


def test_bounce_and_unsubscribe_addresses_are_kept_bare(env: dict[str, str]) -> None:
    settings = load_settings(
        {
            **env,
            "CONSENTRY_MAIL_FROM": "Firma Oy <news@firma.fi>",
            "CONSENTRY_BOUNCE_ADDRESS": "Bounces <bounce@firma.fi>",
            "CONSENTRY_UNSUBSCRIBE_ADDRESS": "pois@firma.fi",
        }
    )
    assert (settings.bounce_address, settings.unsubscribe_address) == (
        "bounce@firma.fi",
        "pois@firma.fi",
    )


@pytest.mark.parametrize(
    "value",
    [
        "firma.fi",
        "Firma Oy <news@firma.fi> extra",
        "news@",
        "@firma.fi",
        "a b@firma.fi",
        "käyttäjä@firma.fi",
        "Firma <<news@firma.fi>>",
        "Firma, Oy <news@firma.fi>",  # two addresses?
    ],
)
def test_a_mail_from_that_is_no_address_is_refused(env: dict[str, str], value: str) -> None:
    with pytest.raises(SettingsError, match=r"^CONSENTRY_MAIL_FROM: "):
        load_settings({**env, "CONSENTRY_MAIL_FROM": value})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CONSENTRY_MAIL_FROM", "news@firma.fi\r\nBcc: all@example.com"),
        ("CONSENTRY_PUBLIC_URL", "https://crm.example.fi/\n"),
        ("CONSENTRY_CONTROLLER_NAME", "Firma\x00 Oy"),
        ("CONSENTRY_PRIVACY_CONTACT", "tietosuoja\x85@firma.fi"),  # C1 NEL
        ("CONSENTRY_CONTROLLER_ADDRESS", "Katu 1\u2028Helsinki"),
        ("CONSENTRY_SMTP_PASSWORD", "Qm7vT2xLp9\tRkW4zNc8"),
        ("CONSENTRY_SOMETHING_UNKNOWN", "a\x1bb"),
    ],
)
def test_a_setting_with_a_control_character_stops_start_up(
    env: dict[str, str], name: str, value: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({**env, name: value})
    message = str(caught.value)
    assert message.startswith(f"{name}: contains a control character")
    assert "\n" not in message and value not in message  # one line; never the value (a secret?)
    assert "Qm7vT2" not in message


def test_production_settings_are_checked_for_control_characters_too(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match=r"^CONSENTRY_SECRET_KEY: contains a control"):
        load_settings({**env, **PRODUCTION, "CONSENTRY_SECRET_KEY": SECRET + "\r"})
