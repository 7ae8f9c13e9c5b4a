"""Every Robinson test runs on the frozen clock, from noon in Helsinki on
25 November 2026."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.support.clock import FrozenClock

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


@pytest.fixture
def clock_start() -> datetime:
    return NOW


@pytest.fixture(autouse=True)
def _still_clock(frozen_clock: FrozenClock) -> None:
    pass
