"""arq worker settings: ``arq workers.settings.WorkerSettings`` or ``consentry worker``.

Shared clients (the database engine) are built once in ``on_startup`` and kept
in ``ctx``; jobs are thin wrappers over ``service`` functions.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from arq import cron
from arq.connections import RedisSettings

from service.db import create_engine, create_sessionmaker
from service.settings import get_settings
from workers import heartbeat

QUEUE_NAME = "consentry:queue"
# Used only when the worker is started with plain `arq` and no URL is set; the
# `consentry` commands always pass the URL they resolved.
FALLBACK_REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_settings(url: str | None = None) -> RedisSettings:
    return RedisSettings.from_dsn(
        url or os.environ.get("CONSENTRY_REDIS_URL") or FALLBACK_REDIS_URL
    )


async def on_startup(ctx: dict[str, Any]) -> None:
    settings = get_settings()
    ctx["settings"] = settings
    ctx["engine"] = create_engine(settings.database_url)
    ctx["sessionmaker"] = create_sessionmaker(ctx["engine"])


async def on_shutdown(ctx: dict[str, Any]) -> None:
    if "engine" in ctx:
        await ctx["engine"].dispose()


class WorkerSettings:
    functions: ClassVar[list[Any]] = [heartbeat.heartbeat]
    cron_jobs: ClassVar[list[Any]] = [
        cron(heartbeat.heartbeat, second={0, 30}, run_at_startup=True, unique=True)
    ]
    on_startup = on_startup
    on_shutdown = on_shutdown
    queue_name = QUEUE_NAME
    redis_settings = redis_settings()
    max_jobs = 20
    job_timeout = 600
    keep_result = 3600
    health_check_interval = 30
