"""The retention periods as date arithmetic, checked day by day against
their plain definitions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from service import rules


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


@pytest.mark.parametrize(
    ("day", "years", "expected"),
    [
        (date(2024, 2, 29), 5, date(2029, 2, 28)),
        (date(2024, 2, 29), 4, date(2028, 2, 29)),
        (date(2024, 2, 29), -1, date(2023, 2, 28)),
        (date(2023, 12, 31), 2, date(2025, 12, 31)),
        (date(2024, 3, 1), 5, date(2029, 3, 1)),
    ],
)
def test_add_years(day: date, years: int, expected: date) -> None:
    assert rules.add_years(day, years) == expected


def test_contact_due_on_agrees_with_the_gate_cutoff_every_day() -> None:
    """Due on ``as_of`` exactly when the gate's cutoff calls it expired."""
    lasts = days(date(2019, 12, 1), date(2021, 3, 31))
    for as_of in days(date(2025, 1, 1), date(2026, 3, 31)):
        cutoff = rules.contact_retention_cutoff(as_of)
        for last in lasts:
            assert (rules.contact_due_on(last) <= as_of) is (last < cutoff), (as_of, last)


@pytest.mark.parametrize(
    ("last", "due_on"),
    [
        (date(2024, 2, 29), date(2029, 3, 1)),
        (date(2024, 2, 28), date(2029, 3, 1)),
        (date(2024, 3, 1), date(2029, 3, 2)),
        (date(2020, 12, 31), date(2026, 1, 1)),
    ],
)
def test_contact_due_on(last: date, due_on: date) -> None:
    assert rules.contact_due_on(last) == due_on


@pytest.mark.parametrize("years", [2, 5])
def test_latest_start_is_the_last_qualifying_day(years: int) -> None:
    for limit in days(date(2027, 1, 1), date(2029, 12, 31)):
        start = rules.latest_start(limit, years)
        assert rules.add_years(start, years) <= limit
        assert rules.add_years(start + timedelta(days=1), years) > limit


def test_transfer_and_notice_days() -> None:
    assert rules.profile_transfer_on(date(2024, 3, 10)) == date(2026, 3, 10)
    assert rules.profile_transfer_on(date(2024, 2, 29)) == date(2026, 2, 28)
    assert rules.transfer_notice_on(date(2024, 3, 10), 30) == date(2026, 2, 8)
    # A timely notice keeps the day; a late one moves it.
    assert rules.transfer_due_on(date(2024, 3, 10), date(2026, 2, 8), 30) == date(2026, 3, 10)
    assert rules.transfer_due_on(date(2024, 3, 10), date(2026, 2, 1), 30) == date(2026, 3, 10)
    assert rules.transfer_due_on(date(2024, 3, 10), date(2026, 2, 9), 30) == date(2026, 3, 11)


@pytest.mark.parametrize(
    ("completed_on", "due_on", "deadline"),
    [
        (date(2024, 3, 10), date(2027, 1, 1), date(2027, 6, 30)),
        (date(2023, 12, 31), date(2026, 1, 1), date(2026, 6, 30)),
        (date(2024, 1, 1), date(2027, 1, 1), date(2027, 6, 30)),
    ],
)
def test_no_account_days(completed_on: date, due_on: date, deadline: date) -> None:
    assert rules.no_account_due_on(completed_on) == due_on
    assert rules.no_account_deadline(completed_on) == deadline
    # The query's bound says the same, on the day before and the day.
    before = due_on - timedelta(days=1)
    assert not completed_on < rules.no_account_completed_before(before)
    assert completed_on < rules.no_account_completed_before(due_on)


def test_age_cutoff_and_due_day_count_helsinki_days() -> None:
    # 22:30 UTC on 31 Dec is 00:30 on 1 Jan in Helsinki.
    stamped = datetime(2024, 12, 31, 22, 30, tzinfo=UTC)
    assert rules.local_date(stamped) == date(2025, 1, 1)
    due_on = rules.age_due_on(stamped, 10)
    assert due_on == date(2025, 1, 12)
    assert stamped < rules.age_cutoff(due_on, 10)
    assert not stamped < rules.age_cutoff(due_on - timedelta(days=1), 10)
    assert rules.local_midnight(date(2026, 3, 29)).utcoffset() == timedelta(hours=2)
    assert rules.local_midnight(date(2026, 7, 1)).utcoffset() == timedelta(hours=3)
