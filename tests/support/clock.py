"""The service's one clock (``service.clock``), held still and moved by the test.

The ``frozen_clock`` fixture (tests/conftest.py) installs one; a module that
wants another starting instant overrides the ``clock_start`` fixture.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from service import clock


class FrozenClock:
    """What ``clock.now()`` answers while installed; ``clock.today()`` follows
    it, since it reads ``now()``."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def read(self) -> datetime:
        return self.now

    def set(self, moment: datetime | date, *, at: time = time(12)) -> datetime:
        """Stop at ``moment``; a date means ``at`` (noon) of that day in Helsinki,
        the register's calendar."""
        if not isinstance(moment, datetime):
            moment = datetime.combine(moment, at, tzinfo=clock.LOCAL_ZONE).astimezone(UTC)
        self.now = moment
        return self.now

    def advance(self, delta: timedelta | None = None, **parts: float) -> datetime:
        """Move on by ``delta`` or by ``timedelta(**parts)`` (negative goes back)."""
        self.now += (delta or timedelta()) + timedelta(**parts)
        return self.now
