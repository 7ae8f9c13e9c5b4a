"""The deadlines of a data-subject request, as pure date arithmetic (GDPR 12(3)).

A request is answered "within one month of receipt", extendable "by two
further months". A month is a calendar month: the same day number in the
next month, or that month's last day when it has no such day (received
31 January → due 28 February, or 29 February in a leap year). This follows
Regulation 1182/71 art. 3(2)(c), which the EDPB applies to these periods.
The regulation's move of a deadline falling on a weekend or holiday to the
next working day is deliberately not applied: the earlier date is never late.
"""

from __future__ import annotations

import calendar
from datetime import date

# GDPR 12(3): one month to answer, at most two more for an extension.
ANSWER_MONTHS = 1
MAX_EXTENSION_MONTHS = 2
# "Due soon": an open request due within this many days (overdue ones too),
# as the register's view and the dashboard count it.
DUE_SOON_DAYS = 7


def add_months(day: date, months: int) -> date:
    """The same day number ``months`` calendar months later, clamped to the
    last day of the target month."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last_day = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last_day))


def due_date(received_on: date) -> date:
    """The original due date: received + one calendar month."""
    return add_months(received_on, ANSWER_MONTHS)


def extended_due_date(due_on: date, months: int) -> date:
    """The due date after an extension of ``months`` (1 or 2), counted from
    the original due date."""
    if not 1 <= months <= MAX_EXTENSION_MONTHS:
        raise ValueError(f"an extension is 1 to {MAX_EXTENSION_MONTHS} months")
    return add_months(due_on, months)


def effective_due_date(due_on: date, extended_due_on: date | None) -> date:
    return extended_due_on if extended_due_on is not None else due_on


def may_extend(due_on: date, today: date) -> bool:
    """An extension must be decided (and the person told) before the first
    month runs out: on the original due date at the latest."""
    return today <= due_on
