"""The nightly backup (docs/backup.md): a thin job that starts ``python -m service.backup``.

The backup runs in a process of its own, not in the job: a dump of a big
database can take longer than the worker's job timeout
(CONSENTRY_SEND_JOB_TIMEOUT, five minutes by default), and this job must not
get a longer one — arq keeps every job's in-progress mark for the longest
timeout of any function, so a long one here would hold back the retry of a
killed worker's send batch as long (workers/retention.py). So the job
starts the process and returns at once; the process, in a session of its
own, finishes even if the worker is stopped meanwhile, and writes its one
line of outcome to the worker's log. A start while the previous process
still runs is skipped: here within one worker, and by a lock file in the
backup directory between workers.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

PROCESS = "backup_process"


async def scheduled_backup(ctx: dict[str, Any]) -> dict[str, int | str]:
    """Start tonight's backup (and the pruning after it); the process id."""
    running: asyncio.subprocess.Process | None = ctx.get(PROCESS)
    if running is not None and running.returncode is None:
        return {"skipped": "the previous backup is still running"}
    # The worker's own environment: the process reads the same settings.
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service.backup",
        stdin=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    ctx[PROCESS] = process
    return {"started": process.pid}
