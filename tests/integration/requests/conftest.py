"""A movable clock and helpers for the requests register and disclosure tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time

import pytest

from service import clock

# Noon in Helsinki on 31 January 2026.
NOW = datetime(2026, 1, 31, 10, 0, tzinfo=UTC)

MoveTo = Callable[[date | datetime], None]


@pytest.fixture(autouse=True)
def move_to(monkeypatch: pytest.MonkeyPatch) -> MoveTo:
    """Fix the clock; ``move_to(day)`` jumps to noon (Helsinki) of that day."""
    current = [NOW]
    monkeypatch.setattr(clock, "now", lambda: current[0])

    def move(moment: date | datetime) -> None:
        if not isinstance(moment, datetime):
            moment = datetime.combine(moment, time(12), tzinfo=clock.LOCAL_ZONE).astimezone(UTC)
        current[0] = moment

    return move
