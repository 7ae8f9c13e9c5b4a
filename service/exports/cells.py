"""Spreadsheet-safe CSV cells, for every CSV a person downloads (exports, call lists).

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and,
in some, a tab or carriage return) as a formula, so a name such as
``=HYPERLINK(…)`` typed into a form would run on the staff member's machine.
Such a cell gets a leading apostrophe, which spreadsheets show as text
(OWASP, "CSV Injection").
"""

from __future__ import annotations

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_START) else value
