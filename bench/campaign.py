"""The campaign benchmark: audience, send list and real sending, end to end.

    .venv/bin/python -m bench.campaign [--contacts N] [--database sqlite|postgresql]
                                       [--workers 1,2,4] [--out BENCHMARKS.md]

On a fresh database (an SQLite file in a temporary directory, or a throwaway
PostgreSQL from tests.support.postgres) migrated with the real migrations, it
writes N contacts with a realistic consent mix (bench/seed.py) and measures,
in one run:

1. the audience count of one campaign over all N contacts
   (``queries.audience`` through ``gate_for``), with its breakdown;
2. building the send list (``queries.build_send_list``) and its batches
   (``queries.pending_batches``), as ``sending.start`` does;
3. two references against the same sink: Postfix's ``smtp-source`` and a bare
   aiosmtplib loop sending pre-built bytes over 4 reused connections;
4. the exactly-once window the service controls: from ``SmtpPool.send``
   returning SENT to the journal HSET returning, in the delivery layer's own
   loop (``service.delivery.batch.send_all``), in-process;
5. end-to-end sending with 1, 2, 4 ... real ``consentry worker`` processes
   against Postfix's ``smtp-sink``, each run a fresh campaign over the same
   contacts; a run's recipients are the contacts tagged ``bench`` (a fixed
   subset, ``--send-contacts``) so that it stays short when N is large. One
   more 1-worker run over the ``bench-small`` tag compares peak memory;
6. a cProfile of one batch run in-process, to see what dominates.

It prints a Markdown section and, with ``--out``, puts it into that file
(replacing its own earlier section for the same database and N). Everything it
starts listens on 127.0.0.1 only and is stopped before it exits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import cProfile
import dataclasses
import email.utils
import inspect
import os
import pstats
import re
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosmtplib.protocol
from aiosmtplib import SMTP
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import col

from bench import report
from bench.explain import Plan, explain, settings_in_force
from bench.procs import REPO, SmtpSink, Worker, find_tool, usage
from bench.seed import BENCH_TAG, SMALL_TAG, SeedStats, seed
from service import clock, queue
from service.campaigns import outcomes, queries, sending
from service.campaigns import service as campaigns
from service.campaigns.schemas import CampaignCreate
from service.campaigns.service import gate_for, recipient_of
from service.crypto import DataCipher
from service.db import SessionMaker, create_engine, create_sessionmaker, run, session_scope
from service.delivery import batch
from service.delivery.email import EmailMessenger
from service.delivery.journal import Journal
from service.delivery.messenger import Delivery, Outcome, Outgoing
from service.delivery.smtp import SmtpConfig, SmtpPool
from service.embedded import HOST, EmbeddedRedis
from service.mail.message import build_message
from service.mail.render import CampaignRenderer, Links
from service.migrate import upgrade
from service.models import Campaign, CampaignRecipient, Contact
from service.models.enums import (
    CampaignChannel,
    CampaignStatus,
    Gender,
    Language,
    LegalBasis,
    Purpose,
    Source,
)
from service.settings import Settings, load_settings
from service.tokens import TokenSigner

SECRET_KEY = "bench-secret-key-" + "s" * 32
DATA_KEY = "bench-data-key-" + "d" * 32
MAIL_FROM = "news@example.fi"
PROFILE_REDIS_DB = 3  # in-process runs queue their batch jobs where no worker looks

SUBJECT = {
    "fi": "Kevään tarjoukset sinulle, {{ contact.name }}",
    "sv": "Vårens erbjudanden till dig, {{ contact.name }}",
    "en": "Spring offers for you, {{ contact.name }}",
}
_PARAGRAPHS = {
    "fi": (
        "Kevät on täällä, ja niin ovat myös uudet kurssimme. Olemme koonneet sinulle "
        "valikoiman koulutuksia, jotka sopivat sekä aloittelijoille että kokeneille.",
        "Ilmoittaudu viimeistään toukokuun loppuun mennessä, niin saat 15 prosentin "
        "alennuksen kaikista kevään kursseista. Tarjous koskee myös verkkokursseja.",
        "Kysyttävää? Vastaa tähän viestiin tai soita asiakaspalveluumme arkisin 9-16.",
    ),
    "sv": (
        "Våren är här, och det är våra nya kurser också. Vi har samlat ett urval "
        "utbildningar som passar både nybörjare och erfarna.",
        "Anmäl dig senast i slutet av maj så får du 15 procents rabatt på alla "
        "vårens kurser. Erbjudandet gäller också nätkurserna.",
        "Frågor? Svara på det här meddelandet eller ring vår kundtjänst vardagar 9-16.",
    ),
    "en": (
        "Spring is here, and so are our new courses. We have put together a selection "
        "of trainings for beginners and the experienced alike.",
        "Sign up by the end of May and get 15 percent off every spring course. "
        "The offer covers the online courses too.",
        "Questions? Reply to this message or call our customer service on weekdays 9-16.",
    ),
}
GREETING = {"fi": "Hei", "sv": "Hej", "en": "Hello"}


def _content(language: str) -> dict[str, str]:
    paragraphs = _PARAGRAPHS[language]
    greeting = f"{GREETING[language]} {{{{ contact.name }}}}!"
    return {
        "subject": SUBJECT[language],
        "body_html": f"<h1>{greeting}</h1>\n"
        + "\n".join(f"<p>{p}</p>" for p in paragraphs)
        + '\n<p><a href="https://example.fi/kevat">example.fi/kevat</a></p>',
        "body_text": f"{greeting}\n\n" + "\n\n".join(paragraphs) + "\n\nhttps://example.fi/kevat",
    }


# -- options --------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.campaign", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--contacts", type=int, default=100_000, help="N (default 100000)")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--workers",
        default="1,2,4",
        help="worker process counts, one send run each (default 1,2,4)",
    )
    parser.add_argument("--out", type=Path, default=None, help="Markdown file to update")
    parser.add_argument(
        "--send-contacts",
        type=int,
        default=20_000,
        help="contacts tagged 'bench', the segment of each send run (0: all N; default 20000)",
    )
    parser.add_argument(
        "--small-contacts",
        type=int,
        default=2_000,
        help="contacts also tagged 'bench-small' for the memory comparison run (0: no run)",
    )
    parser.add_argument(
        "--skip-send", action="store_true", help="audience and send list only (no SMTP)"
    )
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--repeat", type=int, default=3, help="audience timings per variant")
    parser.add_argument("--source-messages", type=int, default=100_000)
    parser.add_argument("--bare-messages", type=int, default=20_000)
    parser.add_argument("--window-sends", type=int, default=5_000)
    parser.add_argument("--no-profile", action="store_true", help="skip the cProfile batch")
    parser.add_argument(
        "--query-timeout",
        type=float,
        default=120.0,
        help="PostgreSQL statement_timeout for each measured query, in seconds (default 120)",
    )
    parser.add_argument(
        "--loop",
        choices=("uvloop", "asyncio"),
        default="uvloop",
        help="event loop of the in-process parts (default uvloop, as `consentry worker` uses)",
    )
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="longest wait for one send run (s)"
    )
    args = parser.parse_args(argv)
    try:
        args.worker_counts = [int(w) for w in str(args.workers).split(",") if w.strip()]
    except ValueError:
        parser.error("--workers: a comma-separated list of numbers, e.g. 1,2,4")
    if any(w < 1 or w > 16 for w in args.worker_counts):
        parser.error("--workers: each count from 1 to 16")
    if args.contacts < 1:
        parser.error("--contacts: at least 1")
    return args


def command_line(argv: Sequence[str]) -> str:
    python = Path(sys.executable)
    try:
        shown = str(python.relative_to(Path.cwd()))
    except ValueError:
        shown = str(python)
    return shlex.join([shown, "-m", "bench.campaign", *argv])


# -- results --------------------------------------------------------------------


@dataclass
class AudienceResult:
    label: str
    times: list[float]
    total: int
    eligible: int
    excluded: dict[str, int]
    timed_out: bool = False


@dataclass
class BuildResult:
    label: str
    rows: int
    insert_s: float
    commit_s: float
    batches: int
    batches_s: float
    timed_out: bool = False


@dataclass
class Reference:
    label: str
    messages: int
    seconds: float
    accepted: int  # by the sink's counter
    cpu: float | None = None  # CPU seconds of this process, when it is the client

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


@dataclass
class WindowResult:
    sends: int
    windows: list[float]
    seconds: float
    message_bytes: float
    bare_hset: list[float]
    cpu: float
    pieces: list[tuple[str, float]]  # (step, seconds per message), no profiler


@dataclass
class RunResult:
    label: str
    workers: int
    segment: str
    status: str
    recipients: int = 0
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    queued: int = 0
    steady_rate: float = 0.0  # first to last sent_at
    wall: float = 0.0  # start job enqueued to campaign done
    to_built: float = 0.0  # enqueue to list build claimed
    to_first: float = 0.0  # enqueue to first recorded sent_at
    sink_accepted: int = 0
    peak_rss_kib: list[int] = field(default_factory=list)
    cpu_share: list[float] = field(default_factory=list)  # CPU s / wall s, per worker
    steady_cpu: list[float] = field(default_factory=list)  # the same, while sending
    batches: list[int] = field(default_factory=list)  # batch jobs each worker finished
    start_job: float = 0.0  # the start job's own run time, from arq's log
    crons_s: float = 0.0  # waited for the start-up cron jobs before the run
    error: str = ""

    @property
    def wall_rate(self) -> float:
        return self.sent / self.wall if self.wall else 0.0


@dataclass
class ProfileResult:
    recipients: int
    wall: float
    unprofiled_recipients: int
    unprofiled_wall: float
    groups: list[tuple[str, float]]
    key: list[tuple[str, float, int | None]]
    top: list[tuple[str, float, float]]


@dataclass
class Results:
    command: str
    database: str
    contacts: int
    machine: dict[str, str]
    started: datetime
    seed: SeedStats | None = None
    audience: list[AudienceResult] = field(default_factory=list)
    builds: list[BuildResult] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    window: WindowResult | None = None
    runs: list[RunResult] = field(default_factory=list)
    profile: ProfileResult | None = None
    plans: list[Plan] = field(default_factory=list)
    plan_settings: str = ""
    send_contacts: int = 0
    small_contacts: int = 0
    skip_send: bool = False
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    load_after: str = ""
    worker: dict[str, Any] = field(default_factory=dict)  # the worker settings in force
    loop: str = ""
    code: str = ""


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- the run --------------------------------------------------------------------


@dataclass
class Bench:
    args: argparse.Namespace
    tmp: Path
    database_url: str
    redis_url: str
    sink: SmtpSink | None
    env: dict[str, str]
    settings: Settings  # the workers' settings (frequency cap off)
    default_settings: Settings  # the same with the default frequency cap
    results: Results
    workers: list[Worker]
    sessionmaker: SessionMaker = field(init=False)

    @property
    def profile_redis_url(self) -> str:
        return self.redis_url.rsplit("/", 1)[0] + f"/{PROFILE_REDIS_DB}"

    async def new_campaign(self, name: str, tags: Sequence[str]) -> int:
        data = CampaignCreate.model_validate(
            {
                "name": name,
                "channel": "email",
                **_content("fi"),
                "translations": {lang: _content(lang) for lang in ("sv", "en")},
                "segment": {"tags": list(tags)},
            }
        )
        async with session_scope(self.sessionmaker) as session:
            campaign = await campaigns.create(session, data=data, user_id=None)
            assert campaign.id is not None
            return campaign.id

    async def request_send(self, campaign_id: int) -> None:
        async with session_scope(self.sessionmaker) as session:
            campaign = await campaigns.get(session, campaign_id)
            await campaigns.request_send(session, campaign=campaign)

    @property
    def send_tags(self) -> list[str]:
        return [BENCH_TAG] if self.results.send_contacts else []


async def measure(bench: Bench) -> None:
    args, results = bench.args, bench.results
    engine = create_engine(bench.database_url)
    bench.sessionmaker = create_sessionmaker(engine)
    try:
        say(f"seeding {args.contacts:,} contacts ({bench.results.database})")

        def progress(done: int, elapsed: float) -> None:
            if done % 200_000 == 0 or done == args.contacts:
                say(f"  {done:,} contacts in {elapsed:.1f} s")

        results.seed = await seed(
            engine,
            args.contacts,
            seed=args.seed,
            data_key=DATA_KEY,
            send_contacts=args.send_contacts,
            small_contacts=args.small_contacts if args.send_contacts else 0,
            progress=progress,
        )
        results.send_contacts = results.seed.bench_tagged
        results.small_contacts = results.seed.small_tagged
        await measure_audience(bench)
        await measure_build(bench)
        await measure_plans(bench)
        if not args.skip_send:
            await measure_references(bench)
            await measure_window(bench)
            await measure_sending(bench)
            await measure_audience_after(bench)
            if not args.no_profile:
                await measure_profile(bench)
    finally:
        await engine.dispose()


async def _limit(bench: Bench, session: Any, *, setting: str | None = None) -> None:
    """PostgreSQL only: a statement timeout (and a diagnostic setting) for this
    transaction alone."""
    if bench.results.database != "postgresql":
        return
    await run(
        session, text(f"SET LOCAL statement_timeout = {int(bench.args.query_timeout * 1000)}")
    )
    if setting:
        await run(session, text(f"SET LOCAL {setting}"))


async def _count(session: Any, gate: Any, *, raw: bool) -> tuple[int, int, dict[Any, int]]:
    """`queries.audience`, or with `raw` its statement alone, without the plan
    setting `audience` makes around it (for the diagnostics)."""
    if not raw:
        return await queries.audience(session, gate)
    total, eligible, *per_reason = (await run(session, queries.audience_query(gate))).one()
    found = zip(gate.reasons, per_reason, strict=True)
    return int(total), int(eligible), {reason: int(n) for reason, n in found if n}


async def _time_audience(
    bench: Bench,
    label: str,
    settings: Settings,
    tags: list[str],
    *,
    sessionmaker: SessionMaker | None = None,
    setting: str | None = None,
    raw: bool = False,
) -> None:
    """`queries.audience` for a campaign over all contacts, `--repeat` times."""
    times: list[float] = []
    outcome: tuple[int, int, dict[Any, int]] = (0, 0, {})
    timed_out = False
    for _ in range(bench.args.repeat):
        async with (sessionmaker or bench.sessionmaker)() as session:
            await _limit(bench, session, setting=setting)
            gate = _audience_gate(settings, tags)
            started = time.perf_counter()
            try:
                outcome = await _count(session, gate, raw=raw)
            except DBAPIError as exc:
                if "statement timeout" not in str(exc) and "canceling statement" not in str(exc):
                    raise
                timed_out = True
            times.append(time.perf_counter() - started)
            if timed_out:
                break
    total, eligible, excluded = outcome
    bench.results.audience.append(
        AudienceResult(
            label,
            times,
            total,
            eligible,
            {r.value: n for r, n in excluded.items()},
            timed_out,
        )
    )
    shown = (
        f"cancelled after {times[-1]:.0f} s (statement_timeout)"
        if timed_out
        else f"{report.spread(times)}; {eligible:,} of {total:,} eligible"
    )
    say(f"audience, {label}: {shown}")


async def measure_audience(bench: Bench) -> None:
    await _time_audience(
        bench, "all contacts, default frequency cap (4 in 30 days)", bench.default_settings, []
    )
    await _time_audience(bench, "all contacts, frequency cap off", bench.settings, [])
    if bench.send_tags:
        await _time_audience(
            bench,
            f"segment tag '{BENCH_TAG}' (the send runs' list), cap off",
            bench.settings,
            [BENCH_TAG],
        )
    if bench.results.database == "postgresql":
        await _time_audience(
            bench,
            "diagnostic: all contacts, default cap, with `SET LOCAL jit = on` (the server's "
            "default; the service's connections turn it off)",
            bench.default_settings,
            [],
            setting="jit = on",
        )


async def measure_audience_after(bench: Bench) -> None:
    """The default frequency cap again, now that campaign_recipients has rows: on the
    benchmark's pooled connections (which ran this query while the table was empty)
    and, on PostgreSQL, on a fresh connection too."""
    async with bench.sessionmaker() as session:
        rows = (
            await session.exec(select(func.count()).select_from(CampaignRecipient))  # type: ignore[call-overload]
        ).scalar_one()
    after = f"after the send runs ({rows:,} rows in campaign_recipients)"
    await measure_plans(bench, after=after)
    if bench.results.database != "postgresql":
        await _time_audience(
            bench, f"all contacts, default frequency cap, {after}", bench.default_settings, []
        )
        return
    await _time_audience(
        bench,
        f"all contacts, default frequency cap, {after}, on the pooled connections that ran "
        "it before",
        bench.default_settings,
        [],
    )
    fresh = create_engine(bench.database_url)
    try:
        await _time_audience(
            bench,
            f"all contacts, default frequency cap, {after}, on a fresh connection",
            bench.default_settings,
            [],
            sessionmaker=create_sessionmaker(fresh),
        )
    finally:
        await fresh.dispose()
    await _time_audience(
        bench,
        f"diagnostic: all contacts, default frequency cap, {after}, on the pooled "
        "connections, forced to a generic plan (`SET LOCAL plan_cache_mode = "
        "force_generic_plan`, what `queries.audience` keeps PostgreSQL from choosing)",
        bench.default_settings,
        [],
        setting="plan_cache_mode = force_generic_plan",
        raw=True,
    )


def _audience_gate(settings: Settings, tags: list[str]) -> Any:
    campaign = Campaign(
        id=0,
        name="audience",
        channel=CampaignChannel.EMAIL,
        purpose=Purpose.DIRECT_MARKETING,
        segment={"tags": tags},
    )
    return gate_for(campaign, settings, today=clock.today(), now=clock.now())


async def measure_plans(bench: Bench, *, after: str = "") -> None:
    """The plans of the audience count and of the send list's INSERT … SELECT (on
    PostgreSQL executed, then rolled back), as the service runs them."""
    results = bench.results
    when = f", {after}" if after else ""
    async with bench.sessionmaker() as session:
        if results.database == "postgresql" and not results.plan_settings:
            results.plan_settings = await settings_in_force(session)
        await _limit(bench, session)
        gate = _audience_gate(bench.default_settings, [])
        label = f"Audience count, all contacts, default frequency cap{when} (`queries.audience`)"
        results.plans.append(await explain(session, label, queries.audience_query(gate)))
    if after:
        return
    lists: list[tuple[str, Settings, list[str]]] = [
        ("all contacts, default frequency cap", bench.default_settings, [])
    ]
    if bench.send_tags:
        segment = f"the send runs' segment (tag '{BENCH_TAG}'), cap off"
        lists.append((segment, bench.settings, bench.send_tags))
    for label, settings, tags in lists:
        campaign_id = await bench.new_campaign("Plan", tags)
        async with bench.sessionmaker() as session:
            campaign = await campaigns.get(session, campaign_id)
            await _limit(bench, session)
            gate = gate_for(campaign, settings, today=clock.today(), now=clock.now())
            statement = queries.send_list_insert(
                gate, campaign_id=campaign_id, channel=campaign.channel
            )
            title = f"Send list, {label} (`queries.build_send_list`, INSERT … SELECT)"
            results.plans.append(await explain(session, title, statement))
    say(f"plans: {len(results.plans)} explained")


async def measure_build(bench: Bench) -> None:
    """The send list of a campaign over all contacts, as ``sending.start`` builds it:
    first into an empty campaign_recipients, then once more for a second campaign."""
    for label in ("first campaign (campaign_recipients empty)", "second campaign"):
        bench.results.builds.append(await _build_once(bench, label))


async def _build_once(bench: Bench, label: str) -> BuildResult:
    campaign_id = await bench.new_campaign("Build list", [])
    settings = bench.default_settings
    timed_out = False
    async with bench.sessionmaker() as session:
        campaign = await campaigns.get(session, campaign_id)
        await _limit(bench, session)
        gate = gate_for(campaign, settings, today=clock.today(), now=clock.now())
        started = time.perf_counter()
        try:
            rows = await queries.build_send_list(
                session, gate=gate, campaign_id=campaign_id, channel=campaign.channel
            )
        except DBAPIError as exc:
            if "statement timeout" not in str(exc) and "canceling statement" not in str(exc):
                raise
            timed_out, rows = True, 0
        inserted = time.perf_counter()
        if timed_out:
            await session.rollback()
        else:
            await session.commit()
        committed = time.perf_counter()
    async with bench.sessionmaker() as session:
        started_batches = time.perf_counter()
        batches = await queries.pending_batches(
            session, campaign_id=campaign_id, batch_size=settings.send_batch_size
        )
        batches_s = time.perf_counter() - started_batches
    say(
        f"send list, {label}: "
        + (
            f"cancelled after {inserted - started:.0f} s (statement_timeout)"
            if timed_out
            else f"{rows:,} rows in {inserted - started:.2f} s (+ commit "
            f"{committed - inserted:.2f} s); {len(batches)} batches listed in {batches_s:.2f} s"
        )
    )
    return BuildResult(
        label, rows, inserted - started, committed - inserted, len(batches), batches_s, timed_out
    )


# -- references -----------------------------------------------------------------


def _bare_message(index: int, size: int = 2000) -> bytes:
    head = (
        f"From: {MAIL_FROM}\nTo: user{index}@example.fi\nSubject: Offer {index}\n"
        f"Message-ID: <bare{index}@example.fi>\nMIME-Version: 1.0\n"
        'Content-Type: text/plain; charset="utf-8"\n\n'
    )
    line = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor\n"
    body = (line * (size // len(line) + 1))[: max(0, size - len(head))]
    return (head + body).encode()


async def bare_loop(port: int, total: int, connections: int = 4) -> tuple[float, float]:
    """Pre-built ~2 KB messages over `connections` reused aiosmtplib connections."""
    messages = [_bare_message(i) for i in range(connections)]
    clients = [SMTP(hostname=HOST, port=port, start_tls=False) for _ in range(connections)]
    for client in clients:
        await client.connect()

    async def run(client: SMTP, index: int, count: int) -> None:
        message = messages[index]
        for i in range(count):
            await client.sendmail(MAIL_FROM, [f"user{i}@example.fi"], message)

    shares = [
        total // connections + (1 if i < total % connections else 0) for i in range(connections)
    ]
    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(
        *(run(c, i, n) for i, (c, n) in enumerate(zip(clients, shares, strict=True)))
    )
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    for client in clients:
        await client.quit()
    return elapsed, cpu


async def measure_references(bench: Bench) -> None:
    sink = bench.sink
    assert sink is not None
    source_total = bench.args.source_messages
    source = find_tool("smtp-source")
    argv = [
        *(source, "-d", "-s", "4", "-m", str(source_total), "-l", "2000"),
        *("-f", MAIL_FROM, "-t", "user@example.fi", f"{HOST}:{sink.port}"),
    ]
    before = sink.accepted()
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    try:
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout=300)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"smtp-source failed: {stderr.decode(errors='replace')}")
    accepted = await asyncio.to_thread(sink.wait_settled)
    shown = shlex.join(["smtp-source", *argv[1:-1], f"{HOST}:PORT"])
    bench.results.references.append(
        Reference(f"`{shown}`", source_total, elapsed, accepted - before)
    )
    say(f"smtp-source: {source_total / elapsed:,.0f} msg/s")

    before = accepted
    bare_total = bench.args.bare_messages
    elapsed, cpu = await bare_loop(sink.port, bare_total)
    accepted = await asyncio.to_thread(sink.wait_settled)
    bench.results.references.append(
        Reference(
            "bare aiosmtplib loop: `SMTP.sendmail` of pre-built 2,000-byte messages, "
            f"4 reused connections, one process, {bench.args.loop} event loop",
            bare_total,
            elapsed,
            accepted - before,
            cpu,
        )
    )
    say(f"bare aiosmtplib loop: {bare_total / elapsed:,.0f} msg/s")


# -- the exactly-once window -----------------------------------------------------

_SENT_AT: contextvars.ContextVar[float] = contextvars.ContextVar("sent_at")


class _TimedPool:
    """SmtpPool that notes, per task, when `send` returned SENT."""

    def __init__(self, pool: SmtpPool) -> None:
        self.pool = pool
        self.sizes: list[int] = []

    @property
    def size(self) -> int:
        return self.pool.size

    async def send(self, *, sender: str, recipient: str, message: bytes) -> Delivery:
        self.sizes.append(len(message))
        delivery = await self.pool.send(sender=sender, recipient=recipient, message=message)
        if delivery.outcome is Outcome.SENT:
            _SENT_AT.set(time.perf_counter())
        return delivery

    async def close(self) -> None:
        await self.pool.close()


class _TimedRedis:
    """Redis whose `execute_command` notes how long after SENT an HSET returned."""

    def __init__(self, redis: Any) -> None:
        self.redis = redis
        self.windows: list[float] = []

    async def execute_command(self, *command: Any) -> Any:
        result = await self.redis.execute_command(*command)
        if command[0] == "HSET":
            self.windows.append(time.perf_counter() - _SENT_AT.get())
        return result


class _WindowList:
    """What `batch.send_all` asks of a campaign's batch, without its database:
    each message made by `sending.prepare` (as `CampaignBatch.prepare` does),
    each acceptance into the campaign's journal. The rows are made up, so
    nothing is recorded."""

    def __init__(self, sender: sending.Sender, campaign: Campaign, renderer: Any) -> None:
        assert campaign.id is not None
        self.sender, self.campaign, self.renderer = sender, campaign, renderer
        self.journal = Journal(sender.redis, outcomes.journal_key(campaign.id))

    def prepare(self, row: outcomes.Row) -> Outgoing:
        return sending.prepare(self.sender, self.campaign, self.renderer, row)

    async def record_sent_now(self, row_id: int) -> None:
        raise RuntimeError("bench: the journal failed during the window measurement")


def _row(index: int) -> outcomes.Row:
    """An `outcomes.Row` for a made-up contact, whichever fields the Row has today."""
    contact = _contact(index)
    known: dict[str, Any] = {
        "id": index,
        "attempts": 0,
        "contact": contact,
        "contact_id": index,
        "email": contact.email,
        "recipient": recipient_of(contact),
        "tracking": index % 4 == 0,  # about the share with a tracking consent in the seed
    }
    names = [f.name for f in dataclasses.fields(outcomes.Row)]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise RuntimeError(f"bench: outcomes.Row has fields it cannot fill: {unknown}")
    return outcomes.Row(**{name: known[name] for name in names})


def _contact(index: int) -> Contact:
    language = ("fi", "fi", "fi", "sv", "en")[index % 5]
    return Contact(
        id=index,
        full_name="Maija Meikäläinen" if language == "fi" else "Erik Lindqvist",
        email=f"window{index}@example.fi",
        language=Language(language),
        gender=Gender.UNSPECIFIED,
        legal_basis=LegalBasis.CONSENT,
        source=Source.SELF,
    )


async def measure_window(bench: Bench) -> None:
    """`batch.send_all` in-process, as a campaign's batch calls it, chunk by chunk."""
    sends = bench.args.window_sends
    settings = bench.settings
    redis = await queue.connect(bench.profile_redis_url)
    pool = SmtpPool(SmtpConfig.from_settings(settings), size=settings.send_connections)
    timed_pool, timed_redis = _TimedPool(pool), _TimedRedis(redis)
    sender = sending.Sender(
        settings=settings,
        sessionmaker=bench.sessionmaker,
        redis=timed_redis,  # type: ignore[arg-type]
        smtp=timed_pool,  # type: ignore[arg-type]
        signer=TokenSigner(settings.secret_key),
        cipher=DataCipher(settings.data_key),
    )
    content = _content("fi")
    campaign = Campaign(
        id=999_999,
        name="Window",
        channel=CampaignChannel.EMAIL,
        purpose=Purpose.DIRECT_MARKETING,
        updated_at=clock.now(),
        subject=content["subject"],
        body_html=content["body_html"],
        body_text=content["body_text"],
        translations={lang: _content(lang) for lang in ("sv", "en")},
    )
    renderer = sender.renderer(campaign)
    send_list = _WindowList(sender, campaign, renderer)
    messenger = sender.messenger
    rows = [_row(i) for i in range(1, sends + 1)]
    started, cpu = time.perf_counter(), time.process_time()
    try:
        for first in range(0, sends, sending.CHUNK):
            results = await batch.send_all(
                send_list,  # type: ignore[arg-type]
                messenger,
                rows[first : first + sending.CHUNK],
                batch.Progress(lease=None),
            )
            failed = [r.delivery for r in results if r.delivery.outcome is not Outcome.SENT]
            if failed:
                raise RuntimeError(f"the sink refused a message: {failed[0]}")
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        # The same HSET with nothing else on the event loop: the round trip alone.
        bare_hset = []
        hset_cpu = time.process_time()
        for i in range(2_000):
            began = time.perf_counter()
            await redis.execute_command("HSET", "consentry:bench:hset", i, time.time())  # type: ignore[no-untyped-call]
            bare_hset.append(time.perf_counter() - began)
        hset_cpu = (time.process_time() - hset_cpu) / len(bare_hset)
    finally:
        await messenger.close()
        await redis.flushdb()
        await redis.aclose()
    bench.results.window = WindowResult(
        sends,
        timed_redis.windows,
        elapsed,
        statistics.fmean(timed_pool.sizes),
        bare_hset,
        cpu,
        [*_pieces(sender, campaign, renderer), ("journal `HSET` alone (redis-py)", hset_cpu)],
    )
    say(
        f"window: p50 {report.seconds(report.percentile(timed_redis.windows, 50))}, "
        f"p99 {report.seconds(report.percentile(timed_redis.windows, 99))} "
        f"({sends / elapsed:,.0f} msg/s in-process, no database)"
    )


