"""The SMS segment counter: GSM-7 (extension table counted double) against
UCS-2, 160/153 and 70/67 per segment, two-unit characters never split."""

from __future__ import annotations

import pytest

from service.delivery.sms_segments import Encoding, count


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", Encoding.GSM7, 0, 1),
        ("a" * 160, Encoding.GSM7, 160, 1),
        ("a" * 161, Encoding.GSM7, 161, 2),
        ("a" * 306, Encoding.GSM7, 306, 2),
        ("a" * 307, Encoding.GSM7, 307, 3),
        # Finnish and Swedish letters are in the default alphabet.
        ("Hyvää päivää, Åsa! Ö ja ü é", Encoding.GSM7, 27, 1),
        # The extension table costs two septets each.
        ("€" * 80, Encoding.GSM7, 160, 1),
        ("€" * 81, Encoding.GSM7, 162, 2),
        ("{}[]~|^\\", Encoding.GSM7, 16, 1),
        # One character outside GSM-7 makes the whole text UCS-2.
        ("a" * 70, Encoding.GSM7, 70, 1),
        ("a" * 69 + "ą", Encoding.UCS2, 70, 1),
        ("a" * 70 + "ą", Encoding.UCS2, 71, 2),
        ("a" * 133 + "”", Encoding.UCS2, 134, 2),
        ("a" * 134 + "\u2013", Encoding.UCS2, 135, 3),
        # An emoji is a surrogate pair: two UTF-16 units.
        ("😀" * 35, Encoding.UCS2, 70, 1),
        ("😀" * 36, Encoding.UCS2, 72, 2),
    ],
)
def test_counts_units_and_segments(
    text: str, encoding: Encoding, units: int, segments: int
) -> None:
    result = count(text)
    assert (result.encoding, result.units, result.segments) == (encoding, units, segments)
    assert result.characters == len(text)


def test_an_escape_sequence_is_never_split_across_segments() -> None:
    # 152 plain septets and a euro sign: 154 septets, but the euro's two
    # cannot share the first segment's last place, so the split is 152 + 2.
    assert count("a" * 152 + "€" + "a" * 152).segments == 3
    assert count("a" * 153 + "a" * 153).segments == 2


def test_a_surrogate_pair_is_never_split_across_segments() -> None:
    # 66 units and an emoji: 68 units of UCS-2 do not fit one message (70)
    # once split, and the pair moves whole into the second segment.
    text = "ą" * 66 + "😀" + "ą" * 66
    assert count(text).units == 134
    assert count(text).segments == 3


def test_line_breaks_are_gsm7() -> None:
    assert count("Hei\nLopeta: https://x.fi/u/a_b-c tai vastaa STOP").encoding is Encoding.GSM7
