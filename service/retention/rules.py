"""The privacy notice's retention periods as date arithmetic (notice §6)."""

from __future__ import annotations

from datetime import date, timedelta

# "The latest service contact or contact initiative + 5 years."
CONTACT_RETENTION_YEARS = 5


def add_years(day: date, years: int) -> date:
    """The same calendar day ``years`` later; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def contact_retention_cutoff(today: date) -> date:
    """The earliest last-service-contact date still within retention on ``today``.

    A contact is within retention while ``add_years(last, 5) >= today``. Because
    ``add_years`` folds 29 February onto the 28th, simply subtracting five years
    from today is off by one day around leap days; step forward until the rule holds.
    """
    cutoff = add_years(today, -CONTACT_RETENTION_YEARS)
    while add_years(cutoff, CONTACT_RETENTION_YEARS) < today:
        cutoff += timedelta(days=1)
    return cutoff
