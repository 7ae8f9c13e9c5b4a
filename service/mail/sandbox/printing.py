"""What a sandboxed template may print: plain values as they are, objects as
their text without a memory address; functions and iterators not at all.
"""

from __future__ import annotations

import re
from typing import Any

import jinja2
from jinja2.exceptions import TemplateRuntimeError
from jinja2.runtime import LoopContext
from jinja2.sandbox import SandboxedEscapeFormatter, SandboxedFormatter
from markupsafe import Markup

from service.mail.sandbox.budget import CURRENT, charge
from service.mail.views import CampaignView, ContactView

_ADDRESS = re.compile(r"\s+at\s+0x[0-9a-fA-F]+")
PLAIN = frozenset({str, Markup, int, float, bool})
IMMUTABLE = PLAIN | {ContactView, CampaignView, LoopContext, tuple}


def printable(value: Any) -> Any:
    """`value` made safe to turn into text: plain values and containers of them
    as they are, objects as their text without a memory address. Functions
    and iterators are refused: printing one is a mistake, and its text shows
    an address."""
    kind = type(value)
    if kind in PLAIN or value is None or isinstance(value, jinja2.Undefined):
        return value
    if kind is list or kind is tuple:
        return kind(printable(item) for item in value)
    if kind is dict:
        return {printable(key): printable(item) for key, item in value.items()}
    if isinstance(value, str | int | float):
        return value
    if isinstance(value, LoopContext):
        return str(value)  # "<LoopContext 1/3>"
    if callable(value):
        raise TemplateRuntimeError(
            f"a {_kind_of(value)} cannot be printed; call it with () or print a value"
        )
    if hasattr(value, "__next__"):
        raise TemplateRuntimeError(
            "a sequence produced item by item (by map, select or reverse, or a cycler) "
            "cannot be printed as it is; add |list or |join"
        )
    if isinstance(value, tuple | list):  # named tuples from groupby, and the like
        return tuple(printable(item) for item in value)
    return scrub(str(value))


def _kind_of(value: Any) -> str:
    if isinstance(value, type):
        return "class"
    if isinstance(value, jinja2.runtime.Macro):
        return "macro"
    return "function or method"


def scrub(text: str) -> str:
    """`text` without the memory addresses in default object representations."""
    if "0x" not in text:
        return text
    cleaned = _ADDRESS.sub("", text)
    # Removing an address from escaped text leaves it escaped.
    return Markup(cleaned) if isinstance(text, Markup) else cleaned  # noqa: S704


def finalize(value: Any) -> Any:
    kind = type(value)
    if kind is str or kind is Markup:
        budget = CURRENT.get()  # charge, inlined: this runs for every {{ … }}
        if budget is None:
            raise RuntimeError("a sandboxed template was rendered outside render()")
        budget.work += len(value)
        if budget.work > budget.work_limit:
            budget.work -= len(value)
            budget.fits(len(value))
        return value
    if kind is int or kind is float or kind is bool:
        return value
    if value is None:
        return ""  # an empty optional field (`{{ contact.employer }}`) prints nothing
    value = printable(value)
    if isinstance(value, list | tuple | dict):
        value = scrub(str(value))
    if isinstance(value, str):
        charge(len(value))
    return value


class _Printing:
    """A formatter that formats and converts (!s, !r) only printable values."""

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        return super().convert_field(printable(value), conversion)  # type: ignore[misc]

    def format_field(self, value: Any, format_spec: str) -> Any:
        return super().format_field(printable(value), format_spec)  # type: ignore[misc]


class PrintingFormatter(_Printing, SandboxedFormatter):
    pass


class PrintingEscapeFormatter(_Printing, SandboxedEscapeFormatter):
    pass