def _pieces(
    sender: sending.Sender, campaign: Campaign, renderer: Any, repeat: int = 2_000
) -> list[tuple[str, float]]:
    """CPU per message of the steps `sending.prepare` takes before SMTP, timed alone."""
    settings = sender.settings
    contact = _contact(1)
    public = settings.public_url
    links = Links(unsubscribe_url=f"{public}/u/x", preferences_url=f"{public}/p/x")
    recipient = recipient_of(contact)
    rendered = renderer.render(recipient, links)

    def sign() -> None:
        sender.signer.sign("unsubscribe", 1, 999_999)
        sender.signer.sign("preferences", 1)

    def render_one() -> None:
        renderer.render(recipient, links)

    def build() -> None:
        build_message(
            rendered,
            mail_from=settings.mail_from,
            to="maija@example.fi",
            message_id="<c999999.r1.abcdef@example.fi>",
            list_id="<campaign-999999.example.fi>",
            unsubscribe_url=links.unsubscribe_url,
            unsubscribe_mailto=f"mailto:{settings.unsubscribe_address}?subject=unsubscribe%20x",
        )

    out = []
    for label, step in (
        ("two signed links (`TokenSigner.sign`, twice)", sign),
        ("`CampaignRenderer.render`", render_one),
        ("`build_message` (compat32 MIME, quoted-printable, `as_bytes`)", build),
    ):
        step()
        began = time.process_time()
        for _ in range(repeat):
            step()
        out.append((label, (time.process_time() - began) / repeat))
    return out


