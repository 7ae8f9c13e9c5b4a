"""The public-routes benchmark's command line: its options, the database, Redis
and servers it sets up and tears down, and the campaigns whose tokens each run sends."""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from types import FrameType

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from bench import report
from bench.cli import command_line, say
from bench.procs import (
    REPO,
    SECRET_KEY,
    find_tool,
    service_env,
)
from bench.public import __doc__ as package_doc
from bench.public.data import (
    REPEAT_CONTACTS,
    WARMUP_CONTACTS,
    Paths,
    build_paths,
    new_campaign,
    populate,
)
from bench.public.profile import PY_SPY_HINT
from bench.public.render import render
from bench.public.run import Bench, Results, run_processes
from bench.public.wrk import WRK_HINT, Load, lua_script
from service import clock
from service.db import SessionMaker, create_engine, create_sessionmaker
from service.embedded import EmbeddedRedis
from service.migrate import upgrade
from service.tokens import TokenSigner


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.public", description=(package_doc or "").split("\n\n")[0]
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (10)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument(
        "--processes", default="1,2", help="API process counts, one run each (default 1,2)"
    )
    parser.add_argument("--contacts", type=int, default=30_000, help="N (default 30000)")
    parser.add_argument(
        "--database",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="the service's database: SQLite (its default) or a throwaway PostgreSQL",
    )
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per route (2)")
    parser.add_argument("--timeout", type=int, default=5, help="wrk's request timeout, s (5)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="after the 1-process measurements, run each public route once more under "
        "py-spy (pip install py-spy) and report where the time goes",
    )
    parser.add_argument("--out", type=Path, default=None, help="Markdown file to update")
    args = parser.parse_args(argv)
    try:
        args.process_counts = [int(p) for p in str(args.processes).split(",") if p.strip()]
    except ValueError:
        parser.error("--processes: a comma-separated list of numbers, e.g. 1,2")
    if not args.process_counts or any(p < 1 or p > 16 for p in args.process_counts):
        parser.error("--processes: each count from 1 to 16")
    if not 1 <= args.duration <= 600:
        parser.error("--duration: from 1 to 600 seconds")
    if args.threads < 1 or args.connections < args.threads:
        parser.error("--connections: at least one per wrk thread")
    if args.warmup < 0 or args.timeout < 1:
        parser.error("--warmup: 0 or more; --timeout: at least 1")
    if args.contacts < 2_000:
        parser.error("--contacts: at least 2000")
    return args


async def _connect(database_url: str, redis_url: str) -> tuple[AsyncEngine, SessionMaker, Redis]:
    engine = create_engine(database_url)
    return engine, create_sessionmaker(engine), Redis.from_url(redis_url)


async def _close(engine: AsyncEngine, redis: Redis) -> None:
    await redis.aclose()
    await engine.dispose()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    # A SIGTERM stops everything as Ctrl-C does; by default it would end this
    # process at once and leave the servers, each in a session of its own.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        bench_main(args, argv)
    except KeyboardInterrupt:
        say("interrupted; everything the benchmark started is stopped")
        raise SystemExit(130) from None


def bench_main(args: argparse.Namespace, argv: list[str]) -> None:
    binary = find_tool("wrk", WRK_HINT)
    py_spy = None
    if args.profile:
        py_spy = shutil.which("py-spy") or shutil.which(
            "py-spy", path=str(Path(sys.executable).parent)
        )
        if py_spy is None:
            raise SystemExit(f"bench: {PY_SPY_HINT}")
    began = time.perf_counter()
    with ExitStack() as stack:
        tmp = Path(tempfile.mkdtemp(prefix="consentry-bench-public-"))
        stack.callback(shutil.rmtree, tmp, True)
        script = tmp / "rotate.lua"
        script.write_text(lua_script())
        load = Load(
            binary=binary,
            script=script,
            duration=args.duration,
            warmup=args.warmup,
            connections=args.connections,
            threads=args.threads,
            timeout=args.timeout,
        )
        results = Results(
            command=command_line("bench.public", argv),
            contacts=args.contacts,
            machine=report.machine(),
            code=report.code_version(REPO),
            started=clock.now(),
            load=load,
            database=args.database,
        )
        if args.database == "sqlite":
            database_url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
        else:
            from tests.support.postgres import TemporaryPostgres

            postgres = TemporaryPostgres()
            stack.callback(postgres.stop)
            database_url = postgres.start()
        upgrade(database_url)
        redis_server = EmbeddedRedis(tmp / "redis")
        stack.callback(redis_server.stop)
        redis_url = redis_server.start()
        env = service_env(database_url, redis_url, tmp / "var")
        runner = stack.enter_context(asyncio.Runner())
        engine, sessionmaker, redis = runner.run(_connect(database_url, redis_url))
        stack.callback(lambda: runner.run(_close(engine, redis)))
        bench = Bench(
            args, tmp, env, load, runner, sessionmaker, redis, results, stack, py_spy=py_spy
        )

        say(f"seeding {args.contacts:,} contacts")
        population = runner.run(populate(sessionmaker, engine, args))
        results.population = population
        signer = TokenSigner(SECRET_KEY)
        rng = random.Random(args.seed)
        # Each run's one-click tokens (and its warm-up's, and the profile's)
        # are contacts of its own: a withdrawal each, not a repeat.
        shuffled = rng.sample(population.granted, len(population.granted))
        runs = len(args.process_counts) + (1 if args.profile else 0)
        share = len(shuffled) // runs - WARMUP_CONTACTS - REPEAT_CONTACTS
        if share < 100:
            raise SystemExit("bench: too few contacts with email consent; raise --contacts")

        def slices(index: int) -> tuple[list[int], list[int], list[int]]:
            start = index * (WARMUP_CONTACTS + REPEAT_CONTACTS + share)
            cut = [start + WARMUP_CONTACTS, start + WARMUP_CONTACTS + REPEAT_CONTACTS]
            return (
                shuffled[start : cut[0]],
                shuffled[cut[0] : cut[1]],
                shuffled[cut[1] : cut[1] + share],
            )

        def campaign(name: str, contacts: list[int]) -> Paths:
            campaign_id = runner.run(new_campaign(sessionmaker, name))
            return build_paths(signer, campaign_id, population, contacts, rng)

        profile = campaign("profile", slices(runs - 1)[2]) if args.profile else None
        for index, processes in enumerate(args.process_counts):
            warm_contacts, repeat_contacts, mine = slices(index)
            warm = campaign(f"warm-up {processes}", warm_contacts)
            repeats = campaign(f"repeats {processes}", repeat_contacts)
            paths = campaign(f"{processes} API processes", mine)
            run_processes(
                bench, processes, warm, paths, repeats, profile if processes == 1 else None
            )
    results.seconds = time.perf_counter() - began
    results.load_after = report.machine()["load"]
    section = render(results)
    print(section)
    if args.out is not None:
        report.write_section(args.out, f"public:{args.database}", section)
        say(f"wrote the section into {args.out}")
