"""How many SMS segments a text takes, and in which encoding (3GPP TS 23.038).

A text made only of characters of the GSM 7-bit default alphabet travels in
GSM-7: 160 septets in one message, 153 per segment once it is split (the
other 7 carry the concatenation header). The characters of the alphabet's
extension table (``^{}\\[~]|€`` and form feed) are an escape and a character,
so they count twice, and a segment never ends between the two. Anything else
(an emoji, ``ą``, a Cyrillic letter) turns the whole text into UCS-2: 70 code
units in one message, 67 per segment; a character outside the Basic
Multilingual Plane is two units (a surrogate pair), never split either.

Finnish and Swedish fit GSM-7 (``äöåÄÖÅéü`` are in the default alphabet);
a typographic quote or dash (``\u201d``, ``\u2013``) does not, and halves a segment.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# The GSM 7-bit default alphabet, in table order (LF and CR included).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Its extension table: each is sent as ESC + the character, two septets.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


class Encoding(StrEnum):
    GSM7 = "gsm7"
    UCS2 = "ucs2"


@dataclass(frozen=True, slots=True)
class Segments:
    """What a text costs: its encoding, its length in that encoding's units
    (septets or UTF-16 code units), and the segments it is sent in."""

    encoding: Encoding
    units: int
    segments: int
    characters: int


def _units(text: str) -> tuple[Encoding, list[int]]:
    """The encoding, and each character's size in its units."""
    if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text):
        return Encoding.GSM7, [2 if c in GSM7_EXTENSION else 1 for c in text]
    return Encoding.UCS2, [2 if ord(c) > 0xFFFF else 1 for c in text]


def count(text: str) -> Segments:
    """The segments ``text`` is sent in; an empty text is one (empty) message."""
    encoding, sizes = _units(text)
    single, part = (
        (GSM7_SINGLE, GSM7_PART) if encoding is Encoding.GSM7 else (UCS2_SINGLE, UCS2_PART)
    )
    total = sum(sizes)
    if total <= single:
        return Segments(encoding, total, 1, len(text))
    segments, used = 1, 0
    for size in sizes:
        # A two-unit character (an escape sequence, a surrogate pair) goes
        # whole into the next segment rather than being cut in two.
        if used + size > part:
            segments, used = segments + 1, 0
        used += size
    return Segments(encoding, total, segments, len(text))