# -- send runs ------------------------------------------------------------------


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


def _each(workers: list[Worker], method: Callable[[Worker], None]) -> None:
    for worker in list(workers):
        method(worker)


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
        await asyncio.to_thread(_each, workers, Worker.wait_ready)
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
        await asyncio.to_thread(_each, workers, Worker.stop)
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


# -- profile --------------------------------------------------------------------

# (function, label, plain function: its call count is meaningful; cProfile
# counts every resumption of a coroutine as a call). Found in the profile by
# their code objects, so a function that moves or is renamed breaks the import
# here instead of showing as 0.
KEY_FUNCTIONS: tuple[tuple[Callable[..., Any], str, bool], ...] = (
    (batch.send_one, "batch.send_one (prepare, messenger, journal `HSET`)", False),
    (sending.prepare, "sending.prepare (sign, render, build)", True),
    (CampaignRenderer.render, "CampaignRenderer.render", True),
    (build_message, "build_message", True),
    (TokenSigner.sign, "TokenSigner.sign", True),
    (EmailMessenger.send, "EmailMessenger.send", False),
    (SmtpPool.send, "SmtpPool.send (aiosmtplib `sendmail` inside)", False),
    (email.utils.parseaddr, "email.utils.parseaddr (aiosmtplib's address checks)", True),
    (aiosmtplib.protocol.normalize_message_line_endings, "aiosmtplib line endings", True),
    (Journal.mark, "Journal.mark (the journal `HSET`)", False),
    (
        sending.CampaignBatch.next_chunk,
        "CampaignBatch.next_chunk (status, skips, rows, gate re-check)",
        False,
    ),
    (sending._next_chunk, "sending._next_chunk (load a chunk of rows)", False),
    (queries.excluded_in_range, "queries.excluded_in_range (gate re-check)", False),
    (queries.skip_erased, "queries.skip_erased", False),
    (outcomes.record, "outcomes.record (UPDATE + HDEL)", False),
    (batch.replay_journal, "batch.replay_journal", False),
    (outcomes.finish_if_done, "outcomes.finish_if_done", False),
)


