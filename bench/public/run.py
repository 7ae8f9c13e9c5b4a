"""One API process count, measured: both apps served side by side, each route
right after its ceiling, then the events and the ledger accounted for."""

from __future__ import annotations

import argparse
import asyncio
import shlex
import subprocess
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from redis.asyncio import Redis

from bench.cli import say
from bench.procs import (
    stop_process,
)
from bench.public.accounting import (
    WHO,
    EventAccount,
    LedgerAccount,
    RepeatAccount,
    drain_all,
    ledger,
    machine_cpu,
    redis_cpu,
    sent_contacts,
    settle,
    stored_counts,
    stream_counts,
)
from bench.public.data import (
    LINKS,
    ONE_CLICK_BODY,
    REPEAT_COPIES,
    REPEAT_SECONDS,
    ROUTES,
    Paths,
    Population,
)
from bench.public.profile import PROFILE_RATE, Profile, summarise_profile
from bench.public.servers import APP, CEILING_APP, Server, probe
from bench.public.wrk import Load, WrkResult, run_wrk
from service.db import SessionMaker


@dataclass
class ProcessRun:
    processes: int
    campaign_id: int
    unsubscribers: int  # one-click tokens of this run (distinct contacts)
    results: dict[str, WrkResult] = field(default_factory=dict)
    accounts: list[EventAccount] = field(default_factory=list)
    ledger: LedgerAccount | None = None
    repeats: RepeatAccount | None = None
    probes: list[str] = field(default_factory=list)
    leftover: int = 0  # stream entries of other campaigns at accounting time


@dataclass
class Results:
    command: str
    contacts: int
    machine: dict[str, str]
    code: str
    started: datetime
    load: Load
    database: str = "sqlite"
    population: Population | None = None
    runs: list[ProcessRun] = field(default_factory=list)
    profiles: list[Profile] = field(default_factory=list)
    seconds: float = 0.0
    load_after: str = ""
    uvicorn: str = ""


