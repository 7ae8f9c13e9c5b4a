"""VERP return paths (service.delivery.verp): built, recognised, parsed."""

from __future__ import annotations

import pytest

from service.delivery import verp

BOUNCES = "bounces@example.com"


def test_a_return_path_names_the_message_and_reads_back() -> None:
    token = verp.token(12, 345, "0f3a9b8c7d6e5f4a3b2c")
    assert token == "c12.r345.0f3a9b8c7d6e5f4a3b2c"
    address = verp.address(BOUNCES, token)
    assert address == "bounces+c12.r345.0f3a9b8c7d6e5f4a3b2c@example.com"
    # Some MTAs change the case; angle brackets come from RCPT TO.
    assert verp.token_of(f"<{address.upper()}>", BOUNCES) == token
    assert verp.parse(verp.token_of(address, BOUNCES)) == (12, 345, "0f3a9b8c7d6e5f4a3b2c")


@pytest.mark.parametrize(
    "recipient",
    [
        "bounces@example.com",
        "bounces+@example.com",
        "bounces+c1.r2@example.com",
        "bounces+c1.r2.short@example.com",
        "bounces+c1.r2.0f3a9b8c7d6e5f4a3b2c@example.net",
        "other+c1.r2.0f3a9b8c7d6e5f4a3b2c@example.com",
        "bounces+c1.r2.0f3a9b8c7d6e5f4a3b2c.extra@example.com",
        "bounces+c99999999999999999999.r2.0f3a9b8c7d6e5f4a3b2c@example.com",
    ],
)
def test_anything_else_has_no_token(recipient: str) -> None:
    assert verp.token_of(recipient, BOUNCES) is None


def test_which_addresses_are_the_bounce_address() -> None:
    assert verp.is_bounce_address("Bounces@Example.com", BOUNCES)
    assert verp.is_bounce_address("bounces+anything@example.com", BOUNCES)
    assert not verp.is_bounce_address("bouncesx@example.com", BOUNCES)
    assert not verp.is_bounce_address("bounces+x@example.com.evil.example", BOUNCES)
    assert verp.parse(None) is None and verp.parse("garbage") is None


def test_a_token_quoted_in_another_case_reads_the_same() -> None:
    """A token quoted in a report (Original-Mail-From) may have passed an MTA
    that changed its case; the tag is lower-case hex, so nothing is lost."""
    assert verp.parse(" C12.R345.0F3A9B8C7D6E5F4A3B2C ") == (12, 345, "0f3a9b8c7d6e5f4a3b2c")
