"""What a JSON body may be: nested at most ``MAX_DEPTH`` levels, and valid.

The decoders recurse once per level of nesting, so ten thousand ``[`` in a
body used to end in a RecursionError (a 500) before any validation ran. The
depth is measured here with a byte scan before any decoder sees the body.
Every JSON body goes through this module: the ones Litestar decodes for a
handler's ``data`` (``service.app.GuardedRequest``) and the ones
a handler reads itself (``loads``: the page-view beacon, JSON cells of an
import).
"""

from __future__ import annotations

from array import array
from itertools import accumulate
from typing import Any

import msgspec

# No body this service takes nests deeper than a handful of levels.
MAX_DEPTH = 32
TOO_DEEP = f"the JSON body is nested deeper than {MAX_DEPTH} levels"
NOT_AN_OBJECT = "the body must be a JSON object"

# An opening bracket is one level down (+1), a closing one a level up (-1 as
# a signed byte); every other byte is dropped.
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")


class BadJson(ValueError):
    """The bytes are not a JSON document this service takes; the message says why."""


def nesting_depth(body: bytes) -> int:
    """How deeply the arrays and objects of a JSON document nest.

    Brackets inside strings do not count; after an unterminated string
    nothing does (the decoder will refuse the document anyway). Only C-speed
    byte operations: a 1 MB body takes a few milliseconds."""
    # Without its escaped backslashes and quotes, a string is the text between
    # two quotes: every other piece of the split is outside the strings.
    unescaped = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    outside_strings = b"".join(unescaped.split(b'"')[::2])
    brackets = outside_strings.translate(_STEPS, _NOT_BRACKETS)
    return max(accumulate(array("b", brackets)), default=0)


def check_depth(body: bytes) -> None:
    """Raise BadJson when the body nests deeper than MAX_DEPTH."""
    # Fewer brackets than the limit cannot nest deeper than it: most bodies stop here.
    if body.count(b"[") + body.count(b"{") > MAX_DEPTH and nesting_depth(body) > MAX_DEPTH:
        raise BadJson(TOO_DEEP)


def loads(body: bytes) -> Any:
    """Decode a JSON body a handler reads itself; BadJson says what is wrong."""
    check_depth(body)
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise BadJson(not_json(str(exc))) from None


def not_json(reason: str) -> str:
    # msgspec's "at `$[...]`" names no place a sender could find.
    reason = reason.removesuffix(" - at `$[...]`").strip() or "it cannot be decoded"
    return f"the body is not valid JSON: {reason[0].lower()}{reason[1:]}"