@dataclass
class Bench:
    args: argparse.Namespace
    tmp: Path
    env: dict[str, str]
    load: Load
    runner: asyncio.Runner
    sessionmaker: SessionMaker
    redis: Redis
    results: Results
    stack: ExitStack
    py_spy: str | None = None

    def serve(self, app: str, processes: int) -> Server:
        name = "ceiling" if app == CEILING_APP else "service"
        server = Server(
            app, workers=processes, env=self.env, log=self.tmp / f"{name}-{processes}.log"
        )
        self.stack.callback(server.stop)
        server.start()
        return server

    def wrk(self, server: Server, key: str, paths: list[str], *, seconds: int) -> WrkResult:
        route = ROUTES[key]
        file = self.tmp / f"{key}.paths"
        file.write_text("\n".join(paths) + "\n")
        argv = self.load.argv(server.url, route.method, file, route.body, seconds)
        redis_before = self.runner.run(redis_cpu(self.redis))
        busy_before = machine_cpu()
        result = run_wrk(self.load, argv, server)
        busy_after = machine_cpu()
        result.redis_cpu = self.runner.run(redis_cpu(self.redis)) - redis_before
        total = busy_after[1] - busy_before[1]
        result.machine_busy = (busy_after[0] - busy_before[0]) / total if total else 0.0
        return result

    def warm_up(self, server: Server, key: str, warm: Paths) -> None:
        if self.load.warmup:
            self.wrk(server, key, warm.of(key), seconds=self.load.warmup)

    def measure(self, server: Server, key: str, paths: Paths, run_: ProcessRun) -> WrkResult:
        say(f"  {key}: {self.load.duration} s")
        result = self.wrk(server, key, paths.of(key), seconds=self.load.duration)
        run_.results[key] = result
        say(
            f"    {result.rate:,.0f} req/s, p99 {result.p99 * 1000:.1f} ms, "
            f"{result.error_count} errors"
        )
        return result

    def profile(self, server: Server, key: str, paths: Paths) -> Profile:
        """py-spy on the one API process while wrk loads it again (not measured)."""
        assert self.py_spy is not None
        assert server.proc is not None
        say(f"  {key}: {self.load.duration} s under py-spy")
        out = self.tmp / f"profile-{key}.txt"
        spy = subprocess.Popen(
            [
                *(self.py_spy, "record", "--pid", str(server.proc.pid), "--format", "raw"),
                *("--output", str(out), "--duration", str(self.load.duration)),
                *("--rate", str(PROFILE_RATE), "--gil", "--full-filenames", "--nolineno"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            result = self.wrk(server, key, paths.of(key), seconds=self.load.duration)
            _, errors = spy.communicate(timeout=self.load.duration + 30)
        finally:
            stop_process(spy, 5.0)
        if spy.returncode != 0 or not out.exists():
            raise RuntimeError(f"py-spy failed: {errors.decode(errors='replace')}")
        return summarise_profile(key, out.read_text(), result, PROFILE_RATE * self.load.duration)


def check_probes(server: Server, warm: Paths, *, ceiling: bool) -> list[str]:
    """One request per route before the load: the answers the contract promises."""
    if ceiling:
        expected = [
            ("GET", warm.of("ceiling-get")[0], None, 200),
            ("POST", warm.of("ceiling-post")[0], ONE_CLICK_BODY, 200),
        ]
    else:
        expected = [
            ("GET", warm.pixel[0], None, 200),
            ("GET", warm.click[0], None, 302),
            ("POST", warm.one_click[0], ONE_CLICK_BODY, 200),
            ("POST", warm.one_click[0], ONE_CLICK_BODY, 200),  # a repeat: 200 again
        ]
    problems = []
    for method, path, body, status in expected:
        got, headers = probe(server.url, method, path, body)
        shown = f"{method} /{path.split('/')[1]}/…"
        if got != status:
            problems.append(f"{shown} answered {got}, not {status}")
        elif status == 302 and headers.get("location") not in LINKS:
            problems.append(f"{shown} redirected to {headers.get('location')!r}")
        elif path.startswith("/t/o/") and headers.get("content-type") != "image/gif":
            problems.append(f"{shown} answered {headers.get('content-type')!r}")
    return problems


def run_processes(
    bench: Bench,
    processes: int,
    warm: Paths,
    paths: Paths,
    repeats: Paths,
    profile: Paths | None = None,
) -> ProcessRun:
    """Both apps served side by side (an idle one costs nothing), each route
    measured right after its ceiling, so that other work on the machine
    drifts as little as possible between the two."""
    run_ = ProcessRun(processes, paths.campaign_id, len(set(paths.one_click_contacts)))
    bench.results.runs.append(run_)
    say(f"{processes} API process{'es' if processes > 1 else ''}: starting both apps")
    ceiling = bench.serve(CEILING_APP, processes)
    service = bench.serve(APP, processes)
    bench.results.uvicorn = (
        shlex.join(ceiling.argv[2:])
        .replace(f"--port {ceiling.port}", "--port PORT")
        .replace(f"--workers {processes}", "--workers P")
    )
    run_.probes += check_probes(ceiling, warm, ceiling=True)
    run_.probes += check_probes(service, warm, ceiling=False)
    for server, key in ((ceiling, "ceiling-get"), (service, "pixel"), (service, "click")):
        bench.warm_up(server, key, warm)
    # The warm-ups' and probes' events are another campaign's: out of the way.
    bench.runner.run(settle(bench.redis))
    bench.runner.run(drain_all(bench.redis, bench.sessionmaker))
    for server, key in ((ceiling, "ceiling-get"), (service, "pixel"), (service, "click")):
        bench.measure(server, key, paths, run_)
    account_events(bench, run_)

    for server, key in ((ceiling, "ceiling-post"), (service, "one-click")):
        bench.warm_up(server, key, warm)
        bench.measure(server, key, paths, run_)
    say(f"  one-click, each token {REPEAT_COPIES} times at once: {REPEAT_SECONDS} s")
    repeated = [p for p in repeats.one_click for _ in range(REPEAT_COPIES)]
    repeat = bench.wrk(service, "one-click", repeated, seconds=REPEAT_SECONDS)
    if profile is not None:
        for key in ("pixel", "click", "one-click"):
            bench.results.profiles.append(bench.profile(service, key, profile))
    ceiling.stop()
    # uvicorn finishes the requests in flight before it exits.
    service.stop()
    account_ledger(bench, run_, paths, repeats, repeat)
    return run_


def account_events(bench: Bench, run_: ProcessRun) -> None:
    """The stream's entries of the run's campaign, then the rows drained from it."""
    population = bench.results.population
    assert population is not None
    tracked = set(population.tracked)
    bench.runner.run(settle(bench.redis))
    published = bench.runner.run(stream_counts(bench.redis, run_.campaign_id, tracked))
    run_.leftover = published["other"]
    say("  draining the stream into engagement_events")
    bench.runner.run(drain_all(bench.redis, bench.sessionmaker))
    stored = bench.runner.run(stored_counts(bench.sessionmaker, run_.campaign_id, tracked))
    for key, kind in (("pixel", "open"), ("click", "click")):
        run_.accounts.append(
            EventAccount(
                kind=kind,
                answered=run_.results[key].answered,
                published=sum(published[f"{kind}:{w}"] for w in WHO),
                tracked=published[f"{kind}:tracked"],
                untracked=published[f"{kind}:untracked"],
                aggregate=published[f"{kind}:aggregate"],
                stored=stored[f"{kind}:tracked"] + stored[f"{kind}:aggregate"],
                stored_untracked=stored[f"{kind}:untracked"],
                connections=bench.args.connections,
                abandoned=run_.results[key].abandoned,
            )
        )


def account_ledger(
    bench: Bench, run_: ProcessRun, paths: Paths, repeats: Paths, repeat: WrkResult
) -> None:
    """The one-click withdrawals in the ledger, for the run and for its repeats."""
    threads, connections = bench.args.threads, bench.args.connections
    result = run_.results["one-click"]
    rows, state_withdrawn = bench.runner.run(ledger(bench.sessionmaker, run_.campaign_id))
    sent, sure = sent_contacts(result, paths.one_click_contacts, threads, connections)
    withdrawn = set(rows)
    run_.ledger = LedgerAccount(
        answered=result.answered,
        sent_contacts=len(sent),
        sure_contacts=len(sure),
        events=rows.total(),
        withdrawn=len(withdrawn),
        state_withdrawn=state_withdrawn,
        duplicates=rows.total() - len(withdrawn),
        missing=len(sure - withdrawn),
        unexpected=len(withdrawn - sent) if result.issued else 0,
        errors=result.error_count,
    )
    repeat_rows, _ = bench.runner.run(ledger(bench.sessionmaker, repeats.campaign_id))
    contacts = [c for c in repeats.one_click_contacts for _ in range(REPEAT_COPIES)]
    repeat_sent, _ = sent_contacts(repeat, contacts, threads, connections)
    run_.repeats = RepeatAccount(
        copies=REPEAT_COPIES,
        seconds=REPEAT_SECONDS,
        result=repeat,
        contacts=len(repeat_sent),
        rows=Counter(repeat_rows.values()),
    )
    say(
        f"  repeats: {repeat.answered:,} answered, {run_.repeats.duplicates:,} duplicate "
        "withdrawals in the ledger"
    )