def _code_key(function: Callable[..., Any]) -> tuple[str, int, str]:
    """cProfile's key of a function: (file, first line, name) of its code."""
    code = inspect.unwrap(function).__code__
    return code.co_filename, code.co_firstlineno, code.co_name


def _group(filename: str, name: str) -> str:
    if filename == "~":
        if "uvloop" in name:
            return "uvloop's loop (C; includes waiting for I/O)"
        if "poll" in name and "epoll" in name:
            return "idle: waiting in epoll (network, DB thread)"
        return "C builtins (" + name.strip("<>").split(" of ")[0].replace("method ", "") + ")"
    if "/site-packages/" in filename:
        return filename.split("/site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if filename.endswith(".j2") or (
        filename.startswith("<") and not filename.startswith(("<frozen", "<string"))
    ):
        return "jinja2 compiled templates"
    repo = str(REPO) + "/"
    if filename.startswith(repo):
        parts = Path(filename[len(repo) :]).with_suffix("").parts
        return ".".join(parts[:3])
    if "/lib/python3" in filename:
        rest = filename.split("/lib/python3", 1)[1].split("/", 2)
        module = rest[1] if len(rest) > 1 else filename
        return "stdlib " + module.removesuffix(".py")
    return filename


def _summarise(profiler: cProfile.Profile) -> tuple[list[Any], list[Any], list[Any]]:
    stats = pstats.Stats(profiler)
    table: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    groups: dict[str, float] = defaultdict(float)
    for (filename, _, name), (_, _, tottime, _, _) in table.items():
        groups[_group(filename, name)] += tottime
    key = []
    for function, label, plain in KEY_FUNCTIONS:
        _, nc, _, ct, _ = table.get(_code_key(function), (0, 0, 0.0, 0.0, None))
        key.append((label, ct, nc if plain else None))
    top = sorted(
        (
            (f"{Path(f).name}:{line} {n}" if f != "~" else n, tt, ct)
            for (f, line, n), (_, _, tt, ct, _) in table.items()
        ),
        key=lambda item: item[1],
        reverse=True,
    )[:15]
    return sorted(groups.items(), key=lambda item: item[1], reverse=True)[:12], key, top


