"""The daily retention job: a thin wrapper over ``service.retention``.

arq's ``unique`` cron id keeps two workers from queueing the same night's
run twice; the Redis lock here keeps a run from starting while another is
still going (a restart's catch-up run at startup, say). Even so, every item
re-checks that it is still due in its own transaction, so an overlap could
not act twice.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from redis.exceptions import LockError

from service import clock, queue
from service.campaigns.sending import Sender
from service.retention.runner import Tools, run_retention

LOCK_KEY = "consentry:retention:lock"
# A run stops starting items after this share of the job timeout, and queues
# a continuation. The job keeps the worker's ordinary timeout: arq keeps every
# job's in-progress mark as long as the longest timeout of any function, so a
# long one here would delay the retry of a killed worker's send batch as long.
BUDGET_SHARE = 0.5
CONTINUE = "retention_continue"


async def daily_retention(ctx: dict[str, Any]) -> dict[str, int | str]:
    """Carry out today's retention plan; the report's counts (the details are logged)."""
    timeout = ctx["settings"].send_job_timeout
    lock = ctx["redis"].lock(LOCK_KEY, timeout=timeout + 60, blocking=False)
    if not await lock.acquire():
        return {"skipped": "another retention run is in progress"}
    try:
        sender: Sender = ctx["sender"]
        report = await run_retention(
            ctx["sessionmaker"],
            today=clock.today(),
            tools=Tools(
                settings=ctx["settings"],
                cipher=sender.cipher,
                signer=sender.signer,
                smtp=sender.smtp,
            ),
            budget_seconds=timeout * BUDGET_SHARE,
        )
    finally:
        with contextlib.suppress(LockError):
            await lock.release()
    if report.postponed:
        await queue.enqueue(
            ctx["redis"], CONTINUE, job_id=f"retention:continue:{report.as_of}:{time.time_ns()}"
        )
    counts: dict[str, int | str] = {
        "as_of": report.as_of.isoformat(),
        "done": report.done,
        "skipped": report.skipped,
        "no_longer_due": report.no_longer_due,
        "failed": report.failed,
    }
    if report.postponed:
        counts["postponed"] = report.postponed
    return counts


async def retention_continue(ctx: dict[str, Any]) -> dict[str, int | str]:
    """The rest of a run whose time budget ran out."""
    return await daily_retention(ctx)
