"""The profile vendor's hand-over settings (the notice §6, GDPR 44-46).

A profile is handed to the vendor only as an ``age`` package encrypted to the
vendor's own X25519 public key, and only when the recipient is fully known:
its name, the country where it processes the data and, outside the EU/EEA,
the safeguard the transfer rests on (GDPR 46, e.g. standard contractual
clauses). ``handover_refused`` says what is missing; until nothing is, a due
transfer waits (the profile stays kept and the retention plan says why).
The key is checked here, once, like every setting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyrage

from service import countries
from service import settings_readers as read
from service.settings_readers import PREFIX, SettingsError

_COUNTRY = re.compile(r"[A-Z]{2}")


@dataclass(frozen=True, slots=True)
class VendorSettings:
    # The vendor's age X25519 public key (``age1…``): every package is
    # encrypted to it. None: no hand-over happens.
    age_recipient: str | None = None
    # ISO 3166-1 alpha-2 of where the vendor processes the data.
    country: str | None = None
    # The GDPR 46 safeguard of a transfer outside the EU/EEA.
    safeguard: str | None = None

    @property
    def outside_eea(self) -> bool:
        return self.country is not None and self.country not in countries.EEA


def vendor_settings(environ: dict[str, str]) -> VendorSettings:
    recipient = read.text(environ, "PROFILE_VENDOR_AGE_RECIPIENT")
    if recipient is not None:
        # Bech32 is one case throughout; age writes it in lower case.
        recipient = recipient.lower()
        try:
            pyrage.x25519.Recipient.from_str(recipient)
        except pyrage.RecipientError:
            recipient = None
        if recipient is None or not recipient.startswith("age1"):
            raise SettingsError(
                f"{PREFIX}PROFILE_VENDOR_AGE_RECIPIENT: not an age X25519 public key (age1…)"
            )
    country = read.text(environ, "PROFILE_VENDOR_COUNTRY")
    if country is not None:
        country = country.upper()
        if not _COUNTRY.fullmatch(country):
            raise SettingsError(
                f"{PREFIX}PROFILE_VENDOR_COUNTRY: an ISO 3166 two-letter country code, e.g. FI"
            )
    safeguard = read.text(environ, "PROFILE_VENDOR_SAFEGUARD")
    if safeguard is not None and len(safeguard) > 2000:
        raise SettingsError(f"{PREFIX}PROFILE_VENDOR_SAFEGUARD: at most 2000 characters")
    return VendorSettings(age_recipient=recipient, country=country, safeguard=safeguard)


def handover_refused(vendor: VendorSettings, vendor_name: str | None) -> str | None:
    """Why no profile may be handed to the vendor now, or None."""
    if vendor.age_recipient is None:
        return (
            "no vendor key is configured (CONSENTRY_PROFILE_VENDOR_AGE_RECIPIENT): nothing is "
            "handed over unencrypted, so the profile stays kept until one is"
        )
    if vendor_name is None:
        return "the vendor is not named (CONSENTRY_PROFILE_VENDOR_NAME): the disclosure needs it"
    if vendor.country is None:
        return (
            "the vendor's country is not configured (CONSENTRY_PROFILE_VENDOR_COUNTRY): the "
            "disclosure needs it"
        )
    if vendor.outside_eea and vendor.safeguard is None:
        return (
            f"the vendor processes the data outside the EU/EEA ({vendor.country}) and no "
            "safeguard is configured (CONSENTRY_PROFILE_VENDOR_SAFEGUARD, GDPR 46)"
        )
    return None