async def measure_profile(bench: Bench) -> None:
    """One batch in-process under cProfile (main thread), then one without."""
    settings = bench.settings
    campaign_id = await bench.new_campaign("Profile", bench.send_tags)
    await bench.request_send(campaign_id)
    redis = await queue.connect(bench.profile_redis_url)
    smtp = SmtpPool(SmtpConfig.from_settings(settings), size=settings.send_connections)
    sender = sending.Sender(
        settings=settings,
        sessionmaker=bench.sessionmaker,
        redis=redis,
        smtp=smtp,
        signer=TokenSigner(settings.secret_key),
        cipher=DataCipher(settings.data_key),
    )
    try:
        await sending.start(sender, campaign_id)
        async with bench.sessionmaker() as session:
            batches = await queries.pending_batches(
                session, campaign_id=campaign_id, batch_size=settings.send_batch_size
            )
        if len(batches) < 2:
            bench.results.notes.append("profile skipped: fewer than two batches")
            return
        (_, first, last), (_, first2, last2) = batches[0], batches[1]
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        await sending.send_batch(sender, campaign_id, first, last)
        profiler.disable()
        wall = time.perf_counter() - started
        started = time.perf_counter()
        await sending.send_batch(sender, campaign_id, first2, last2)
        wall2 = time.perf_counter() - started
        async with bench.sessionmaker() as session:
            sent = (
                await session.exec(  # type: ignore[call-overload]
                    select(func.count())
                    .select_from(CampaignRecipient)
                    .where(
                        col(CampaignRecipient.campaign_id) == campaign_id,
                        col(CampaignRecipient.id).between(first, last),
                        col(CampaignRecipient.status) == "sent",
                    )
                )
            ).scalar_one()
            sent2 = (
                await session.exec(  # type: ignore[call-overload]
                    select(func.count())
                    .select_from(CampaignRecipient)
                    .where(
                        col(CampaignRecipient.campaign_id) == campaign_id,
                        col(CampaignRecipient.id).between(first2, last2),
                        col(CampaignRecipient.status) == "sent",
                    )
                )
            ).scalar_one()
        async with session_scope(bench.sessionmaker) as session:
            campaign = await campaigns.get(session, campaign_id)
            if campaign.status in campaigns.CANCELLABLE:
                await campaigns.cancel(session, campaign=campaign)
    finally:
        await smtp.close()
        await redis.flushdb()
        await redis.aclose()
    groups, key, top = _summarise(profiler)
    bench.results.profile = ProfileResult(int(sent), wall, int(sent2), wall2, groups, key, top)
    say(
        f"profile: batch of {sent} in {wall:.2f} s under cProfile; "
        f"unprofiled batch of {sent2} in {wall2:.2f} s ({sent2 / wall2:,.0f} msg/s)"
    )


# -- the section ----------------------------------------------------------------


def _verdict(met: bool) -> str:
    return "met" if met else "**missed**"


def _explain_misses(results: Results, one: RunResult | None, bare: Reference | None) -> list[str]:
    """An honest line per missed sending target, with what the numbers say dominates."""
    window = results.window
    if one is None or bare is None or window is None or not one.steady_rate:
        return []
    lines: list[str] = []
    missed = [
        text
        for text, failed in (
            ("2,000 msg/s while sending", one.steady_rate < 2000),
            (f"half the bare loop, {bare.rate / 2:,.0f} msg/s", one.steady_rate < bare.rate / 2),
        )
        if failed
    ]
    if missed:
        cpu = one.steady_cpu[0] if one.steady_cpu else 0.0
        per_worker = cpu / one.steady_rate
        per_loop = window.cpu / window.sends
        per_bare = (bare.cpu or 0.0) / bare.messages
        steps = sum(cost for _, cost in window.pieces)
        if cpu >= 0.9:
            bound = "CPU-bound"
        elif cpu >= 0.7:
            bound = "mostly CPU-bound"
        else:
            bound = "not CPU-bound (it waits on something)"
        rest = per_worker - per_loop
        if rest > 0.1 * per_worker:
            tail = (
                f"the remaining {report.seconds(rest)} is the batch's database work (loading "
                "each chunk of recipients, the gate re-check, the per-chunk UPDATE), the HDEL "
                "and arq."
            )
        else:
            tail = (
                "that is within noise of the whole worker's figure, so the batch's database "
                "work is not what costs the CPU here."
            )
        lines += [
            "",
            f"Missed ({'; '.join(missed)}): one worker sends {one.steady_rate:,.0f} msg/s "
            f"while sending, {bound}: {100 * cpu:.0f} % of a core, "
            f"{report.seconds(per_worker)} of CPU per message. Of that, aiosmtplib's own "
            f"`sendmail` costs about {report.seconds(per_bare)} (the bare loop's CPU per "
            f"message: alone it caps one core at {1 / per_bare:,.0f} msg/s; half the bare "
            f"loop's {bare.rate:,.0f} msg/s allows {report.seconds(2 / bare.rate)} per message "
            f"in all, {report.seconds(2 / bare.rate - per_bare)} beside `sendmail`); signing, "
            f"rendering, `build_message` and the journal `HSET` {report.seconds(steps)}; the "
            f"in-process send loop with its asyncio/pool overhead {report.seconds(per_loop)} "
            f"in all; {tail}",
        ]
    if one.wall_rate < 2000:
        lines += [
            "",
            f"Missed (end to end): {one.wall_rate:,.0f} msg/s from enqueue to done. Of the "
            f"{one.wall:.1f} s, {one.to_first:.1f} s pass before the first chunk is recorded: "
            f"arq picks the start job up {one.to_built:.2f} s after it is queued (it polls "
            f"every {results.worker['poll_delay']} s), the start job itself runs "
            f"{one.start_job:.2f} s (the audience count, a full pass over all contacts "
            "whatever the segment, the send list, then `pending_batches` and one enqueue "
            "per batch), and the batch jobs wait for the next poll.",
        ]
    return lines


