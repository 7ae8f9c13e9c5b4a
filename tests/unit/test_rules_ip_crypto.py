"""Retention date arithmetic, IP truncation and the identity-code cipher."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from service.crypto import DataCipher, DecryptionError
from service.ip import truncate_ip
from service.rules import add_years, contact_retention_cutoff


@pytest.mark.parametrize(
    ("day", "years", "expected"),
    [
        (date(2021, 11, 24), 5, date(2026, 11, 24)),
        (date(2020, 2, 29), 5, date(2025, 2, 28)),
        (date(2020, 2, 29), 4, date(2024, 2, 29)),
        (date(2024, 2, 29), -5, date(2019, 2, 28)),
        (date(2021, 12, 31), 5, date(2026, 12, 31)),
    ],
)
def test_add_years(day: date, years: int, expected: date) -> None:
    assert add_years(day, years) == expected


def test_cutoff_is_exactly_the_rule_on_every_day_of_eight_years() -> None:
    """For each day, the cutoff is the first date whose +5 years is not before it."""
    today = date(2023, 1, 1)
    while today < date(2031, 1, 1):
        cutoff = contact_retention_cutoff(today)
        assert add_years(cutoff, 5) >= today
        assert add_years(cutoff - timedelta(days=1), 5) < today
        today += timedelta(days=1)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("203.0.113.77", "203.0.113.0/24"),
        (" 10.1.2.3 ", "10.1.2.0/24"),
        ("2001:db8:1234:5678::1", "2001:db8:1234::/48"),
        ("::ffff:198.51.100.9", "198.51.100.0/24"),
    ],
)
def test_truncate_ip(address: str, expected: str) -> None:
    assert truncate_ip(address) == expected


def test_truncate_ip_prefixes_are_configurable_and_garbage_is_refused() -> None:
    assert truncate_ip("203.0.113.77", v4_prefix=16) == "203.0.0.0/16"
    assert truncate_ip("2001:db8:1234:5678::1", v6_prefix=32) == "2001:db8::/32"
    with pytest.raises(ValueError, match="does not appear to be"):
        truncate_ip("example.fi")


def test_cipher_round_trip_is_randomised_and_bound_to_key_and_context() -> None:
    cipher = DataCipher("k" * 40)
    first, second = (
        cipher.encrypt("131052-308T", context=b"a"),
        cipher.encrypt("131052-308T", context=b"a"),
    )
    assert first != second and "131052" not in first
    assert cipher.decrypt(first, context=b"a") == "131052-308T"
    with pytest.raises(DecryptionError):
        cipher.decrypt(first, context=b"b")
    with pytest.raises(DecryptionError):
        DataCipher("x" * 40).decrypt(first, context=b"a")
    with pytest.raises(DecryptionError, match="version"):
        cipher.decrypt("v0:" + first[3:], context=b"a")


def test_lookup_hash_is_keyed_deterministic_and_kind_separated() -> None:
    cipher = DataCipher("k" * 40)
    value = "maija@example.fi"
    assert cipher.lookup_hash("email", value) == cipher.lookup_hash("email", value)
    assert cipher.lookup_hash("email", value) != cipher.lookup_hash("phone", value)
    assert cipher.lookup_hash("email", value) != DataCipher("x" * 40).lookup_hash("email", value)
    assert len(cipher.lookup_hash("email", value)) == 64
