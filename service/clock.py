"""The one place that reads the clock, so tests can move time."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

# The register is a Finnish company's: calendar rules (retention days, due
# dates) turn over at midnight in Helsinki, not in UTC.
LOCAL_ZONE = ZoneInfo("Europe/Helsinki")


def now() -> datetime:
    return datetime.now(UTC)


def today() -> date:
    return now().astimezone(LOCAL_ZONE).date()
