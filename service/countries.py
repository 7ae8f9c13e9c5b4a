"""Where the GDPR applies without a transfer: the EU and the EEA (GDPR 44).

Whether a processor or the profile vendor is outside the EEA is derived from
its country here, never taken from whoever records it.
"""

from __future__ import annotations

import re

from service.labels import N_

# The 27 EU member states (ISO 3166-1 alpha-2; Greece is GR, not EL).
EU = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "HR",
        "HU",
        "IE",
        "IT",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
    ]
)
# The EEA adds Iceland, Liechtenstein and Norway.
EEA = EU | {"IS", "LI", "NO"}
_ALPHA_2 = re.compile(r"^[A-Z]{2}$")


def normalise(code: str) -> str:
    """An ISO 3166-1 alpha-2 code in capitals; ValueError when it is not two letters."""
    value = code.strip().upper()
    if not _ALPHA_2.match(value):
        raise ValueError(N_("must be a two-letter ISO 3166-1 country code, e.g. FI or US"))
    return value


def outside_eea(code: str) -> bool:
    return normalise(code) not in EEA
