"""When a worker's heartbeat is stale, with the clock held still."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.observability.heartbeat import (
    HEARTBEAT_SECONDS,
    STALE_AFTER_SECONDS,
    problem,
    worker_state,
)
from service.observability.schemas import WorkerState

NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


def beat(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).isoformat()


def test_stale_means_two_missed_intervals() -> None:
    assert STALE_AFTER_SECONDS == 2 * HEARTBEAT_SECONDS


@pytest.mark.parametrize(
    ("seconds_ago", "state"),
    [
        (0, "alive"),
        (HEARTBEAT_SECONDS, "alive"),
        (STALE_AFTER_SECONDS, "alive"),
        (STALE_AFTER_SECONDS + 0.5, "stale"),
        (25, "stale"),
        (3600, "stale"),
    ],
)
def test_state_by_age(seconds_ago: float, state: str) -> None:
    worker = worker_state(beat(seconds_ago), NOW)
    assert worker.state == state
    assert worker.alive is (state == "alive")
    assert worker.age_seconds == pytest.approx(seconds_ago)


def test_a_stale_worker_is_named_with_its_age() -> None:
    assert problem(worker_state(beat(25), NOW)) == "worker: no heartbeat for 25 s"
    assert problem(worker_state(beat(3), NOW)) is None


@pytest.mark.parametrize("stamp", [None, "", "not a time"])
def test_no_heartbeat_is_none_and_not_ready(stamp: str | None) -> None:
    worker = worker_state(stamp, NOW)
    assert (worker.state, worker.alive, worker.age_seconds) == ("none", False, None)
    assert problem(worker) == "worker: no heartbeat in the last 120 s"


def test_a_naive_stamp_is_utc_and_a_future_one_is_age_zero() -> None:
    naive = (NOW - timedelta(seconds=30)).replace(tzinfo=None).isoformat()
    assert worker_state(naive, NOW).age_seconds == pytest.approx(30)
    ahead = worker_state(beat(-5), NOW)  # another host's clock a little ahead
    assert ahead.age_seconds == 0 and ahead.state == "alive"


def test_unknown_when_redis_did_not_answer() -> None:
    assert problem(WorkerState()) == "worker: unknown (Redis did not answer)"
