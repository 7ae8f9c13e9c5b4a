"""The workers' sign of life, as everyone reads it: the key, the interval, and
when a heartbeat counts as stale.

Every worker writes the time to one Redis key every ``HEARTBEAT_SECONDS``
(workers/heartbeat.py), from a task of its own rather than a queued job, so a
queue full of send batches cannot hold it back. With several workers any
live one refreshes it: a fresh heartbeat means "at least one worker is alive".
``/health/ready``, ``consentry status`` and ``/metrics`` read it here.
"""

from __future__ import annotations

from datetime import UTC, datetime

from service.observability.schemas import WorkerState

HEARTBEAT_KEY = "consentry:worker:heartbeat"
HEARTBEAT_SECONDS = 10.0
# Two missed beats, not one: a beat may land a little late on a busy host.
STALE_AFTER_SECONDS = 2 * HEARTBEAT_SECONDS
# The key outlives staleness so that status can still say how long ago the
# last beat was; after this long without one it says there is none.
HEARTBEAT_TTL_SECONDS = 120


def worker_state(stamp: str | None, now: datetime) -> WorkerState:
    """What a stored heartbeat (an ISO time, or None) says at ``now``."""
    try:
        beat = datetime.fromisoformat(stamp) if stamp else None
    except ValueError:
        beat = None
    if beat is None:
        return WorkerState(alive=False, state="none")
    beat = beat if beat.tzinfo is not None else beat.replace(tzinfo=UTC)
    age = max((now - beat).total_seconds(), 0.0)
    alive = age <= STALE_AFTER_SECONDS
    return WorkerState(
        heartbeat_at=beat, age_seconds=age, alive=alive, state="alive" if alive else "stale"
    )


def problem(worker: WorkerState) -> str | None:
    """One line naming why the worker is not ready, or None when it is."""
    if worker.state == "stale" and worker.age_seconds is not None:
        return f"worker: no heartbeat for {worker.age_seconds:.0f} s"
    if worker.state == "none":
        return f"worker: no heartbeat in the last {HEARTBEAT_TTL_SECONDS} s"
    if worker.state == "unknown":
        return "worker: unknown (Redis did not answer)"
    return None
