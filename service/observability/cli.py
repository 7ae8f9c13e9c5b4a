"""``consentry status [--json]``: campaigns in progress, the queue, the worker,
the last retention run and the last backup, at a glance.

The database part is always shown; when Redis cannot be reached the queue
and worker lines say so and the command still exits 0. ``consentry run``
starts a Redis of its own on a free port: it notes that Redis's URL in the
var directory (:func:`embedded_redis_note`) so that ``status`` finds it.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Coroutine, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from service.clock import LOCAL_ZONE
from service.models.enums import CampaignStatus
from service.observability import service
from service.observability.heartbeat import HEARTBEAT_SECONDS
from service.observability.schemas import CampaignProgress, Status
from service.settings import Settings

T = TypeVar("T")
RunDb = Callable[[Settings, Callable[[Any], Coroutine[Any, Any, T]]], T]
EXIT_FAILED = 1
REDIS_NOTE = "embedded-redis.url"
REDIS_TIMEOUT = 3.0
BAR_WIDTH = 24


def add_commands(subparsers: Any, run_db: RunDb[Any]) -> None:
    """Register ``status`` on the ``consentry`` command's subparsers."""
    status = subparsers.add_parser(
        "status", help="campaigns in progress, queue depth, worker heartbeat, last retention run"
    )
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    status.set_defaults(handler=lambda settings, args: cmd_status(settings, args, run_db))


def _fail(message: str) -> NoReturn:
    print(f"consentry: {message}", file=sys.stderr)
    raise SystemExit(EXIT_FAILED)


@contextlib.contextmanager
def embedded_redis_note(var_dir: Path, url: str) -> Iterator[None]:
    """While ``consentry run`` runs, the URL of the Redis it started, for ``status``."""
    note = var_dir / REDIS_NOTE
    note.parent.mkdir(parents=True, exist_ok=True)
    note.write_text(url + "\n")
    try:
        yield
    finally:
        note.unlink(missing_ok=True)