def render(results: Results) -> str:
    n = results.contacts
    db = "SQLite" if results.database == "sqlite" else "PostgreSQL"
    m = results.machine
    lines: list[str] = [
        f"## Campaign benchmark: {db}, {n:,} contacts",
        "",
        "Audience count, send-list build and end-to-end sending through real `consentry worker` "
        "processes to Postfix's `smtp-sink`, on a fresh migrated database "
        "(`bench/campaign.py`).",
        "",
        f"Command: `{results.command}`",
        "",
        f"Code measured: {results.code}.",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory']} RAM, Python {m['python']}, "
        f"Linux {m['kernel']}. Run {results.started:%Y-%m-%d %H:%M} UTC, "
        f"{results.seconds / 60:.1f} min in all. Load average (1, 5, 15 min) before the run "
        f"{m['load']}, after {results.load_after} (other work on the machine shows here).",
    ]
    if results.database == "postgresql":
        lines.append(
            "PostgreSQL is the throwaway server of `tests/support/postgres.py` (fsync, "
            "synchronous_commit and full_page_writes off), VACUUM ANALYZEd after the load "
            "(as autovacuum soon would be)."
        )
    else:
        lines.append(
            "SQLite: one file in a temporary directory, the service's own pragmas (WAL, "
            "synchronous=NORMAL); no ANALYZE (the service never runs it)."
        )
    seed_stats = results.seed
    if seed_stats is not None:
        groups = seed_stats.groups
        share = {k: f"{100 * v / n:.1f} %" for k, v in groups.items()}
        lines += [
            "",
            f"Data: {n:,} contacts written in {seed_stats.seconds:.1f} s "
            f"({n / seed_stats.seconds:,.0f}/s): email consent granted {share.get('email_grant')}, "
            f"withdrawn {share.get('email_withdraw')}, active ban (all/email) "
            f"{share.get('ban_all')}/{share.get('ban_email')}, restricted "
            f"{share.get('restricted')}, objected {share.get('objected')}, beyond retention "
            f"{share.get('beyond_retention')}, business {share.get('business')}, customers "
            f"{share.get('customer')}, no email {share.get('no_email')}, suppressed "
            f"{share.get('suppressed')}; {seed_stats.consent_events:,} consent events, "
            f"{seed_stats.bans:,} bans (incl. lifted and non-marketing ones), "
            f"{seed_stats.tags:,} tags.",
        ]

    # Audience and build.
    lines += ["", "### Audience and send list", ""]
    rows = []
    cancelled = "**cancelled by statement_timeout after {:.0f} s**"
    for a in results.audience:
        if a.timed_out:
            rows.append([a.label, cancelled.format(a.times[-1]), "-"])
        else:
            rows.append([a.label, report.spread(a.times), f"{a.eligible:,} of {a.total:,}"])
    for build in results.builds:
        rows.append(
            [
                "send list over all contacts, default cap: `queries.build_send_list` "
                f"(INSERT … SELECT), {build.label}",
                cancelled.format(build.insert_s)
                if build.timed_out
                else f"{report.seconds(build.insert_s)} + commit {report.seconds(build.commit_s)}",
                "-" if build.timed_out else f"{build.rows:,} rows",
            ]
        )
        rows.append(
            [
                "its batches: `queries.pending_batches` (batch size "
                f"{results.worker['batch_size']:,}), {build.label}",
                report.seconds(build.batches_s),
                f"{build.batches:,} batches",
            ]
        )
    lines.append(report.table(["measurement", "time", "result"], rows))
    if results.audience:
        a = results.audience[0]
        lines += [
            "",
            "Breakdown (all contacts; a contact may have several reasons): "
            + ", ".join(f"{k} {v:,}" for k, v in a.excluded.items())
            + f"; eligible {a.eligible:,}.",
        ]

    lines += _plans_section(results)

    # References and window.
    if results.references or results.window:
        lines += ["", "### SMTP references (same sink, same run)", ""]
        rows = [
            [
                ref.label,
                f"{ref.messages:,}",
                report.seconds(ref.seconds),
                f"{ref.rate:,.0f}",
                f"{ref.accepted:,}",
            ]
            for ref in results.references
        ]
        lines.append(report.table(["client", "messages", "time", "msg/s", "sink counted"], rows))
    window = results.window
    if window is not None:
        w = window.windows
        lines += [
            "",
            "Exactly-once window we control: from `SmtpPool.send` returning SENT to the journal "
            "`HSET` returning, inside `batch.send_all` itself (4 connections, rendering "
            f"interleaved, no database, {results.loop} event loop), {window.sends:,} sends: p50 "
            f"{report.seconds(report.percentile(w, 50))}, p99 "
            f"{report.seconds(report.percentile(w, 99))}, max {report.seconds(max(w))} "
            f"(mean {report.seconds(statistics.fmean(w))}). That loop alone ran at "
            f"{window.sends / window.seconds:,.0f} msg/s; the service's messages averaged "
            f"{window.message_bytes:,.0f} bytes. For comparison, the same `HSET` alone, with "
            "nothing else on the event loop: p50 "
            f"{report.seconds(report.percentile(window.bare_hset, 50))}, p99 "
            f"{report.seconds(report.percentile(window.bare_hset, 99))} "
            f"({len(window.bare_hset):,} round trips).",
        ]

    # Send runs.
    if results.runs:
        lines += [
            "",
            "### End-to-end sending (real worker processes)",
            "",
            "Each run is a fresh campaign over the same contacts, on workers started for it, "
            "once the jobs they run at start-up have ended (waited "
            + ", ".join(f"{r.crons_s:.1f} s" for r in results.runs)
            + "); their start-up retention run is held off by taking its Redis lock (on this "
            "seed it would erase the 5 % beyond retention while the runs send). "
            "Recipients: the contacts "
            f"tagged `{BENCH_TAG}` ({results.send_contacts:,} of {n:,}, every k-th contact; "
            "the send list is the eligible ones among them)"
            + (
                f"; the 'small' run uses the {results.small_contacts:,} also tagged "
                f"`{SMALL_TAG}`, to compare peak memory."
                if results.small_contacts
                else "."
            )
            + f" Worker settings: defaults ({results.worker['connections']} SMTP connections, "
            f"batches of {results.worker['batch_size']:,}, arq max_jobs "
            f"{results.worker['max_jobs']}, poll every {results.worker['poll_delay']} s), "
            "frequency cap off. Rate = messages recorded after the first `sent_at` / (last "
            f"`sent_at` - first); `sent_at` is stamped per chunk of {sending.CHUNK} when its "
            "rows are written. Wall = start job enqueued → campaign `done` (its "
            "`finished_at`). CPU = share of one core (user + system from /proc) while "
            "sending (first to last `sent_at`) / from enqueue to done. Peak RSS = VmHWM just "
            "before the worker is stopped. One run per worker count: single runs are noisy on "
            "a shared machine, so judge them against the references measured in the same run.",
            "",
        ]
        rows = []
        for r in results.runs:
            rows.append(
                [
                    r.label,
                    f"{r.recipients:,} ({r.sent:,} sent, {r.skipped} skipped, {r.failed} failed"
                    + (f", {r.queued} queued" if r.queued else "")
                    + ")",
                    f"{r.sink_accepted:,}",
                    f"**{r.steady_rate:,.0f}**" if r.steady_rate else "n/a (one chunk)",
                    f"{r.wall:.1f} s ({r.wall_rate:,.0f}/s)",
                    f"{r.to_built:.2f} s / {r.start_job:.2f} s / {r.to_first:.2f} s",
                    ", ".join(f"{k / 1024:.0f}" for k in r.peak_rss_kib),
                    ", ".join(f"{100 * c:.0f} %" for c in r.steady_cpu)
                    + " / "
                    + ", ".join(f"{100 * c:.0f} %" for c in r.cpu_share),
                    ", ".join(str(b) for b in r.batches),
                    r.status + (f" ({r.error})" if r.error else ""),
                ]
            )
        lines.append(
            report.table(
                [
                    "run",
                    "send list",
                    "sink counted",
                    "msg/s",
                    "wall enqueue→done",
                    "enqueue→list claimed / start job ran / enqueue→first sent",
                    "peak RSS per worker (MiB)",
                    "CPU per worker: sending / enqueue→done",
                    "batch jobs per worker",
                    "status",
                ],
                rows,
            )
        )

    # CPU per message.
    if window is not None:
        rows = [[label, report.seconds(cost), f"{1 / cost:,.0f}"] for label, cost in window.pieces]
        pieces = sum(cost for _, cost in window.pieces)
        rows.append(["these together", report.seconds(pieces), f"{1 / pieces:,.0f}"])
        bare_ref = next((r for r in results.references if r.cpu is not None), None)
        if bare_ref is not None and bare_ref.cpu:
            per = bare_ref.cpu / bare_ref.messages
            rows.append(
                [
                    "bare aiosmtplib `sendmail` of pre-built bytes (the reference loop's CPU)",
                    report.seconds(per),
                    f"{1 / per:,.0f}",
                ]
            )
        per = window.cpu / window.sends
        rows.append(
            [
                "`batch.send_all` in-process: all of the above + `SmtpPool.send` + journal "
                "`HSET`, no database",
                report.seconds(per),
                f"{1 / per:,.0f}",
            ]
        )
        single = next((r for r in results.runs if r.workers == 1 and "small" not in r.label), None)
        if single is not None and single.steady_cpu and single.steady_rate:
            per = single.steady_cpu[0] / single.steady_rate
            rows.append(
                [
                    "one `consentry worker`, end to end (CPU while sending / messages)",
                    report.seconds(per),
                    f"{1 / per:,.0f}",
                ]
            )
        lines += [
            "",
            "### CPU per message",
            "",
            "Process CPU time per message, each step timed alone in a loop (no profiler), "
            "then the larger wholes. The last column is the rate one core could reach if that "
            "were all it did.",
            "",
            report.table(["step", "CPU per message", "msg/s per core"], rows),
        ]

    # Targets.
    lines += ["", "### Targets", ""]
    rows = []
    sqlite_all = next((a for a in results.audience if a.label.startswith("all contacts")), None)
    if sqlite_all is not None:
        median = statistics.median(sqlite_all.times)
        scaled = median * 1_000_000 / n
        if results.database == "sqlite" and n >= 1_000_000:
            verdict = _verdict(median < 10)
        elif results.database == "sqlite":
            verdict = f"not measured at 1M; linear estimate {scaled:.1f} s: " + (
                "would be met" if scaled < 10 else "**would be missed**"
            )
        else:
            verdict = f"(target is for SQLite; linear estimate at 1M {scaled:.1f} s)"
        rows.append(
            [
                "audience of 1M contacts counted in under 10 s on SQLite",
                f"{report.seconds(median)} for {n:,}",
                verdict,
            ]
        )
    one = next((r for r in results.runs if r.workers == 1 and "small" not in r.label), None)
    bare = next((r for r in results.references if r.label.startswith("bare")), None)
    source = next((r for r in results.references if "smtp-source" in r.label), None)
    if one is not None:
        rows.append(
            [
                "one worker process ≥ 2,000 messages/s end to end",
                f"{one.steady_rate:,.0f} msg/s steady; {one.wall_rate:,.0f} msg/s enqueue→done",
                _verdict(one.steady_rate >= 2000 and one.wall_rate >= 2000),
            ]
        )
        if bare is not None:
            rows.append(
                [
                    "one worker ≥ half the bare aiosmtplib loop",
                    f"{one.steady_rate / bare.rate:.0%} of {bare.rate:,.0f} msg/s",
                    _verdict(one.steady_rate >= bare.rate / 2),
                ]
            )
        if source is not None:
            rows.append(
                [
                    "(for reference) one worker vs smtp-source",
                    f"{one.steady_rate / source.rate:.1%} of {source.rate:,.0f} msg/s",
                    "",
                ]
            )
    small = next((r for r in results.runs if "small" in r.label), None)
    if one is not None and small is not None and one.peak_rss_kib and small.peak_rss_kib:
        big_rss, small_rss = one.peak_rss_kib[0], small.peak_rss_kib[0]
        rows.append(
            [
                "memory flat in campaign size",
                f"peak RSS {small_rss / 1024:.0f} MiB for {small.sent:,} messages, "
                f"{big_rss / 1024:.0f} MiB for {one.sent:,}",
                _verdict(big_rss <= small_rss * 1.1),
            ]
        )
    if results.skip_send:
        rows.append(["sending targets", "not measured (`--skip-send`: audience and list only)", ""])
    lines.append(report.table(["target (from the issue)", "measured", "verdict"], rows))
    lines += _explain_misses(results, one, bare)

    # Profile.
    prof = results.profile
    if prof is not None:
        lines += [
            "",
            "### Where a batch spends its time",
            "",
            f"cProfile of one `sending.send_batch` run in-process on the {results.loop} event "
            "loop (main thread only; SQLite queries run in aiosqlite's thread and show as "
            f"idle): {prof.recipients:,} messages "
            f"in {prof.wall:.2f} s under the profiler; the next batch, unprofiled, sent "
            f"{prof.unprofiled_recipients:,} in {prof.unprofiled_wall:.2f} s "
            f"({prof.unprofiled_recipients / prof.unprofiled_wall:,.0f} msg/s, one job at a "
            "time).",
            "",
            report.table(
                ["code (inclusive)", "seconds", "share of wall", "calls per message"],
                [
                    [
                        k,
                        f"{s:.3f}",
                        f"{s / prof.wall:.0%}",
                        "" if calls is None else f"{calls / max(1, prof.recipients):.1f}",
                    ]
                    for k, s, calls in prof.key
                ],
            ),
            "",
            report.table(
                ["by package (own time)", "seconds", "share of wall"],
                [[g, f"{s:.3f}", f"{s / prof.wall:.0%}"] for g, s in prof.groups],
            ),
            "",
            "<details><summary>Top functions by own time</summary>",
            "",
            report.table(
                ["function", "own s", "inclusive s"],
                [[f"`{name}`", f"{tt:.3f}", f"{ct:.3f}"] for name, tt, ct in prof.top],
            ),
            "",
            "</details>",
        ]
    notes = [*_findings(results), *results.notes]
    if notes:
        lines += ["", "### Findings from these numbers", ""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def _start_job_share(results: Results, audience_s: float) -> str:
    """How much of the 1-worker run's start job the audience count explains."""
    one = next((r for r in results.runs if r.workers == 1 and "small" not in r.label), None)
    if one is None or not one.start_job:
        return ""
    return (
        f" In the 1-worker run the start job ran {one.start_job:.2f} s, of which the "
        f"segment's audience count is about {audience_s:.2f} s."
    )


def bench_runs(results: Results) -> int:
    """How often the default-cap audience ran on the pooled connections before the sends."""
    return sum(
        len(a.times)
        for a in results.audience
        if "default cap" in a.label or "default frequency cap (" in a.label
    )


def _plans_section(results: Results) -> list[str]:
    """The plans, folded: a line each in the open, the plans themselves in <details>."""
    if not results.plans:
        return []
    if results.database == "postgresql":
        intro = (
            "`EXPLAIN (ANALYZE, BUFFERS)` of the statements as `service.campaigns.queries` "
            "builds them, with their parameters, on the service's own connection settings; "
            "the send lists' INSERTs ran and were rolled back. Server: "
            f"{results.plan_settings} (jit as the service's connections set it). The index "
            "design behind them: docs/scaling.md."
        )
        rows = [
            [
                plan.label,
                report.seconds(plan.seconds) if plan.seconds is not None else "-",
                report.seconds(plan.planning) if plan.planning is not None else "-",
            ]
            for plan in results.plans
        ]
        table = report.table(["statement", "execution (EXPLAIN ANALYZE)", "planning"], rows)
    else:
        intro = (
            "`EXPLAIN QUERY PLAN` of the statements as `service.campaigns.queries` builds "
            "them (SQLite does not time a plan). The index design behind them: "
            "docs/scaling.md."
        )
        table = "\n".join(f"- {plan.label}" for plan in results.plans)
    return [
        "",
        "### Query plans",
        "",
        intro,
        "",
        table,
        "",
        "<details><summary>The plans</summary>",
        "",
        *(plan.markdown() + "\n" for plan in results.plans),
        "</details>",
    ]


def _findings(results: Results) -> list[str]:
    """Observations the numbers above support, worded by rule, not by hand."""
    out = []
    by_label = {a.label: a for a in results.audience}
    capped = next((a for a in results.audience if "default frequency cap (" in a.label), None)
    uncapped = by_label.get("all contacts, frequency cap off")
    segment = next((a for a in results.audience if a.label.startswith("segment")), None)
    jit_on = next((a for a in results.audience if "jit = on" in a.label), None)
    if capped and jit_on and not jit_on.timed_out:
        on, off = statistics.median(jit_on.times), statistics.median(capped.times)
        out.append(
            f"PostgreSQL's JIT (on by default) would cost the audience count "
            f"{report.seconds(on - off)} ({report.seconds(on)} with `jit = on`, "
            f"{report.seconds(off)} as the service runs it, with `jit = off`): the gate's "
            "subqueries make the planner's cost estimate far exceed `jit_above_cost`, so each "
            "count would compile code first; the service's connections turn JIT off "
            "(service/db.py)."
            if on > off
            else f"PostgreSQL's JIT made no difference here ({report.seconds(on)} with "
            f"`jit = on`, {report.seconds(off)} with it off, as the service runs it)."
        )
    if capped and uncapped:
        on, off = statistics.median(capped.times), statistics.median(uncapped.times)
        afters = [a for a in results.audience if "after the send runs" in a.label]
        after = next((a for a in afters if not a.timed_out and "pooled" not in a.label), None)
        share = 100 * (on / off - 1)
        cost = (
            f"adds {share:.0f} % to the audience count with an empty campaign_recipients"
            if share >= 5
            else "makes no measurable difference to the audience count with an empty "
            f"campaign_recipients ({report.seconds(on)} with it, {report.seconds(off)} "
            "without, medians)"
        )
        out.append(
            "The frequency cap (the contacts with enough messages in the window, aggregated "
            f"once and joined) {cost}"
            + (f"; after the send runs it takes {report.spread(after.times)}." if after else ".")
        )
        pooled = next((a for a in afters if "pooled" in a.label), None)
        if pooled is not None and after is not None:
            slow = pooled.timed_out or statistics.median(pooled.times) > 5 * statistics.median(
                after.times
            )
            if slow:
                took = (
                    f"was cancelled after {pooled.times[-1]:.0f} s"
                    if pooled.timed_out
                    else f"took {report.spread(pooled.times)}"
                )
                out.append(
                    "The same audience query, on the benchmark's pooled connections that had "
                    f"run it while campaign_recipients was empty, {took}; on a fresh "
                    f"connection it took {report.spread(after.times)}. asyncpg prepares each "
                    "statement once per connection and PostgreSQL switches a prepared "
                    "statement to a generic plan after five runs; planned for an empty table, "
                    "that plan stays until an ANALYZE of the table invalidates it."
                )
            elif results.database == "postgresql":
                generic = next((a for a in afters if "generic" in a.label), None)
                out.append(
                    "On the pooled connections that had run the audience count "
                    f"{bench_runs(results)} times while campaign_recipients was empty, it took "
                    f"{report.spread(pooled.times)} after the send runs, as on a fresh "
                    f"connection ({report.spread(after.times)}): `queries.audience` has "
                    "PostgreSQL plan each count afresh (`plan_cache_mode = force_custom_plan` "
                    "around it), so no plan made for the empty table is kept"
                    + (
                        "; forced to the generic plan it took "
                        + (
                            f"more than {generic.times[-1]:.0f} s (cancelled)"
                            if generic.timed_out
                            else report.spread(generic.times)
                        )
                        + "."
                        if generic is not None
                        else "."
                    )
                )
    if segment and uncapped:
        seg_s, all_s = statistics.median(segment.times), statistics.median(uncapped.times)
        lists = [p for p in results.plans if p.label.startswith("Send list")]
        timed = [p for p in lists if p.seconds is not None]
        out.append(
            f"A segment does not make the audience count cheaper: the '{BENCH_TAG}' "
            f"segment ({segment.eligible:,} eligible) takes {report.seconds(seg_s)}, the "
            f"whole register {report.seconds(all_s)}, because its breakdown counts every "
            "reason over every contact. "
            + (
                "The send list does start from the segment (the tag's index, `Gate.within`)"
                + (
                    f": {report.seconds(timed[-1].seconds or 0)} for the segment's, "
                    f"{report.seconds(timed[0].seconds or 0)} for the whole register's "
                    "(EXPLAIN ANALYZE above)."
                    if len(timed) >= 2
                    else "."
                )
                if results.database == "postgresql"
                else "SQLite's send list walks every contact too, testing the tag first "
                "(EXPLAIN QUERY PLAN above)."
            )
            + _start_job_share(results, statistics.median(segment.times))
        )
    if len(results.builds) >= 2:
        first, second = results.builds[0], results.builds[1]
        if first.timed_out or first.insert_s > 3 * second.insert_s:
            took = (
                f"was cancelled after {first.insert_s:.0f} s"
                if first.timed_out
                else f"took {report.seconds(first.insert_s)}"
            )
            out.append(
                f"The first send list built into an empty campaign_recipients {took}, the second "
                f"{report.seconds(second.insert_s)}. The INSERT … SELECT reads "
                "campaign_recipients itself (the frequency cap's correlated COUNT); planned "
                "while the table is empty, that COUNT is a sequential scan, and it rescans the "
                "growing table for each contact: quadratic in the list size."
            )
    small = next((r for r in results.runs if "small" in r.label), None)
    if small is not None and small.steady_rate and small.wall_rate < small.steady_rate / 2:
        out.append(
            f"Small campaigns are dominated by fixed latency: {small.sent:,} messages at "
            f"{small.steady_rate:,.0f} msg/s while sending, but {small.wall:.1f} s from enqueue "
            f"to done ({small.to_first:.1f} s before the first chunk is recorded)."
        )
    cpus = os.cpu_count() or 1
    crowded = [r.workers for r in results.runs if r.workers > cpus]
    if crowded:
        out.append(
            f"This machine has {cpus} CPUs, shared by the workers, smtp-sink, Redis and the "
            f"database: the {', '.join(map(str, crowded))}-worker runs measure contention, "
            "not scaling."
        )
    multi = [r for r in results.runs if r.workers > 1 and r.batches]
    for run_ in multi:
        if max(run_.batches) >= 2 * max(1, min(run_.batches)):
            out.append(
                f"{run_.label}: batch jobs per worker {', '.join(map(str, run_.batches))}; each "
                f"worker takes up to {results.worker['max_jobs']} batch jobs at a time (arq "
                f"max_jobs) from {sum(run_.batches)} batches of "
                f"{results.worker['batch_size']:,}, so the work is spread unevenly."
            )
    return out


# -- main -----------------------------------------------------------------------


def _worker_facts(settings: Settings) -> dict[str, Any]:
    """The settings a `consentry worker` runs with, read from the code, not assumed."""
    from workers.settings import WorkerSettings

    return {
        "connections": settings.send_connections,
        "batch_size": settings.send_batch_size,
        "max_jobs": getattr(WorkerSettings, "max_jobs", 10),  # arq's default
        "poll_delay": getattr(WorkerSettings, "poll_delay", 0.5),  # arq's default
    }


def _loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return None


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    results = Results(
        command=command_line(argv),
        database=args.database,
        contacts=args.contacts,
        machine=report.machine(),
        code=report.code_version(REPO),
        started=clock.now(),
        skip_send=args.skip_send,
        loop=args.loop,
    )
    began = time.perf_counter()
    workers: list[Worker] = []
    with ExitStack() as stack:
        tmp = Path(tempfile.mkdtemp(prefix="consentry-bench-"))
        stack.callback(shutil.rmtree, tmp, True)
        if args.database == "sqlite":
            database_url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
        else:
            from tests.support.postgres import TemporaryPostgres

            postgres = TemporaryPostgres()
            stack.callback(postgres.stop)
            say("starting a throwaway PostgreSQL")
            database_url = postgres.start()
        upgrade(database_url)
        redis = EmbeddedRedis(tmp / "redis")
        stack.callback(redis.stop)
        redis_url = redis.start()
        sink = None
        if not args.skip_send:
            sink = SmtpSink(tmp / "smtp-sink.log")
            stack.callback(sink.stop)
            sink.start()
        stack.callback(_each, workers, Worker.stop)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONSENTRY_")}
        env.update(
            CONSENTRY_DATABASE_URL=database_url,
            CONSENTRY_REDIS_URL=redis_url,
            CONSENTRY_SMTP_HOST=HOST,
            CONSENTRY_SMTP_PORT=str(sink.port if sink else 25),
            CONSENTRY_SECRET_KEY=SECRET_KEY,
            CONSENTRY_DATA_KEY=DATA_KEY,
            CONSENTRY_MAIL_FROM=MAIL_FROM,
            CONSENTRY_FREQUENCY_CAP_MESSAGES="0",
            CONSENTRY_VAR_DIR=str(tmp / "var"),
        )
        settings = load_settings(env)
        results.worker = _worker_facts(settings)
        default_settings = load_settings(
            {k: v for k, v in env.items() if k != "CONSENTRY_FREQUENCY_CAP_MESSAGES"}
        )
        bench = Bench(
            args=args,
            tmp=tmp,
            database_url=database_url,
            redis_url=redis_url,
            sink=sink,
            env=env,
            settings=settings,
            default_settings=default_settings,
            results=results,
            workers=workers,
        )
        with asyncio.Runner(loop_factory=_loop_factory(args.loop)) as runner:
            runner.run(measure(bench))
    results.seconds = time.perf_counter() - began
    results.load_after = report.machine()["load"]
    section = render(results)
    print(section)
    if args.out is not None:
        report.write_section(args.out, f"campaign:{args.database}:{args.contacts}", section)
        say(f"wrote the section into {args.out}")


if __name__ == "__main__":
    main()
