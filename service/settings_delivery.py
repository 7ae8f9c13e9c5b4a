"""The delivery settings (docs/deliverability.md): DKIM signing, the SMS
hook's secret, the complaint rate that pauses a campaign. Values are checked
here, once, like every setting; the domain throttle's rules are read by
service.settings_readers.domain_rules."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from service import settings_readers as read
from service.settings_readers import PREFIX, SettingsError


@dataclass(frozen=True, slots=True)
class DkimSettings:
    domain: str
    selector: str | None = None
    key_file: Path | None = None
    ed25519_selector: str | None = None
    ed25519_key_file: Path | None = None


def _dkim_pair(environ: dict[str, str], prefix: str) -> tuple[str | None, Path | None]:
    selector = read.text(environ, f"{prefix}_SELECTOR")
    key_file = read.text(environ, f"{prefix}_KEY_FILE")
    if (selector is None) != (key_file is None):
        missing = "SELECTOR" if selector is None else "KEY_FILE"
        raise SettingsError(f"{PREFIX}{prefix}_{missing}: required with the other DKIM setting")
    if selector is not None and not read.is_dns_name(selector):
        raise SettingsError(
            f"{PREFIX}{prefix}_SELECTOR: must be a DNS name part (letters, digits, hyphens)"
        )
    return selector, None if key_file is None else Path(key_file)


def dkim_settings(environ: dict[str, str], from_domains: dict[str, str]) -> DkimSettings:
    """The DKIM settings; ``from_domains`` are the From domains each setting
    names, which the signing domain must align with."""
    selector, key_file = _dkim_pair(environ, "DKIM")
    ed_selector, ed_key_file = _dkim_pair(environ, "DKIM_ED25519")
    if ed_key_file is not None and key_file is None:
        raise SettingsError(
            f"{PREFIX}DKIM_ED25519_KEY_FILE: an Ed25519 signature goes beside an RSA one; "
            f"set {PREFIX}DKIM_SELECTOR and {PREFIX}DKIM_KEY_FILE too"
        )
    domain = (read.text(environ, "DKIM_DOMAIN") or from_domains["MAIL_FROM"]).lower().rstrip(".")
    if not read.is_dns_name(domain):
        raise SettingsError(f"{PREFIX}DKIM_DOMAIN: not a domain name")
    # DMARC passes only when the signing domain aligns with the From domain.
    for name, from_domain in from_domains.items():
        from_domain = from_domain.lower()
        if key_file is not None and not (
            from_domain == domain or from_domain.endswith("." + domain)
        ):
            raise SettingsError(
                f"{PREFIX}DKIM_DOMAIN: {domain} does not align with the domain of "
                f"{PREFIX}{name} ({from_domain}); DMARC would fail"
            )
    return DkimSettings(domain, selector, key_file, ed_selector, ed_key_file)


def sms_hook_secret(environ: dict[str, str]) -> str | None:
    secret = read.text(environ, "SMS_HOOK_SECRET")
    if secret is not None and len(secret) < 32:
        raise SettingsError(f"{PREFIX}SMS_HOOK_SECRET: must be at least 32 characters long")
    return secret


def complaint_pause_rate(environ: dict[str, str]) -> float:
    """A fraction above 0 and at most 1: "0.003", or as a percentage "0.3%"."""
    raw = read.text(environ, "COMPLAINT_PAUSE_RATE")
    if raw is None:
        return 0.003
    percent = raw.endswith("%")
    try:
        rate = float(raw.removesuffix("%").strip()) / (100 if percent else 1)
    except ValueError:
        rate = -1.0
    if not 0 < rate <= 1:  # NaN fails this too
        raise SettingsError(
            f"{PREFIX}COMPLAINT_PAUSE_RATE: must be a fraction above 0 and at most 1, "
            "e.g. 0.003 or 0.3%"
        )
    return rate
