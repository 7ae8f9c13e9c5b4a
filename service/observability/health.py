"""Readiness: the database answers, is at the newest migration, Redis answers,
and a worker's heartbeat is fresh.

Cheap enough for a load balancer polling every few seconds: one connection
from the pool, ``SELECT 1``, one read of ``alembic_version``, and one Redis
round trip (PING and the heartbeat). The migration scripts' head is read from
disk once per process. A heartbeat older than two intervals makes the service
not ready: campaigns would queue and nothing would send them
(service/observability/heartbeat.py).
"""

from __future__ import annotations

import asyncio
from functools import cache

from alembic.script import ScriptDirectory
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from service import clock
from service.migrate import alembic_config
from service.observability import heartbeat
from service.observability.schemas import CheckState, Readiness, WorkerState

# Seconds each check may take before it counts as failed: well inside the
# usual probe timeouts (Kubernetes: 1 s by default, Docker: 30 s).
CHECK_TIMEOUT = 0.8


@cache
def script_heads() -> frozenset[str]:
    """The newest revision(s) the migration scripts of this release define."""
    return frozenset(ScriptDirectory.from_config(alembic_config("")).get_heads())


async def check_database(engine: AsyncEngine) -> tuple[CheckState, CheckState]:
    """(database, migrations): whether it answers, and whether it is current.

    The revision is read with plain SQL: alembic's MigrationContext would
    log two lines at INFO for every probe."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            try:
                rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
            except SQLAlchemyError:
                return "ok", "behind"  # no version table: never migrated
            current = frozenset(str(row[0]) for row in rows)
    except TimeoutError:
        return "timeout", "unknown"
    except (OSError, SQLAlchemyError):
        return "failed", "unknown"
    return "ok", "ok" if current == script_heads() else "behind"


_WORKER_CHECK: dict[str, CheckState] = {
    "alive": "ok",
    "stale": "stale",
    "none": "missing",
    "unknown": "unknown",
}


async def check_redis(redis: Redis | None) -> tuple[CheckState, WorkerState | None]:
    """(redis, the worker's heartbeat): whether Redis answers, and what it holds."""
    if redis is None:
        return "not_configured", None
    try:
        async with asyncio.timeout(CHECK_TIMEOUT), redis.pipeline(transaction=False) as pipe:
            pipe.ping()
            pipe.get(heartbeat.HEARTBEAT_KEY)
            _, stamp = await pipe.execute()
    except TimeoutError:
        return "timeout", WorkerState()
    except (OSError, RedisError):
        return "failed", WorkerState()
    if isinstance(stamp, bytes):
        stamp = stamp.decode(errors="replace")
    return "ok", heartbeat.worker_state(stamp, clock.now())


async def readiness(
    engine: AsyncEngine, redis: Redis | None, *, skip_worker: bool = False
) -> Readiness:
    """Every check; ``skip_worker`` leaves the heartbeat out (reported as
    ``skipped``), for probes of API replicas that must keep serving public
    links while no worker runs."""
    (database, migrations), (queue, worker) = await asyncio.gather(
        check_database(engine), check_redis(redis)
    )
    checks: dict[str, CheckState] = {
        "database": database,
        "migrations": migrations,
        "redis": queue,
        # Without a queue there is no worker to wait for.
        "worker": "not_configured" if worker is None else _WORKER_CHECK[worker.state],
    }
    if skip_worker:
        checks["worker"], worker = "skipped", None
    failed = [
        name for name, state in checks.items() if state not in ("ok", "not_configured", "skipped")
    ]
    line = heartbeat.problem(worker) if worker is not None else None
    problems = [line] if line else []
    return Readiness(
        status="not_ready" if failed else "ready", checks=checks, failed=failed, problems=problems
    )
