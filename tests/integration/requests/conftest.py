"""The frozen clock for the requests register and disclosure tests."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.support.clock import FrozenClock


@pytest.fixture
def clock_start() -> datetime:
    return datetime(2026, 1, 31, 10, 0, tzinfo=UTC)  # noon in Helsinki


@pytest.fixture(autouse=True)
def _still_clock(frozen_clock: FrozenClock) -> None:
    """Every test here runs on the frozen clock; ``frozen_clock.set(day)`` moves
    it to noon (Helsinki) of that day."""
