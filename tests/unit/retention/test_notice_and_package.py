"""The transfer notice as rendered (every language, escaping, the vendor's
name or a generic phrase), the export package on disk, and the CLI's date."""

from __future__ import annotations

import email
import email.policy
import json
import os
import stat
from dataclasses import replace
from datetime import date
from email.message import EmailMessage
from pathlib import Path

import pyrage
import pytest

from service.delivery import transactional
from service.retention import packages
from service.retention.cli import parse_as_of
from service.retention.notice import TransferNotice, render_notice
from service.settings import Settings, load_settings
from service.settings_readers import SettingsError
from service.settings_vendor import handover_refused
from service.tokens import TokenSigner

SECRET = "unit-secret-" + "k" * 32


def _settings(tmp_path: Path, **extra: str) -> Settings:
    return load_settings(
        {
            "CONSENTRY_VAR_DIR": str(tmp_path),
            "CONSENTRY_SECRET_KEY": SECRET,
            "CONSENTRY_DATA_KEY": "unit-data-" + "d" * 32,
            "CONSENTRY_PUBLIC_URL": "https://example.fi/",
            "CONSENTRY_CONTROLLER_NAME": "Valmennus & Co Oy",
            **extra,
        }
    )


NOTICE = TransferNotice(
    profile_id=7,
    email="aino@example.fi",
    name="<Aino>",
    language="fi",
    completed_on=date(2024, 3, 10),
    transfer_on=date(2026, 3, 10),
)


@pytest.mark.parametrize("language", ["fi", "sv", "en", "xx"])
def test_every_language_renders_both_parts_with_the_forbid_link(
    tmp_path: Path, language: str
) -> None:
    settings = _settings(tmp_path)
    signer = TokenSigner(SECRET)
    rendered = render_notice(replace(NOTICE, language=language), settings=settings, signer=signer)
    link = f"https://example.fi/f/{signer.sign('profile_transfer', 7)}"
    assert link in rendered.text and f'href="{link}"' in rendered.html
    # The name is escaped in HTML and as written in text.
    assert "&lt;Aino&gt;" in rendered.html and "<Aino>" not in rendered.html
    assert "<Aino>" in rendered.text
    assert "Valmennus &amp; Co Oy" in rendered.html
    assert rendered.language == ("en" if language == "xx" else language)
    # No vendor configured: a generic phrase, never an empty name.
    generic = {
        "fi": "profiilipalvelun tarjoajalle",
        "sv": "till profiltjänstens leverantör",
        "en": "to the profile vendor's service",
    }[rendered.language]
    assert generic in rendered.text


def test_the_vendor_is_named_when_configured(tmp_path: Path) -> None:
    settings = _settings(tmp_path, CONSENTRY_PROFILE_VENDOR_NAME="DISC Palvelu Oy")
    rendered = render_notice(NOTICE, settings=settings, signer=TokenSigner(SECRET))
    assert "Siirrämme profiilisi palveluntarjoajalle DISC Palvelu Oy 10.3.2026." in rendered.text
    assert rendered.subject == "Käyttäytymisprofiilisi siirretään 10.3.2026"


def test_the_message_is_a_plain_notice(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    rendered = render_notice(NOTICE, settings=settings, signer=TokenSigner(SECRET))
    raw = transactional.build(
        rendered,
        mail_from="privacy@example.fi",
        to="aino@example.fi",
        message_id=transactional.message_id("transfer-notice", "example.fi"),
    )
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert message["To"] == "aino@example.fi"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].endswith("@example.fi>")
    assert message["List-Unsubscribe"] is None
    assert message.get_content_type() == "multipart/alternative"
    assert "aino" not in message["Message-ID"]