def _where(url: str) -> str:
    """host:port of a Redis URL, without any password in it."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path
    return f"{parts.hostname}:{parts.port or 6379}"


def redis_url(settings: Settings) -> tuple[str | None, str | None]:
    """(the URL to read, None) or (None, why there is none)."""
    if settings.redis_url is not None:
        return settings.redis_url, None
    with contextlib.suppress(OSError):
        noted = (settings.var_dir / REDIS_NOTE).read_text().strip()
        if noted:
            return noted, None
    return None, (
        "no Redis configured (CONSENTRY_REDIS_URL is unset) and no `consentry run` "
        f"is running with the var directory {settings.var_dir}"
    )


async def connect(url: str) -> tuple[Redis | None, str | None]:
    client = Redis.from_url(url, socket_connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT)
    try:
        await client.ping()
    except (OSError, RedisError) as exc:
        await client.aclose()
        return None, f"Redis not reachable at {_where(url)} ({type(exc).__name__})"
    return client, None


def cmd_status(settings: Settings, args: argparse.Namespace, run_db: RunDb[Status]) -> None:
    url, why_not = redis_url(settings)

    async def work(session: Any) -> Status:
        redis, error = await connect(url) if url is not None else (None, why_not)
        try:
            return await service.status(session, settings=settings, redis=redis, redis_error=error)
        finally:
            if redis is not None:
                await redis.aclose()

    try:
        result = run_db(settings, work)
    except (TimeoutError, OSError, SQLAlchemyError) as exc:
        _fail(f"cannot read the database ({type(exc).__name__})")
    print(result.model_dump_json(indent=2) if args.json else render(result))


# -- the text --------------------------------------------------------------------


def _local(moment: datetime) -> str:
    return moment.astimezone(LOCAL_ZONE).strftime("%Y-%m-%d %H:%M")


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 172_800:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86_400:.0f} days ago"


def progress_bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    share = done / total if total else 0.0
    filled = min(width, int(share * width))
    return f"[{'#' * filled}{'.' * (width - filled)}] {share:4.0%}"


def campaign_line(campaign: CampaignProgress) -> str:
    head = f"  #{campaign.id:<5} {campaign.name[:24]:<24} {campaign.status.value:<9}"
    if campaign.total == 0:
        if campaign.status is CampaignStatus.SCHEDULED and campaign.send_at is not None:
            line = f"{head} starts {_local(campaign.send_at)}"
        else:
            line = f"{head} send list not built yet"
    else:
        line = (
            f"{head} {progress_bar(campaign.done, campaign.total)} "
            f"{campaign.done:,}/{campaign.total:,}: sent {campaign.sent:,}, "
            f"skipped {campaign.skipped:,}, failed {campaign.failed:,}"
        )
        if campaign.failures:
            reasons = ", ".join(f"{why} {n:,}" for why, n in sorted(campaign.failures.items()))
            line += f" ({reasons})"
    if campaign.status is CampaignStatus.PAUSED and campaign.pause_reason:
        line += f"\n         paused: {campaign.pause_reason}"
    return line


def _queue_line(status: Status) -> str:
    queue = status.queue
    if not queue.reachable:
        return f"Queue: unknown: {queue.error}"
    return (
        f"Queue: {queue.depth:,} job(s) ({queue.ready:,} due now, {queue.deferred:,} deferred); "
        f"{queue.engagement_waiting:,} engagement event(s) waiting to be stored"
    )


def _worker_line(status: Status) -> str:
    worker = status.worker
    if not status.queue.reachable:
        return "Worker: unknown (no Redis to read its heartbeat from)"
    if worker.age_seconds is None:
        return "Worker: NONE: no heartbeat in the last 2 minutes; is `consentry worker` running?"
    if worker.alive:
        return f"Worker: alive (last heartbeat {_ago(worker.age_seconds)})"
    return (
        f"Worker: STALE (last heartbeat {_ago(worker.age_seconds)}; workers beat every "
        f"{HEARTBEAT_SECONDS:.0f} s): not ready; is the worker stuck or stopped?"
    )


def _retention_line(status: Status) -> str:
    retention = status.retention
    parts = []
    if retention.last_run_at is not None:
        counts = ", ".join(
            f"{key} {value}" for key, value in (retention.last_run or {}).items() if key != "as_of"
        )
        parts.append(f"last run {_local(retention.last_run_at)} ({counts})")
    else:
        parts.append("no run in the last 24 hours recorded in Redis")
    if retention.last_action_at is not None:
        parts.append(
            f"last action {_local(retention.last_action_at)} ({retention.last_action_rule})"
        )
    else:
        parts.append("no action recorded yet")
    return "Retention: " + "; ".join(parts)


def _backup_line(status: Status) -> str:
    backup = status.backup
    if backup.last_at is None:
        return f"Backup: none in {backup.directory}"
    megabytes = (backup.size_bytes or 0) / 1_000_000
    age = (status.as_of - backup.last_at).total_seconds()
    return (
        f"Backup: last {_local(backup.last_at)}, {_ago(age)} "
        f"({backup.file}, {megabytes:,.1f} MB, in {backup.directory})"
    )


# What `status` calls each count of RegisterProblems that is a problem.
_REGISTER_PROBLEMS = {
    "control_characters": "contacts with control characters in a text field",
    "control_characters_in_tags": "contacts with control characters in a tag",
    "phone_not_international": "phone numbers not in international form (letters?)",
    "email_malformed": "malformed email addresses",
}


def _register_line(status: Status) -> str:
    register = status.register_problems
    found = [
        f"{label}: {getattr(register, name):,}"
        for name, label in _REGISTER_PROBLEMS.items()
        if getattr(register, name)
    ]
    if found:
        line = (
            "Register: rows that no longer validate (the sender fails each such "
            "recipient; rectify them): " + "; ".join(found)
        )
    else:
        line = "Register: every contact passes the input checks"
    if register.email_non_ascii_local_part:
        line += (
            f"; {register.email_non_ascii_local_part:,} address(es) with a non-ASCII "
            "local part, delivered only through a relay offering SMTPUTF8"
        )
    return line


def render(status: Status) -> str:
    lines = [f"Consentry status at {_local(status.as_of)} (Helsinki time)", ""]
    if status.campaigns:
        lines.append(f"Campaigns sending, paused or scheduled: {len(status.campaigns)}")
        lines += [campaign_line(campaign) for campaign in status.campaigns]
    else:
        lines.append("Campaigns: none sending, paused or scheduled")
    lines += [
        _queue_line(status),
        _worker_line(status),
        _retention_line(status),
        _backup_line(status),
        _register_line(status),
    ]
    return "\n".join(lines)
