"""Compact signed tokens (an SMS's opt-out link): short, bound to their
purpose, verified under the current and previous secrets, never taken for a
long token, and refused when anything in them is changed."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable

import pytest

from service.tokens import InvalidToken, TokenSigner, is_compact

SECRET = "unit-secret-" + "s" * 40
SIGNER = TokenSigner(SECRET)
PURPOSE = "unsubscribe/sms"
ALPHABET = re.compile(r"[A-Za-z0-9_-]+")


@pytest.mark.parametrize(
    "ids",
    [(0, 0), (1, 1), (127, 128), (42, 7), (9_999_999, 12_345), (10**9, 10**9), (2**63, 1), (5,)],
)
def test_round_trip(ids: tuple[int, ...]) -> None:
    token = SIGNER.sign_compact(PURPOSE, *ids)
    assert SIGNER.verify_compact(token, PURPOSE) == ids
    assert ALPHABET.fullmatch(token) and is_compact(token)


def test_short_for_realistic_ids_and_bounded_up_to_a_billion() -> None:
    # A contact id under 2**28 (268 million) and a campaign id under 2**14.
    assert len(SIGNER.sign_compact(PURPOSE, 2**28 - 1, 2**14 - 1)) == 22
    assert len(SIGNER.sign_compact(PURPOSE, 9_999_999, 12_345)) <= 24
    for contact_id in (1, 999, 10**6, 10**9):
        for campaign_id in (1, 10**4, 10**9):
            assert len(SIGNER.sign_compact(PURPOSE, contact_id, campaign_id)) <= 27
    long = SIGNER.sign("unsubscribe", 9_999_999, 12_345)
    assert len(long) > 2 * len(SIGNER.sign_compact(PURPOSE, 9_999_999, 12_345))


def test_carries_only_the_ids() -> None:
    token = SIGNER.sign_compact(PURPOSE, 300, 2)
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert raw[:3] == bytes([0xAC, 0x02, 0x02])  # 300 and 2 as varints
    assert len(raw) == 3 + 10  # and an 80-bit tag
    assert PURPOSE.encode() not in raw


def test_never_taken_for_a_long_token_nor_a_long_one_for_it() -> None:
    long = SIGNER.sign("unsubscribe", 42, 7)
    assert not is_compact(long)
    with pytest.raises(InvalidToken):
        SIGNER.verify_compact(long, PURPOSE)
    with pytest.raises(InvalidToken):
        SIGNER.verify(SIGNER.sign_compact(PURPOSE, 42, 7), "unsubscribe")


def _flip(token: str, index: int) -> str:
    """The token with one bit of its bytes changed, spelled canonically."""
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[index] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


def test_any_changed_bit_is_refused() -> None:
    token = SIGNER.sign_compact(PURPOSE, 9_999_999, 12_345)
    length = len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    for index in range(length):
        with pytest.raises(InvalidToken):
            SIGNER.verify_compact(_flip(token, index), PURPOSE)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # another last character
        lambda t: t[:-1] + chr(ord(t[-1]) ^ 1),  # spare bits of the last character
        lambda t: t[:10] + "!" + t[10:],  # a character base64 would skip
        lambda t: t + "A",
        lambda t: t[:-1],
        lambda t: t + "==",
        lambda t: "",
        lambda t: "A" * 14,  # a tag and nothing to sign
        lambda t: "ä" * 22,
        lambda t: t[2:],  # ids cut off
    ],
)
def test_damaged_tokens_are_refused(mangle: Callable[[str], str]) -> None:
    token = SIGNER.sign_compact(PURPOSE, 9_999_999, 12_345)
    with pytest.raises(InvalidToken):
        SIGNER.verify_compact(mangle(token), PURPOSE)


def test_a_spare_bit_spelling_is_refused_although_it_decodes_the_same() -> None:
    # 16 bytes take 22 characters: the last one has 4 bits to spare.
    token = SIGNER.sign_compact(PURPOSE, 9_999_999, 12_345)
    assert len(token) == 22
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    other = token[:-1] + alphabet[alphabet.index(token[-1]) ^ 0b0001]
    assert base64.urlsafe_b64decode(other + "==") == base64.urlsafe_b64decode(token + "==")
    with pytest.raises(InvalidToken):
        SIGNER.verify_compact(other, PURPOSE)


def test_bound_to_its_purpose() -> None:
    token = SIGNER.sign_compact(PURPOSE, 42, 7)
    for other in ("unsubscribe", "preferences", PURPOSE + "x", ""):
        with pytest.raises(InvalidToken):
            SIGNER.verify_compact(token, other)


def test_a_wrong_key_is_refused() -> None:
    forged = TokenSigner("another-secret-" + "x" * 40).sign_compact(PURPOSE, 42, 7)
    with pytest.raises(InvalidToken):
        SIGNER.verify_compact(forged, PURPOSE)


def test_previous_keys_verify_and_a_dropped_one_does_not() -> None:
    old = SIGNER.sign_compact(PURPOSE, 42, 7)
    rotated = TokenSigner("a-brand-new-secret-key-" + "n" * 32, previous_secrets=[SECRET])
    assert rotated.verify_compact(old, PURPOSE) == (42, 7)
    new = rotated.sign_compact(PURPOSE, 42, 7)
    assert new != old and rotated.verify_compact(new, PURPOSE) == (42, 7)
    dropped = TokenSigner("a-brand-new-secret-key-" + "n" * 32)
    with pytest.raises(InvalidToken):
        dropped.verify_compact(old, PURPOSE)
    with pytest.raises(InvalidToken):
        SIGNER.verify_compact(new, PURPOSE)  # the old secret alone knows nothing new


def test_refuses_what_it_cannot_hold() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        SIGNER.sign_compact(PURPOSE, -1, 7)
    with pytest.raises(ValueError, match="plain name"):
        SIGNER.sign_compact("bad\0purpose", 1)
