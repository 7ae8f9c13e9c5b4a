"""Readiness: the database answers, is at the newest migration, and Redis answers.

Cheap enough for a load balancer polling every few seconds: one connection
from the pool, ``SELECT 1``, one read of ``alembic_version``, one PING. The
migration scripts' head is read from disk once per process. A worker that
is down does not make the API unready: the API still takes requests and
queues the work (the worker's heartbeat is in /metrics and ``consentry status``).
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

from service.migrate import alembic_config
from service.observability.schemas import CheckState, Readiness

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


async def check_redis(redis: Redis | None) -> CheckState:
    if redis is None:
        return "not_configured"
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            await redis.ping()
    except TimeoutError:
        return "timeout"
    except (OSError, RedisError):
        return "failed"
    return "ok"


async def readiness(engine: AsyncEngine, redis: Redis | None) -> Readiness:
    (database, migrations), queue = await asyncio.gather(check_database(engine), check_redis(redis))
    checks: dict[str, CheckState] = {
        "database": database,
        "migrations": migrations,
        "redis": queue,
    }
    failed = [name for name, state in checks.items() if state not in ("ok", "not_configured")]
    return Readiness(status="not_ready" if failed else "ready", checks=checks, failed=failed)
