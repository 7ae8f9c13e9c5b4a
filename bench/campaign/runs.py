"""End-to-end sending: real ``consentry worker`` processes against the sink,
each run a fresh campaign over the same contacts."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import datetime

from sqlalchemy import func, select

from bench.campaign.context import Bench
from bench.campaign.results import RunResult
from bench.cli import say
from bench.procs import Worker, each, usage
from bench.seed import SMALL_TAG
from service import clock, queue
from service.campaigns import queries
from service.db import SessionMaker
from service.models import Campaign, CampaignRecipient
from service.models.enums import CampaignStatus


async def _campaign_state(sessionmaker: SessionMaker, campaign_id: int) -> Campaign:
    async with sessionmaker() as session:
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None
        return campaign


async def _recipient_stats(
    sessionmaker: SessionMaker, campaign_id: int
) -> tuple[dict[str, int], datetime | None, datetime | None, int]:
    recipients = CampaignRecipient.__table__  # type: ignore[attr-defined]
    async with sessionmaker() as session:
        counts = await queries.counts(session, campaign_id)
        first, last = (
            await session.exec(  # type: ignore[call-overload]
                select(func.min(recipients.c.sent_at), func.max(recipients.c.sent_at)).where(
                    recipients.c.campaign_id == campaign_id, recipients.c.status == "sent"
                )
            )
        ).one()
        at_first = 0
        if first is not None:
            at_first = (
                await session.exec(  # type: ignore[call-overload]
                    select(func.count()).where(
                        recipients.c.campaign_id == campaign_id,
                        recipients.c.status == "sent",
                        recipients.c.sent_at == first,
                    )
                )
            ).scalar_one()
    return counts, first, last, int(at_first)


_START_JOB = re.compile(r"(\d+\.\d+)s ← campaign:\d+:start:start_campaign ●")
# arq's lines for a job starting and ending (done, failed, aborted), for the
# jobs that are not the campaign's: cron runs and the retention run's
# continuations (it works in time slices and queues the rest).
_OTHER_STARTED = re.compile(r"→ ((?:cron|retention):[^\s(]+)\(")
_OTHER_ENDED = re.compile(r"(?:←|!|⊘) ((?:cron|retention):\S+)")
START_CRONS_TIMEOUT = 900.0
QUIET_SECONDS = 3.0  # longer than arq's poll: a continuation queued last is seen


async def _start_crons_done(workers: list[Worker]) -> float:
    """Wait until the jobs the workers ran at start-up (the retention run over
    the whole register, with its continuations) have ended and none has
    started for a while, so that a send run does not share its workers and
    database with them; returns the seconds waited."""
    began = time.perf_counter()
    quiet_since = began
    while time.perf_counter() - began < START_CRONS_TIMEOUT:
        logs = "".join(w.log.read_text(errors="replace") for w in workers)
        running = set(_OTHER_STARTED.findall(logs)) - set(_OTHER_ENDED.findall(logs))
        now = time.perf_counter()
        if running:
            quiet_since = now
        elif now - quiet_since >= QUIET_SECONDS:
            break
        await asyncio.sleep(0.2)
    return max(0.0, time.perf_counter() - began - QUIET_SECONDS)


async def send_run(bench: Bench, label: str, count: int, tags: list[str]) -> RunResult:
    segment = f"tag '{tags[0]}'" if tags else "all contacts"
    result = RunResult(label=label, workers=count, segment=segment, status="?")
    campaign_id = await bench.new_campaign(f"Send run {label}", tags)
    workers = [
        Worker(bench.env, bench.tmp / f"worker-{label.replace(' ', '-')}-{i}.log")
        for i in range(count)
    ]
    bench.workers.extend(workers)
    redis = await queue.connect(bench.redis_url)
    sink = bench.sink
    assert sink is not None
    try:
        for worker in workers:
            worker.start()
        await asyncio.to_thread(each, workers, Worker.wait_ready)
        await asyncio.sleep(1.5)  # on_startup, and the start-up crons to be picked up
        result.crons_s = await _start_crons_done(workers)
        before = sink.accepted()
        cpu_before = [usage(w.pid).cpu_seconds for w in workers]
        enqueued = clock.now()
        started = time.perf_counter()
        await bench.request_send(campaign_id)
        await queue.enqueue(
            redis,
            queue.START_CAMPAIGN,
            campaign_id,
            job_id=queue.start_campaign_job_id(campaign_id),
        )
        deadline = started + bench.args.timeout
        # (when, CPU seconds per worker), to find the CPU used while sending.
        samples: list[tuple[datetime, list[float]]] = [(enqueued, cpu_before)]
        campaign = await _campaign_state(bench.sessionmaker, campaign_id)
        while campaign.status is CampaignStatus.SENDING:
            if time.perf_counter() > deadline:
                result.error = f"not done after {bench.args.timeout:.0f} s"
                break
            dead = [w for w in workers if not w.alive()]
            if dead:
                result.error = f"a worker exited:\n{dead[0].tail()}"
                break
            await asyncio.sleep(0.05)
            campaign = await _campaign_state(bench.sessionmaker, campaign_id)
            samples.append((clock.now(), [usage(w.pid).cpu_seconds for w in workers]))
        polled = time.perf_counter() - started
        finals = [usage(w.pid) for w in workers if w.alive()]
    finally:
        await asyncio.to_thread(each, workers, Worker.stop)
        for worker in workers:
            bench.workers.remove(worker)
        await redis.aclose()
    result.status = campaign.status.value
    result.peak_rss_kib = [u.peak_rss_kib for u in finals]
    result.cpu_share = [
        (u.cpu_seconds - b) / polled for u, b in zip(finals, cpu_before, strict=False)
    ]
    for worker in workers:
        found = _START_JOB.search(worker.log.read_text(errors="replace"))
        if found:
            result.start_job = float(found.group(1))
    result.batches = [w.log.read_text(errors="replace").count("send_batch ●") for w in workers]
    result.sink_accepted = await asyncio.to_thread(sink.wait_settled) - before
    counts, first, last, at_first = await _recipient_stats(bench.sessionmaker, campaign_id)
    result.sent, result.skipped = counts.get("sent", 0), counts.get("skipped", 0)
    result.failed, result.queued = counts.get("failed", 0), counts.get("queued", 0)
    result.recipients = sum(counts.values())
    if first is not None and last is not None and last > first:
        result.steady_rate = (result.sent - at_first) / (last - first).total_seconds()
        # CPU share per worker between the samples just outside (first, last].
        before_first = [s for s in samples if s[0] <= first] or samples[:1]
        after_last = [s for s in samples if s[0] >= last] or samples[-1:]
        (t0, cpu0), (t1, cpu1) = before_first[-1], after_last[0]
        if t1 > t0:
            result.steady_cpu = [
                (b - a) / (t1 - t0).total_seconds() for a, b in zip(cpu0, cpu1, strict=True)
            ]
    if campaign.finished_at is not None:
        result.wall = (campaign.finished_at - enqueued).total_seconds()
    else:
        result.wall = polled
    if campaign.list_built_at is not None:
        result.to_built = (campaign.list_built_at - enqueued).total_seconds()
    if first is not None:
        result.to_first = (first - enqueued).total_seconds()
    problems = [w.log.name for w in workers if "Traceback" in w.log.read_text(errors="replace")]
    if problems:
        result.error = (result.error + f" tracebacks in {', '.join(problems)}").strip()
    say(
        f"run {label}: {result.status}, {result.sent:,} sent, "
        f"{result.steady_rate:,.0f} msg/s steady, {result.wall_rate:,.0f} msg/s enqueue→done "
        f"({result.wall:.1f} s), peak RSS "
        f"{', '.join(f'{k / 1024:.0f}' for k in result.peak_rss_kib)} MiB"
        + (f"; {result.error}" if result.error else "")
    )
    return result


async def measure_sending(bench: Bench) -> None:
    from workers.retention import LOCK_KEY

    tags = bench.send_tags
    # A worker starts with the nightly retention run. On the seed it would
    # erase every contact beyond retention (5 %: 50,000 at 1M, many minutes)
    # while the runs send; its own lock holds it off, as when another worker
    # is running it.
    redis = await queue.connect(bench.redis_url)
    await redis.set(LOCK_KEY, "bench", ex=24 * 3600)
    try:
        if bench.results.small_contacts:
            small = await send_run(bench, "1 worker, small", 1, [SMALL_TAG])
            bench.results.runs.append(small)
        for count in bench.args.worker_counts:
            label = f"{count} worker{'s' if count > 1 else ''}"
            bench.results.runs.append(await send_run(bench, label, count, tags))
    finally:
        await redis.delete(LOCK_KEY)
        await redis.aclose()
