"""arq worker settings: ``arq workers.settings.WorkerSettings`` or ``consentry worker``.

Shared clients (database engine, SMTP pool) are built once in ``on_startup``
and kept in ``ctx``; jobs are thin wrappers over ``service`` functions.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from arq import cron, func
from arq.connections import RedisSettings

from service.campaigns.sending import Sender
from service.clock import LOCAL_ZONE
from service.crypto import DataCipher
from service.db import create_engine, create_sessionmaker
from service.delivery.sms import SmsMessenger
from service.delivery.smtp import SmtpConfig, SmtpPool
from service.delivery.throttle import DomainThrottle
from service.observability.counters import ENGAGEMENT_STORED, counted
from service.observability.logs import configure_logging
from service.queue import QUEUE_NAME, WorkerLease
from service.settings import Settings, backup_time, get_settings
from service.tokens import TokenSigner
from workers import backup, campaigns, forms, heartbeat, portal, retention, tracking

# Used only when the worker is started with plain `arq` and no URL is set; the
# `consentry` commands always pass the URL they resolved.
FALLBACK_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_SEND_JOB_TIMEOUT = 300
# Batch jobs are idempotent: a worker killed mid-batch leaves the job to be run
# again, as often as it takes (arq counts a kill as a try). Failures they catch
# are bounded by workers.campaigns.MAX_JOB_FAILURES instead.
BATCH_MAX_TRIES = 1000


def redis_settings(url: str | None = None) -> RedisSettings:
    return RedisSettings.from_dsn(
        url or os.environ.get("CONSENTRY_REDIS_URL") or FALLBACK_REDIS_URL
    )


# The events each drain stores are added up for /metrics (service.observability).
drain_engagement = counted(tracking.drain_engagement, ENGAGEMENT_STORED)


def functions(send_job_timeout: int = DEFAULT_SEND_JOB_TIMEOUT) -> list[Any]:
    """The jobs. Campaign jobs keep no result, so the same deterministic id
    can be queued again once the previous run has finished."""
    return [
        heartbeat.heartbeat,
        func(campaigns.start_campaign, keep_result=0, max_tries=BATCH_MAX_TRIES),
        func(
            campaigns.send_batch,
            keep_result=0,
            max_tries=BATCH_MAX_TRIES,
            timeout=send_job_timeout,
        ),
        func(campaigns.build_call_list, keep_result=0, max_tries=5),
        func(drain_engagement, keep_result=0),
        func(retention.retention_continue, name=retention.CONTINUE, keep_result=0),
        func(portal.send_portal_link, keep_result=0, max_tries=portal.MAX_TRIES),
        # Kept no result: a second submission queues the same id again.
        func(forms.send_signup_confirmation, keep_result=0, max_tries=forms.MAX_TRIES),
    ]


def backup_cron() -> list[Any]:
    """The nightly backup at CONSENTRY_BACKUP_TIME (Helsinki), unless it is ``off``.

    Read from the environment when this module is imported, as the Redis URL
    is: arq takes its cron table from the class. The result is kept a day so
    that a second worker cannot queue the same night's run again. The job
    keeps the ordinary timeout: it only starts the backup (workers/backup.py)."""
    at = backup_time(dict(os.environ))
    if at is None:
        return []
    hour, minute = at
    return [
        cron(
            backup.scheduled_backup,
            hour={hour},
            minute={minute},
            second={0},
            unique=True,
            keep_result=86_400,
        )
    ]


def sender_for(settings: Settings, ctx: dict[str, Any]) -> Sender:
    smtp = None
    if settings.smtp_host is not None:
        smtp = SmtpPool(
            SmtpConfig.from_settings(settings),
            size=settings.send_connections,
            rate_per_second=settings.send_rate or None,
        )
    return Sender(
        settings=settings,
        sessionmaker=ctx["sessionmaker"],
        redis=ctx["redis"],
        smtp=smtp,
        signer=TokenSigner(settings.secret_key, settings.previous_secret_keys),
        cipher=DataCipher(settings.data_key),
        throttle=DomainThrottle.from_settings(settings),
        sms=SmsMessenger.from_settings(settings),
    )


async def on_startup(ctx: dict[str, Any]) -> None:
    settings = get_settings()
    # Started as plain `arq workers.settings.WorkerSettings`, arq set up its
    # own logging: ours (JSON or text, no personal data) takes over.
    configure_logging(settings.log_format, hooks=True)
    ctx["settings"] = settings
    ctx["engine"] = create_engine(settings.database_url)
    ctx["sessionmaker"] = create_sessionmaker(ctx["engine"])
    ctx["sender"] = sender_for(settings, ctx)
    ctx["lease"] = WorkerLease(ctx["redis"])
    await ctx["lease"].start()
    # Last: a heartbeat says the worker is ready to work (workers/heartbeat.py).
    await heartbeat.start(ctx)


async def on_shutdown(ctx: dict[str, Any]) -> None:
    # Popped: `consentry worker` calls this again when arq failed before it.
    lease: WorkerLease | None = ctx.pop("lease", None)
    if lease is not None:
        await lease.stop()
    await heartbeat.stop(ctx)
    sender: Sender | None = ctx.get("sender")
    if sender is not None and sender.smtp is not None:
        await sender.smtp.close()
    if sender is not None and sender.sms is not None:
        await sender.sms.close()
    if "engine" in ctx:
        await ctx["engine"].dispose()


class WorkerSettings:
    functions: ClassVar[list[Any]] = functions()
    cron_jobs: ClassVar[list[Any]] = [
        cron(campaigns.sweep_campaigns, second={15, 45}, run_at_startup=True, unique=True),
        # Opens and clicks wait in a Redis stream until this stores them; a
        # run that finds the stream empty costs a few round trips.
        cron(drain_engagement, second=set(range(0, 60, 5)), unique=True, keep_result=0),
        # Every retention rule, once a night at 02:30 in Helsinki (see
        # `timezone`): a time that exists, once, on every day, as the clocks
        # change at 03:00 and 04:00. It also deletes old engagement events and
        # expired call-list entries, so that each deletion is recorded as a
        # RetentionAction. At startup too: a night missed while the worker
        # was down is made up at once (the run is idempotent). The result is
        # kept a day so that a second worker cannot queue the same night again.
        cron(
            retention.daily_retention,
            hour={2},
            minute={30},
            second={0},
            run_at_startup=True,
            unique=True,
            keep_result=86_400,
        ),
        *backup_cron(),
    ]
    on_startup = on_startup
    on_shutdown = on_shutdown
    # Cron times are read in this zone (arq's default is the host's): the
    # register keeps Helsinki's calendar (service.clock).
    timezone = LOCAL_ZONE
    queue_name = QUEUE_NAME
    redis_settings = redis_settings()
    max_jobs = 4
    # How often an idle worker asks Redis for work: a campaign's first batch
    # waits for it (arq's default is 0.5 s), and ten cheap polls a second are nothing.
    poll_delay = 0.1
    job_timeout = DEFAULT_SEND_JOB_TIMEOUT
    keep_result = 3600
    health_check_interval = 30