def test_a_header_with_a_line_break_is_refused(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    rendered = render_notice(NOTICE, settings=settings, signer=TokenSigner(SECRET))
    with pytest.raises(ValueError, match=r"linefeed|carriage"):
        transactional.build(
            rendered,
            mail_from="a@example.fi",
            to="x@example.fi\nBcc: y@example.fi",
            message_id=transactional.message_id("transfer-notice", "e"),
        )


def test_a_package_is_private_whole_encrypted_and_named_by_id_only(tmp_path: Path) -> None:
    identity = pyrage.x25519.Identity.generate()
    recipient = str(identity.to_public())
    directory = tmp_path / "out" / "transfers"
    staged = packages.stage_package(
        directory, profile_id=7, payload={"content": "äiti"}, recipient=recipient
    )
    # Not visible under its final name until published.
    assert not staged.final.exists() and staged.temporary.name.startswith(".")
    assert stat.S_IMODE(staged.temporary.stat().st_mode) == 0o600
    staged.publish()
    assert [path.name for path in directory.iterdir()] == ["profile-7.json.age"]
    assert stat.S_IMODE(staged.final.stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    raw = staged.final.read_bytes()
    assert "äiti".encode() not in raw and b"content" not in raw
    assert json.loads(pyrage.decrypt(raw, [identity])) == {
        "format": "consentry/profile-transfer/1",
        "content": "äiti",
    }
    with pytest.raises(pyrage.DecryptError):
        pyrage.decrypt(raw, [pyrage.x25519.Identity.generate()])
    # Written again (a commit failed in between): replaced whole.
    packages.stage_package(
        directory, profile_id=7, payload={"content": "b"}, recipient=recipient
    ).publish()
    assert json.loads(pyrage.decrypt(staged.final.read_bytes(), [identity]))["content"] == "b"
    assert len(os.listdir(directory)) == 1


def test_a_discarded_package_leaves_nothing(tmp_path: Path) -> None:
    recipient = str(pyrage.x25519.Identity.generate().to_public())
    staged = packages.stage_package(tmp_path, profile_id=8, payload={}, recipient=recipient)
    staged.discard()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "value",
    ["age1abc", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5", "AGE-SECRET-KEY-1QQQ", "x" * 70],
)
def test_a_vendor_key_that_is_not_an_age_recipient_stops_the_start(
    tmp_path: Path, value: str
) -> None:
    with pytest.raises(SettingsError, match="PROFILE_VENDOR_AGE_RECIPIENT"):
        _settings(tmp_path, CONSENTRY_PROFILE_VENDOR_AGE_RECIPIENT=value)


def test_the_vendor_settings_are_read_and_checked(tmp_path: Path) -> None:
    recipient = str(pyrage.x25519.Identity.generate().to_public())
    settings = _settings(
        tmp_path,
        CONSENTRY_PROFILE_VENDOR_AGE_RECIPIENT=recipient.upper(),
        CONSENTRY_PROFILE_VENDOR_COUNTRY="us",
    )
    vendor = settings.profile_vendor
    assert (vendor.age_recipient, vendor.country, vendor.outside_eea) == (recipient, "US", True)
    # Outside the EU/EEA without a safeguard, and unnamed: no hand-over.
    assert "PROFILE_VENDOR_NAME" in (handover_refused(vendor, None) or "")
    assert "SAFEGUARD" in (handover_refused(vendor, "Vendor Inc") or "")
    assert handover_refused(replace(vendor, safeguard="SCC 2021/914"), "Vendor Inc") is None
    assert handover_refused(replace(vendor, country="NO"), "Vendor AS") is None
    assert "AGE_RECIPIENT" in (handover_refused(_settings(tmp_path).profile_vendor, "V") or "")
    with pytest.raises(SettingsError, match="PROFILE_VENDOR_COUNTRY"):
        _settings(tmp_path, CONSENTRY_PROFILE_VENDOR_COUNTRY="Finland")


@pytest.mark.parametrize("raw", ["2026-02-30", "2026-2-3", "20260203", "tomorrow", "2026-02-03x"])
def test_as_of_must_be_a_real_iso_date(raw: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_as_of(raw)


def test_as_of_parses() -> None:
    assert parse_as_of("2028-02-29") == date(2028, 2, 29)


@pytest.mark.parametrize("raw", ["0001-01-01", "9999-12-31"])
def test_as_of_must_be_within_the_planned_calendar(raw: str) -> None:
    with pytest.raises(ValueError, match="from 1970-01-01 to 2999-12-31"):
        parse_as_of(raw)
