"""The campaign benchmark's command line: its options, the databases, Redis,
sink and settings it sets up and tears down, and the order of the
measurements."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench import campaign as package
from bench import report
from bench.campaign.audience import (
    measure_audience,
    measure_audience_after,
    measure_build,
    measure_plans,
)
from bench.campaign.context import MAIL_FROM, Bench
from bench.campaign.profile import measure_profile
from bench.campaign.references import measure_references
from bench.campaign.render import render
from bench.campaign.results import Results
from bench.campaign.runs import measure_sending
from bench.campaign.window import measure_window
from bench.cli import command_line, say
from bench.procs import DATA_KEY, REPO, SmtpSink, Worker, each, service_env
from bench.seed import seed
from service import clock
from service.db import create_engine, create_sessionmaker
from service.embedded import HOST, EmbeddedRedis
from service.migrate import upgrade
from service.settings import Settings, load_settings


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.campaign", description=(package.__doc__ or "").split("\n\n")[0]
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
        command=command_line("bench.campaign", argv),
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
        stack.callback(each, workers, Worker.stop)
        env = service_env(
            database_url,
            redis_url,
            tmp / "var",
            CONSENTRY_SMTP_HOST=HOST,
            CONSENTRY_SMTP_PORT=str(sink.port if sink else 25),
            CONSENTRY_MAIL_FROM=MAIL_FROM,
            CONSENTRY_FREQUENCY_CAP_MESSAGES="0",
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
