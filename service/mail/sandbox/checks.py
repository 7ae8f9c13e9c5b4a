"""Checks of what builds text: format strings, ``%`` formatting and the string
methods that can make a much longer string than they are given. Each refuses,
before the text is built, what would not fit the budget.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from typing import Any

from jinja2.exceptions import SecurityError

from service.mail.sandbox.budget import current_budget
from service.mail.sandbox.printing import printable

_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0 +\-]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")


def check_format(template: str) -> None:
    """Refuse widths that would build text beyond the budget: "{:>999999999}"."""
    budget = current_budget()
    for _, field, spec, _ in string.Formatter().parse(template):
        if field is None or not spec:
            continue
        if "{" in spec:
            raise SecurityError("a width in a format string must be a number")
        for number in re.findall(r"\d+", spec):
            budget.fits(int(number))


def check_percent(template: str) -> None:
    budget = current_budget()
    for match in _PERCENT_SPEC.finditer(template):
        for number in match.groups():
            if number == "*":
                raise SecurityError("'*' widths are not available in email templates")
            if number is not None:
                budget.fits(int(number))


def replaced_size(text: str, old: Any, new: Any, count: Any = -1) -> int:
    old_text, new_text = str(old), str(new)
    found = text.count(old_text) if old_text else len(text) + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    return len(text) + found * len(new_text)


def joined(items: Iterable[Any], separator: str) -> list[Any]:
    budget = current_budget()
    listed = [printable(item) for item in items]
    size = sum(len(item) if isinstance(item, str) else 8 for item in listed)
    budget.fits(size + len(separator) * max(len(listed) - 1, 0))
    return listed


def string_method(owner: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Check a call of a string method that can make a much longer string;
    return the arguments to call it with (a joined iterable, listed)."""
    budget = current_budget()
    if name in ("center", "ljust", "rjust", "zfill") and args and isinstance(args[0], int):
        budget.fits(args[0])
    elif name == "expandtabs":
        tabsize = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(tabsize, int):
            budget.fits(len(owner) + owner.count("\t") * tabsize)
    elif name == "replace" and len(args) >= 2:
        budget.fits(replaced_size(owner, *args[:3]))
    elif name == "translate" and args and isinstance(args[0], Mapping):
        longest = max((len(v) for v in args[0].values() if isinstance(v, str)), default=1)
        budget.fits(len(owner) * max(longest, 1))
    elif name == "join" and args:
        return (joined(args[0], owner),), kwargs
    return args, kwargs
