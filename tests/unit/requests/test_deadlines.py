"""The deadlines of a data-subject request: calendar months, clamped to month ends."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from service.requests.deadlines import (
    add_months,
    due_date,
    effective_due_date,
    extended_due_date,
    may_extend,
)


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (date(2026, 3, 3), date(2026, 4, 3)),
        (date(2026, 1, 31), date(2026, 2, 28)),
        (date(2028, 1, 31), date(2028, 2, 29)),  # leap year
        (date(2028, 1, 29), date(2028, 2, 29)),
        (date(2026, 1, 29), date(2026, 2, 28)),
        (date(2026, 3, 31), date(2026, 4, 30)),
        (date(2026, 12, 15), date(2027, 1, 15)),  # December → January
        (date(2026, 12, 31), date(2027, 1, 31)),
        (date(2028, 2, 29), date(2028, 3, 29)),
        (date(2026, 2, 28), date(2026, 3, 28)),  # not "the last day of the next month"
    ],
)
def test_due_date_is_one_calendar_month_later(received: date, due: date) -> None:
    assert due_date(received) == due


@pytest.mark.parametrize(
    ("due", "months", "extended"),
    [
        (date(2026, 2, 28), 2, date(2026, 4, 28)),
        (date(2026, 2, 28), 1, date(2026, 3, 28)),
        (date(2026, 3, 31), 2, date(2026, 5, 31)),
        (date(2026, 3, 31), 1, date(2026, 4, 30)),
        (date(2026, 12, 31), 2, date(2027, 2, 28)),
        (date(2027, 12, 31), 2, date(2028, 2, 29)),
        (date(2026, 11, 30), 2, date(2027, 1, 30)),
    ],
)
def test_extension_counts_from_the_original_due_date(
    due: date, months: int, extended: date
) -> None:
    assert extended_due_date(due, months) == extended


@pytest.mark.parametrize("months", [0, 3, -1])
def test_an_extension_is_one_or_two_months(months: int) -> None:
    with pytest.raises(ValueError, match="1 to 2 months"):
        extended_due_date(date(2026, 2, 28), months)


def test_add_months_never_overshoots_over_twelve_years() -> None:
    """For each day: the result lies in the right month, keeps the day when the
    month has it and is that month's last day otherwise."""
    day = date(2024, 1, 1)
    while day < date(2036, 1, 1):
        for months in (1, 2, 3, 12, -1):
            result = add_months(day, months)
            assert (result.year * 12 + result.month) - (day.year * 12 + day.month) == months
            if result.day != day.day:
                assert result.day < day.day
                assert (result + timedelta(days=1)).day == 1
        day += timedelta(days=1)


def test_extension_may_be_decided_up_to_and_on_the_due_date() -> None:
    due = date(2026, 2, 28)
    assert may_extend(due, date(2026, 2, 27))
    assert may_extend(due, due)
    assert not may_extend(due, date(2026, 3, 1))


def test_effective_due_date() -> None:
    assert effective_due_date(date(2026, 2, 28), None) == date(2026, 2, 28)
    assert effective_due_date(date(2026, 2, 28), date(2026, 4, 28)) == date(2026, 4, 28)
