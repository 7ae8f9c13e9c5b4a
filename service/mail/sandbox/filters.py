"""Jinja's filters, metered: each call ticks the budget, the filters that make
text print only printable values and are charged for what they make, and those
that could build far more than they are given are checked first.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.filters import make_attrgetter
from jinja2.utils import generate_lorem_ipsum
from markupsafe import Markup

from service.mail.sandbox.budget import current_budget
from service.mail.sandbox.checks import check_percent, joined, replaced_size
from service.mail.sandbox.printing import PLAIN, printable

# Filters that turn their arguments into text (str(), escape()).
_TEXT_FILTERS = frozenset(
    {
        "capitalize",
        "center",
        "e",
        "escape",
        "forceescape",
        "format",
        "indent",
        "lower",
        "pprint",
        "replace",
        "safe",
        "string",
        "striptags",
        "title",
        "trim",
        "truncate",
        "upper",
        "urlencode",
        "urlize",
        "wordcount",
        "wordwrap",
        "xmlattr",
    }
)


def _argument(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str) -> Any:
    return args[index] if len(args) > index else kwargs.get(name)


def _check_filter(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse filter calls that would build far more than they are given."""
    budget = current_budget()
    value = args[0] if args else None
    text = value if isinstance(value, str) else ""
    if name == "center":
        width = _argument(args, kwargs, 1, "width")
        if isinstance(width, int):
            budget.fits(width)
    elif name == "indent":
        width = _argument(args, kwargs, 1, "width")
        per_line = len(width) if isinstance(width, str) else width
        if isinstance(per_line, int):
            budget.fits(len(text) + (text.count("\n") + 1) * per_line)
    elif name == "replace" and len(args) >= 3:
        budget.fits(replaced_size(text, args[1], args[2], _argument(args, kwargs, 3, "count")))
    elif name == "format":
        check_percent(text)
    elif name == "wordwrap":
        wrap = _argument(args, kwargs, 3, "wrapstring")
        budget.fits(len(text) * (1 + (len(wrap) if isinstance(wrap, str) else 1)))
    elif name in ("batch", "slice"):
        count = _argument(args, kwargs, 1, "linecount" if name == "batch" else "slices")
        if isinstance(count, int):
            budget.fits(count)
    elif name == "sum":
        start = _argument(args, kwargs, 2, "start")
        if start is not None and not isinstance(start, int | float):
            raise SecurityError("the sum filter adds numbers only")
    elif name == "tojson":
        indent = _argument(args, kwargs, 1, "indent")
        if (
            isinstance(indent, str | int)
            and (len(indent) if isinstance(indent, str) else indent) > 16
        ):
            raise SecurityError("the tojson filter indents by at most 16")


_NEEDS_CHECK = frozenset(
    {"center", "indent", "replace", "format", "wordwrap", "batch", "slice", "sum", "tojson"}
)


def metered_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    # Filters given the context or environment first take it before the value.
    skip = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0
    makes_text = name in _TEXT_FILTERS
    checked = name in _NEEDS_CHECK

    @wraps(func)
    def metered(*args: Any, **kwargs: Any) -> Any:
        budget = current_budget()
        budget.tick()
        if makes_text:
            args = tuple(
                arg if index < skip or type(arg) in PLAIN else printable(arg)
                for index, arg in enumerate(args)
            )
            if kwargs:
                kwargs = {key: printable(value) for key, value in kwargs.items()}
        if name == "join" and len(args) > skip:
            rest, kwargs = _join_arguments(args[0].environment, args[skip:], kwargs)
            args = (*args[:skip], *rest)
        if checked:
            _check_filter(name, args[skip:], kwargs)
        result = func(*args, **kwargs)
        if type(result) is str or type(result) is Markup:
            budget.charge(len(result))
        return result

    return metered


def _join_arguments(
    environment: jinja2.Environment, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The join filter's arguments with its items fetched (`attribute`), made
    printable and measured: join turns each item into text itself."""
    separator = _argument(args, kwargs, 1, "d")
    separator = separator if isinstance(separator, str) else ""
    items = args[0]
    attribute = _argument(args, kwargs, 2, "attribute")
    if attribute is not None:
        items = map(make_attrgetter(environment, attribute), items)
    return (joined(items, separator), separator), {}


def lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    if n > 20 or max > 200:
        raise SecurityError("lipsum makes at most 20 paragraphs of at most 200 words")
    text: str = generate_lorem_ipsum(n=n, html=html, min=min, max=max)
    return text
