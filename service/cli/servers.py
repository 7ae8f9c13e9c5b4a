"""The long-running commands beside ``run``: ``consentry worker``, ``api`` and
``inbound``, each one kind of process, for running them apart (docs/scaling.md).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import time

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import SQLAlchemyError

from service import running
from service.cli.common import CommandError, interrupt
from service.cli.dkim import signing_line
from service.embedded import check_can_listen
from service.observability.logs import configure_logging
from service.settings import Settings

logger = logging.getLogger("consentry.cli")

# `consentry worker` waiting for a Redis that went away: 1, 2, 4, 5, 5… s.
REDIS_RETRY_FIRST_SECONDS = 1.0
REDIS_RETRY_MAX_SECONDS = 5.0


def cmd_worker(settings: Settings, _: argparse.Namespace) -> None:
    import uvloop
    from arq.worker import create_worker

    from workers.settings import WorkerSettings, functions, on_shutdown, redis_settings

    if settings.redis_url is None:
        raise CommandError(
            "CONSENTRY_REDIS_URL: required for `consentry worker` "
            "(`consentry run` starts a local Redis by itself)"
        )
    # arq's own command sets up its logging; run programmatically, we do it.
    configure_logging(settings.log_format, hooks=True)
    signing_line(settings)
    # A send worker is event-loop bound (four SMTP conversations and a Redis
    # journal write per message); uvloop's loop does that work with less CPU.
    uvloop.install()
    with running.registered(settings.var_dir, "worker"):
        pause = REDIS_RETRY_FIRST_SECONDS
        while True:
            started = time.monotonic()
            worker = create_worker(
                WorkerSettings,  # type: ignore[arg-type]
                redis_settings=redis_settings(settings.redis_url),
                functions=functions(settings.send_job_timeout),
                job_timeout=settings.send_job_timeout,
            )
            try:
                worker.run()
                return
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                # Redis went away (or is not up yet). Batches in flight have
                # stopped and recorded what the relay accepted; nothing is
                # sent until Redis answers again, and a dead worker's jobs
                # are reclaimed by lease (service.queue). arq gave up before
                # its on_shutdown: stop what on_startup started, or this
                # instance's lease would live on and hold its jobs for good.
                if "lease" in worker.ctx:
                    worker.loop.run_until_complete(on_shutdown(worker.ctx))
                if time.monotonic() - started > 60:
                    pause = REDIS_RETRY_FIRST_SECONDS
                logger.warning(
                    "consentry worker: Redis is unavailable (%s); trying again in %.0f s",
                    type(exc).__name__,
                    pause,
                )
                time.sleep(pause)
                pause = min(REDIS_RETRY_MAX_SECONDS, pause * 2)


def cmd_api(settings: Settings, args: argparse.Namespace) -> None:
    """The API alone, in N uvicorn worker processes: production-style, beside
    `consentry worker`s and one `consentry migrate` (docs/scaling.md)."""
    import uvicorn

    from service.migrate import is_current

    if args.workers < 1:
        raise CommandError("--workers: at least 1")
    if settings.redis_url is None:
        # Without a shared queue each process would have none: sends, imports
        # and public events would never reach a worker.
        raise CommandError(
            "CONSENTRY_REDIS_URL: required for `consentry api` "
            "(`consentry run` starts a local Redis by itself)"
        )
    try:
        migrated = asyncio.run(is_current(settings.database_url))
    except (OSError, SQLAlchemyError) as exc:
        raise CommandError(f"cannot read the database ({type(exc).__name__})") from None
    if not migrated:
        raise CommandError("the database is not at the newest revision; run `consentry migrate`")
    check_can_listen(args.host, args.port)
    configure_logging(settings.log_format, hooks=True)
    # An import string and a factory: each worker process builds its own app
    # (engine, Redis pool) from the same environment.
    with running.registered(settings.var_dir, "api", public_url=settings.public_url):
        uvicorn.run(
            "service.app:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            forwarded_allow_ips=args.forwarded_allow_ips,
            access_log=False,
            log_level="info",
            log_config=None,
        )


def cmd_inbound(settings: Settings, _: argparse.Namespace) -> None:
    from service.inbound.server import InboundServer
    from service.migrate import is_current

    # As for `run`: SIGTERM (systemd, docker stop) stops it as Ctrl-C does.
    signal.signal(signal.SIGTERM, interrupt)
    try:
        migrated = asyncio.run(is_current(settings.database_url))
    except (OSError, SQLAlchemyError) as exc:
        raise CommandError(f"cannot read the database ({type(exc).__name__})") from None
    if not migrated:
        raise CommandError("the database is not at the newest revision; run `consentry migrate`")
    configure_logging(settings.log_format, hooks=True)
    with running.registered(settings.var_dir, "inbound"), InboundServer(settings) as (host, port):
        print(
            f"consentry: receiving mail on {host}:{port} for {settings.unsubscribe_address} "
            f"(unsubscribe) and {bounce_addresses(settings)} (delivery reports); "
            "Ctrl-C stops",
            flush=True,
        )
        try:
            while True:
                signal.pause()
        except KeyboardInterrupt:
            pass
    print("consentry: stopped", flush=True)


def bounce_addresses(settings: Settings) -> str:
    return " and ".join(dict.fromkeys([settings.mail_from_address, settings.bounce_address]))
