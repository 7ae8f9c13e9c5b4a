"""The Jinja sandbox for what staff write, with a CPU-time and a size budget.

Marketers' templates are test-rendered when a campaign is saved and rendered
again for every recipient, so a few bytes of template must not be able to
stall a process or fill its memory: ``{% for a in range(99999) %}{% for b in
range(99999) %}`` runs for minutes, and ``{% set ns.s = ns.s ~ ns.s %}`` in a
loop doubles a string each turn. Every render runs under a :class:`Budget`:
loops, calls and filters tick it, and each tick every so often reads the
thread's CPU clock; text that expressions, concatenation, filters and string
methods build is charged to it; the caller counts the output it streams. When
the budget runs out, :class:`LimitExceeded` names the limit and its setting.

The sandbox also never prints a memory address: a Python object without a
text of its own (``<function … at 0x7f…>``) is refused when printed as it is,
and anything else turned into text loses its ``at 0x…`` part.

The pieces: the budget and rendering under it (``budget``), what may be
printed (``printing``), the checks of what builds text (``checks``) and of
filters (``filters``), and the environment that puts them together
(``environment``).
"""

from __future__ import annotations

from service.mail.sandbox.budget import (
    DEFAULT_LIMITS,
    WORK_FACTOR,
    Budget,
    LimitExceeded,
    Limits,
    metered,
    render,
    size_text,
)
from service.mail.sandbox.environment import (
    HTML_SANDBOX,
    MAX_INT_BITS,
    MAX_REPEAT,
    TEXT_SANDBOX,
    Sandbox,
)
from service.mail.sandbox.printing import printable, scrub

__all__ = [
    "DEFAULT_LIMITS",
    "HTML_SANDBOX",
    "MAX_INT_BITS",
    "MAX_REPEAT",
    "TEXT_SANDBOX",
    "WORK_FACTOR",
    "Budget",
    "LimitExceeded",
    "Limits",
    "Sandbox",
    "metered",
    "printable",
    "render",
    "scrub",
    "size_text",
]
