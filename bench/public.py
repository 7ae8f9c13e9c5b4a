"""The public-routes benchmark: one-click unsubscribe, open pixel and click under load.

    .venv/bin/python -m bench.public [--duration 10] [--connections 32] [--processes 1,2]
                                     [--contacts 30000] [--profile] [--out BENCHMARKS.md]

Needs wrk (``apt-get install -y wrk``); ``--profile`` also needs py-spy.

On a fresh SQLite database migrated with the real migrations and an embedded
Redis, it writes N contacts with bench/seed.py's consent mix and, for each API
process count, serves two apps side by side with uvicorn on 127.0.0.1, with
the same options (``--workers P``, uvloop, httptools, no access log), and
loads one at a time, each route right after its ceiling:

1. the ceiling: a minimal Litestar app (``create_ceiling_app``) with one GET
   route answering the pixel's bytes and one POST route reading a form, each
   at a path of the same shape as the public route it bounds;
2. the real app, ``service.app:create_app``: the open pixel
   (``GET /t/o/{token}.gif``), the click redirect (``GET /t/c/{token}``, not
   followed) and the one-click unsubscribe (``POST /u/{token}`` with
   ``List-Unsubscribe=One-Click``).

Each measurement is one wrk run of a fixed duration after a short warm-up
(another campaign's tokens, so it stays out of the accounting). A Lua script
walks a file of request paths, every request another signed token, each wrk
thread its own stride, and reports requests, latency percentiles, errors and
how many requests each thread sent. Then every event is accounted for:

* pixel and click: the Redis stream is counted by kind and by contact
  (tracked, not tracked, aggregate), ``events.drain`` stores it, and the rows
  stored are compared with what the consent gate lets be stored and with
  wrk's completed responses. A response wrk counted was published; at most
  one request per connection can have been published without wrk counting
  its response when the duration ran out;
* one-click: the ledger's withdrawals for the run's campaign against the
  contacts whose requests wrk sent, and those it surely completed (all but
  the last request of each connection);
* one-click repeats: other contacts' tokens, each sent several times at once
  (a provider's retry beside the person's own click), must answer 200 and
  leave one withdrawal per contact.

With ``--profile``, each public route runs once more on the 1-process server
under ``py-spy record --gil`` (not measured), and the section says where its
Python time goes.

No worker runs during the load (the stream is drained afterwards), so the
figures are the API process's alone. The target (issue 4): each public route
within 2x of the ceiling measured in the same run (requests/s at least half
of it, p99 at most twice it), no error under load, every event accounted for.

It prints a Markdown section and, with ``--out``, puts it into that file
(replacing its own earlier section). Everything it starts listens on
127.0.0.1 only and is stopped before it exits, also on an error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import random
import re
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

from litestar import Litestar, Request, Response, get, post
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from bench import report
from bench.procs import REPO, find_tool, stop_process, usage, wait_port
from bench.seed import SeedStats, seed
from service import clock
from service.campaigns import service as campaigns
from service.campaigns.schemas import CampaignCreate
from service.consent.queries import Gate, GateContext
from service.db import SessionMaker, create_engine, create_sessionmaker, run, session_scope
from service.embedded import HOST, EmbeddedRedis, free_port
from service.migrate import upgrade
from service.models import ConsentEvent, ConsentState, Contact, EngagementEvent
from service.models.engagement import EngagementKind
from service.models.enums import (
    CampaignStatus,
    CaptureMethod,
    Channel,
    ConsentAction,
    Purpose,
)
from service.tokens import TokenSigner
from service.tracking import events
from service.tracking.public import PIXEL

WRK_HINT = "wrk not found; install it (Debian, Ubuntu): apt-get install -y wrk"
SECRET_KEY = "bench-secret-key-" + "s" * 32
DATA_KEY = "bench-data-key-" + "d" * 32
APP = "service.app:create_app"
CEILING_APP = "bench.public:create_ceiling_app"
UVICORN_OPTIONS = ("--loop", "uvloop", "--http", "httptools", "--no-access-log")
ONE_CLICK_BODY = "List-Unsubscribe=One-Click"
LINKS = ("https://example.fi/kevat", "https://example.fi/kurssit")
# What opens and clicks arrive with: mail clients, webmail image proxies and
# browsers. Few distinct agents, as in a real campaign (the service caches
# their parse).
USER_AGENTS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)",
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17726; Pro)",
)
UNTRACKED_SHARE = 0.1  # pixel requests of people who do not (or no longer) allow tracking
AGGREGATE_SHARE = 0.3  # click requests on links that carry no contact
WARMUP_CONTACTS = 500  # one-click tokens set aside for the warm-ups and probes
REPEAT_CONTACTS = 300  # one-click tokens for the concurrent repeats
REPEAT_COPIES = 8
REPEAT_SECONDS = 3
TARGET = 2.0
STREAM_PAGE = 10_000
START_TIMEOUT = 60.0


# -- the ceiling ----------------------------------------------------------------


def create_ceiling_app() -> Litestar:
    """The ceiling: the least a Litestar route does in each public route's shape.

    Served by uvicorn (``--factory bench.public:create_ceiling_app``) with the
    same options as the service, so the gap between the two is the service's
    own work: token checks, Redis, the database, pages.
    """

    @get("/ceiling/{token:str}")
    async def ceiling_get(token: str) -> Response[bytes]:
        return Response(PIXEL, media_type="image/gif")

    @post("/ceiling/{token:str}", status_code=200)
    async def ceiling_post(request: Request[Any, Any, Any], token: str) -> Response[bytes]:
        form = await request.form()
        if form.get("List-Unsubscribe") != "One-Click":
            return Response(b"bad form", status_code=400, media_type="text/plain")
        return Response(b"done", media_type="text/plain")

    return Litestar(route_handlers=[ceiling_get, ceiling_post], debug=False)


# -- wrk ------------------------------------------------------------------------

# Arguments after wrk's `--`: method, file of paths, thread count, body ("" for
# none). Every request is formatted once, in init(); thread k sends paths k,
# k+T, k+2T … (wrapping), so the requests each thread sent say which tokens
# were used. done() prints one JSON line.
LUA = r"""
local threads = {}
local started = 0

function setup(thread)
  thread:set("tid", started)
  started = started + 1
  table.insert(threads, thread)
end

local built = {}
local n = 0
local pos = 0
local step = 1
issued = 0

function init(args)
  local method, file, body = args[1], args[2], args[4]
  step = tonumber(args[3])
  if body == nil or body == "" then body = nil end
  local agents = {@AGENTS@}
  for line in io.lines(file) do
    local headers = {["User-Agent"] = agents[n % #agents + 1]}
    if body then headers["Content-Type"] = "application/x-www-form-urlencoded" end
    n = n + 1
    built[n] = wrk.format(method, line, headers, body)
  end
  pos = tid
end

function request()
  local r = built[pos % n + 1]
  pos = pos + step
  issued = issued + 1
  return r
end

function done(summary, latency, requests)
  local sent = {}
  for _, t in ipairs(threads) do
    sent[t:get("tid") + 1] = t:get("issued")
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"timeout": %d, "status": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "mean_us": %.1f, "issued": [%s]}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, table.concat(sent, ", ")))
end
"""

_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_TIME = r"([\d.]+)(us|ms|s|m|h)"


def lua_script() -> str:
    agents = ", ".join(f"[[{agent}]]" for agent in USER_AGENTS)
    return LUA.replace("@AGENTS@", agents)


@dataclass
class WrkResult:
    requests: int  # completed responses, any status
    seconds: float
    p50: float  # seconds
    p90: float
    p99: float
    max: float
    mean: float
    errors: dict[str, int]  # connect, read, write, timeout (socket errors); status (not 2xx/3xx)
    issued: list[int]  # requests each thread sent
    server_cpu: float = 0.0  # CPU seconds of the server's processes during the run
    wrk_cpu: float = 0.0
    redis_cpu: float = 0.0
    machine_busy: float = 0.0  # share of all CPUs' time not idle, anyone's work

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def abandoned(self) -> int:
        """Requests wrk stopped waiting for (socket errors); the server may have done them."""
        return sum(n for name, n in self.errors.items() if name != "status")

    @property
    def answered(self) -> int:
        """Completed with a 2xx or 3xx status."""
        return self.requests - self.errors.get("status", 0)


def parse_wrk(output: str) -> WrkResult:
    """The done() line; failing that, wrk's own summary (with ``--latency``)."""
    for line in output.splitlines():
        if line.startswith("WRK_JSON "):
            data = json.loads(line.removeprefix("WRK_JSON "))
            return WrkResult(
                requests=int(data["requests"]),
                seconds=data["duration_us"] / 1e6,
                p50=data["p50_us"] / 1e6,
                p90=data["p90_us"] / 1e6,
                p99=data["p99_us"] / 1e6,
                max=data["max_us"] / 1e6,
                mean=data["mean_us"] / 1e6,
                errors={k: int(data[k]) for k in ("connect", "read", "write", "timeout", "status")},
                issued=[int(i) for i in data["issued"]],
            )
    return _parse_wrk_text(output)


def _seconds(value: str, unit: str) -> float:
    return float(value) * _UNITS[unit]


def _parse_wrk_text(output: str) -> WrkResult:
    done = re.search(r"(\d+) requests in " + _TIME, output)
    if done is None:
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    percentiles = {
        p: _seconds(v, u) for p, v, u in re.findall(r"^\s+(\d+)%\s+" + _TIME, output, re.M)
    }
    latency = re.search(r"Latency\s+" + _TIME + r"\s+\S+\s+" + _TIME, output)
    errors = dict.fromkeys(("connect", "read", "write", "timeout", "status"), 0)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if socket_errors:
        for name, value in zip(
            ("connect", "read", "write", "timeout"), socket_errors.groups(), strict=True
        ):
            errors[name] = int(value)
    status = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if status:
        errors["status"] = int(status.group(1))
    nan = float("nan")
    return WrkResult(
        requests=int(done.group(1)),
        seconds=_seconds(done.group(2), done.group(3)),
        p50=percentiles.get("50", nan),
        p90=percentiles.get("90", nan),
        p99=percentiles.get("99", nan),
        max=_seconds(latency.group(3), latency.group(4)) if latency else nan,
        mean=_seconds(latency.group(1), latency.group(2)) if latency else nan,
        errors=errors,
        issued=[],
    )


@dataclass(frozen=True)
class Load:
    """How wrk is run: the same for every route."""

    binary: str
    script: Path
    duration: int
    warmup: int
    connections: int
    threads: int
    timeout: int

    def argv(self, url: str, method: str, paths: Path, body: str | None, seconds: int) -> list[str]:
        return [
            self.binary,
            *("-t", str(self.threads), "-c", str(self.connections), "-d", f"{seconds}s"),
            *("--timeout", f"{self.timeout}s", "--latency", "-s", str(self.script), url),
            *("--", method, str(paths), str(self.threads), body or ""),
        ]

    def shown(self) -> str:
        return (
            f"wrk -t{self.threads} -c{self.connections} -d{self.duration}s "
            f"--timeout {self.timeout}s --latency -s rotate.lua"
        )


def run_wrk(load: Load, argv: list[str], server: Server) -> WrkResult:
    cpu_before = server.cpu()
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        output, _ = proc.communicate(timeout=load.duration + load.warmup + 60)
    finally:
        stop_process(proc, 5.0)
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    text = output.decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"wrk exited with {proc.returncode}:\n{text}")
    result = parse_wrk(text)
    result.server_cpu = server.cpu() - cpu_before
    result.wrk_cpu = (children_after.ru_utime + children_after.ru_stime) - (
        children_before.ru_utime + children_before.ru_stime
    )
    return result


# -- the servers ----------------------------------------------------------------


class Server:
    """``uvicorn --factory APP --workers P`` on 127.0.0.1, in its own session."""

    def __init__(self, app: str, *, workers: int, env: dict[str, str], log: Path) -> None:
        self.app = app
        self.workers = workers
        self.env = env
        self.log = log
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._children: list[int] = []

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def argv(self) -> list[str]:
        return [
            *(sys.executable, "-m", "uvicorn", "--factory", self.app),
            *("--host", HOST, "--port", str(self.port), "--workers", str(self.workers)),
            *UVICORN_OPTIONS,
        ]

    def start(self) -> None:
        self.port = free_port()
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_port(self.proc, self.port, f"uvicorn {self.app}", timeout=START_TIMEOUT)
        # The port opens before the workers have run the app's start-up.
        deadline = time.monotonic() + START_TIMEOUT
        while self.log.read_bytes().count(b"Application startup complete") < self.workers:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn {self.app} did not start:\n{self.tail()}")
            time.sleep(0.05)
        self._children = _descendants(self.proc.pid)

    def pids(self) -> list[int]:
        return [self.proc.pid, *self._children] if self.proc is not None else []

    def cpu(self) -> float:
        total = 0.0
        for pid in self.pids():
            with suppress(OSError, KeyError, IndexError, ValueError):
                total += usage(pid).cpu_seconds
        return total

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        stop_process(proc)
        # uvicorn's supervisor stops its workers; any it left behind go by pid.
        for pid in self._children:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            children = [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
        for child in children:
            found += [child, *_descendants(child)]
    return found


def probe(url: str, method: str, path: str, body: str | None = None) -> tuple[int, dict[str, str]]:
    """One request, for the status and headers a route answers with."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        headers = {"User-Agent": USER_AGENTS[0]}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}
    finally:
        connection.close()


# -- options --------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.public", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (10)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument(
        "--processes", default="1,2", help="API process counts, one run each (default 1,2)"
    )
    parser.add_argument("--contacts", type=int, default=30_000, help="N (default 30000)")
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


def command_line(argv: Sequence[str]) -> str:
    python = Path(sys.executable)
    try:
        shown = str(python.relative_to(Path.cwd()))
    except ValueError:
        shown = str(python)
    return shlex.join([shown, "-m", "bench.public", *argv])


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- data -----------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    key: str
    label: str
    method: str
    body: str | None
    ceiling: str | None  # the key of the ceiling route it is held against


ROUTES = {
    r.key: r
    for r in (
        Route("ceiling-get", "ceiling GET `/ceiling/{token}`", "GET", None, None),
        Route(
            "ceiling-post", "ceiling POST `/ceiling/{token}` (form)", "POST", ONE_CLICK_BODY, None
        ),
        Route("pixel", "open pixel GET `/t/o/{token}.gif`", "GET", None, "ceiling-get"),
        Route("click", "click GET `/t/c/{token}` (302)", "GET", None, "ceiling-get"),
        Route("one-click", "one-click POST `/u/{token}`", "POST", ONE_CLICK_BODY, "ceiling-post"),
    )
}


@dataclass
class Paths:
    """Request paths of one campaign, in the order wrk walks them."""

    pixel: list[str]
    click: list[str]
    one_click: list[str]
    one_click_contacts: list[int]  # the contact of each one_click path
    campaign_id: int

    def of(self, key: str) -> list[str]:
        if key == "ceiling-get":
            return [p.replace("/t/o/", "/ceiling/", 1) for p in self.pixel]
        if key == "ceiling-post":
            return [p.replace("/u/", "/ceiling/", 1) for p in self.one_click]
        return {"pixel": self.pixel, "click": self.click, "one-click": self.one_click}[key]


@dataclass
class Population:
    tracked: list[int]  # the gate lets their opens and clicks be stored
    untracked: list[int]  # an email address, but no tracking
    granted: list[int]  # email direct-marketing consent granted
    seed: SeedStats


async def populate(
    sessionmaker: SessionMaker, engine: AsyncEngine, args: argparse.Namespace
) -> Population:
    stats = await seed(
        engine, args.contacts, seed=args.seed, data_key=DATA_KEY, send_contacts=0, small_contacts=0
    )
    gate = Gate(
        GateContext(channel=Channel.EMAIL, purpose=Purpose.EMAIL_TRACKING, today=clock.today())
    )
    async with session_scope(sessionmaker) as session:
        tracked = (
            await run(
                session,
                select(col(Contact.id))
                .select_from(gate.source)
                .where(gate.eligible())
                .order_by(col(Contact.id)),
            )
        ).scalars()
        tracked_ids = list(tracked)
        with_email = (
            await run(
                session,
                select(col(Contact.id))
                .where(col(Contact.email).is_not(None))
                .order_by(col(Contact.id)),
            )
        ).scalars()
        granted = (
            await run(
                session,
                select(col(ConsentState.contact_id))
                .where(
                    col(ConsentState.channel) == Channel.EMAIL.value,
                    col(ConsentState.purpose) == Purpose.DIRECT_MARKETING.value,
                    col(ConsentState.action) == ConsentAction.GRANT.value,
                )
                .order_by(col(ConsentState.contact_id)),
            )
        ).scalars()
        kept = set(tracked_ids)
        return Population(
            tracked=tracked_ids,
            untracked=[c for c in with_email if c not in kept],
            granted=list(granted),
            seed=stats,
        )


async def new_campaign(sessionmaker: SessionMaker, name: str) -> int:
    """A sent email campaign whose body holds the links a click may lead to."""
    body_html = "<p>Hei {{ contact.name }}!</p>\n" + "\n".join(
        f'<p><a href="{link}">{link}</a></p>' for link in LINKS
    )
    data = CampaignCreate.model_validate(
        {
            "name": name,
            "channel": "email",
            "subject": "Kevään kurssit",
            "body_html": body_html,
            "body_text": "Hei {{ contact.name }}!\n\n" + "\n".join(LINKS),
        }
    )
    async with session_scope(sessionmaker) as session:
        campaign = await campaigns.create(session, data=data, user_id=None)
        campaign.status = CampaignStatus.DONE
        now = clock.now()
        campaign.list_built_at = campaign.started_at = campaign.finished_at = now
        session.add(campaign)
        await session.flush()
        assert campaign.id is not None
        return campaign.id


def build_paths(
    signer: TokenSigner,
    campaign_id: int,
    population: Population,
    unsubscribers: list[int],
    rng: random.Random,
) -> Paths:
    tracked, untracked = population.tracked, population.untracked
    opens = [f"/t/o/{signer.sign('open', c, campaign_id)}.gif" for c in tracked]
    others = rng.sample(untracked, min(len(untracked), int(len(opens) * UNTRACKED_SHARE)))
    opens += [f"/t/o/{signer.sign('open', c, campaign_id)}.gif" for c in others]
    rng.shuffle(opens)
    clicks = [
        f"/t/c/{signer.sign('click', c, campaign_id, i)}"
        for c in tracked
        for i in range(len(LINKS))
    ]
    clicks += [
        f"/t/c/{signer.sign('click', 0, campaign_id, i % len(LINKS))}"
        for i in range(int(len(clicks) * AGGREGATE_SHARE))
    ]
    rng.shuffle(clicks)
    one_click = [f"/u/{signer.sign('unsubscribe', c, campaign_id)}" for c in unsubscribers]
    return Paths(opens, clicks, one_click, list(unsubscribers), campaign_id)


# -- accounting -----------------------------------------------------------------


@dataclass
class EventAccount:
    kind: str
    answered: int  # wrk: completed with 2xx/3xx
    published: int  # entries of this campaign and kind in the stream
    tracked: int
    untracked: int
    aggregate: int
    stored: int
    stored_untracked: int  # rows of contacts the gate does not let be tracked: must be 0
    connections: int
    # Requests wrk gave up on (timeouts, read errors): the server may still
    # have answered and published them.
    abandoned: int

    @property
    def bound(self) -> int:
        """The most requests that can have been published without wrk counting them."""
        return self.connections + self.abandoned

    @property
    def storable(self) -> int:
        return self.tracked + self.aggregate

    @property
    def in_flight(self) -> int:
        return self.published - self.answered

    @property
    def ok(self) -> bool:
        return (
            self.stored == self.storable
            and self.stored_untracked == 0
            and 0 <= self.in_flight <= self.bound
        )


@dataclass
class LedgerAccount:
    answered: int
    sent_contacts: int  # distinct contacts whose requests wrk sent
    sure_contacts: int  # distinct contacts of requests surely completed
    events: int  # one-click withdrawals in the ledger for this campaign
    withdrawn: int  # distinct contacts of those
    state_withdrawn: int  # of those, with the current state a withdrawal
    duplicates: int  # rows beyond the first for a contact
    missing: int  # surely completed, yet no withdrawal
    unexpected: int  # a withdrawal without a request sent
    errors: int

    @property
    def ok(self) -> bool:
        return (
            self.events == self.withdrawn == self.state_withdrawn
            and self.duplicates == 0
            and self.unexpected == 0
            and (self.missing == 0 or self.errors > 0)
        )


@dataclass
class RepeatAccount:
    """The same one-click token POSTed several times at once (a mail provider's
    retry, the person's own click): each must answer 200 and record one
    withdrawal at most."""

    copies: int
    seconds: int
    result: WrkResult
    contacts: int  # distinct contacts whose requests wrk sent
    rows: Counter[int]  # contacts by the number of ledger rows they got

    @property
    def duplicates(self) -> int:
        return sum((rows - 1) * n for rows, n in self.rows.items() if rows > 1)

    @property
    def ok(self) -> bool:
        return self.duplicates == 0 and self.result.error_count == 0


async def redis_cpu(redis: Redis) -> float:
    """CPU seconds the Redis server has used (its own count)."""
    info = await redis.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def machine_cpu() -> tuple[int, int]:
    """(busy, total) CPU time of the whole machine so far, in clock ticks."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already in user
    return total - idle, total


async def settle(redis: Redis) -> None:
    """Until the stream stops growing: requests in flight when wrk stopped."""
    last, stable = -1, 0
    while stable < 3:
        now = await redis.xlen(events.STREAM)
        stable = stable + 1 if now == last else 0
        last = now
        await asyncio.sleep(0.1)


async def stream_counts(redis: Redis, campaign_id: int, tracked: set[int]) -> Counter[str]:
    """Entries of the campaign in the stream, by ``kind:tracked|untracked|aggregate``."""
    counts: Counter[str] = Counter()
    start = "-"
    while True:
        page = await redis.xrange(events.STREAM, min=start, max="+", count=STREAM_PAGE)
        if not page:
            return counts
        for _entry_id, raw in page:
            fields = {k.decode(): v.decode() for k, v in raw.items()}
            if fields.get("campaign_id") != str(campaign_id):
                counts["other"] += 1
                continue
            contact = fields.get("contact_id")
            who = (
                "aggregate"
                if contact is None
                else "tracked"
                if int(contact) in tracked
                else "untracked"
            )
            counts[f"{fields['kind']}:{who}"] += 1
        start = "(" + page[-1][0].decode()


async def drain_all(redis: Redis, sessionmaker: SessionMaker) -> int:
    return await events.drain(redis, sessionmaker, consumer="bench-public")


async def stored_counts(
    sessionmaker: SessionMaker, campaign_id: int, tracked: set[int]
) -> Counter[str]:
    counts: Counter[str] = Counter()
    async with session_scope(sessionmaker) as session:
        rows = await run(
            session,
            select(col(EngagementEvent.kind), col(EngagementEvent.contact_id), func.count())
            .where(col(EngagementEvent.campaign_id) == campaign_id)
            .group_by(col(EngagementEvent.kind), col(EngagementEvent.contact_id)),
        )
        for kind, contact, n in rows.all():
            who = (
                "aggregate" if contact is None else "tracked" if contact in tracked else "untracked"
            )
            counts[f"{EngagementKind(kind).value}:{who}"] += int(n)
    return counts


async def ledger(sessionmaker: SessionMaker, campaign_id: int) -> tuple[Counter[int], int]:
    """One-click withdrawals of the campaign: rows per contact, and how many of
    those contacts have the withdrawal as their current state."""
    async with session_scope(sessionmaker) as session:
        contacts = list(
            (
                await run(
                    session,
                    select(col(ConsentEvent.contact_id)).where(
                        col(ConsentEvent.campaign_id) == campaign_id,
                        col(ConsentEvent.method) == CaptureMethod.ONE_CLICK.value,
                        col(ConsentEvent.action) == ConsentAction.WITHDRAW.value,
                        col(ConsentEvent.channel) == Channel.EMAIL.value,
                        col(ConsentEvent.purpose) == Purpose.DIRECT_MARKETING.value,
                    ),
                )
            ).scalars()
        )
        withdrawn = (
            await run(
                session,
                select(func.count())
                .select_from(ConsentState)
                .join(ConsentEvent, col(ConsentEvent.id) == col(ConsentState.event_id))
                .where(
                    col(ConsentEvent.campaign_id) == campaign_id,
                    col(ConsentEvent.method) == CaptureMethod.ONE_CLICK.value,
                    col(ConsentState.channel) == Channel.EMAIL.value,
                    col(ConsentState.purpose) == Purpose.DIRECT_MARKETING.value,
                    col(ConsentState.action) == ConsentAction.WITHDRAW.value,
                ),
            )
        ).scalar_one()
    return Counter(contacts), int(withdrawn)


def sent_contacts(
    result: WrkResult, contacts: list[int], threads: int, connections: int
) -> tuple[set[int], set[int]]:
    """Contacts whose requests wrk sent, and those whose requests surely completed.

    Thread k took paths k, k+T, … (see LUA). wrk 4 calls request() once on
    the first thread before the run, to check the request, and never sends
    that one: thread 0's first path. Each connection has at most one request
    outstanding, so all but a thread's last ``connections / T`` requests were
    answered (or counted as errors)."""
    sent: set[int] = set()
    sure: set[int] = set()
    per_thread = connections // threads
    n = len(contacts)
    for k, issued in enumerate(result.issued):
        for j in range(1 if k == 0 else 0, issued):
            contact = contacts[(k + j * threads) % n]
            sent.add(contact)
            if j < issued - per_thread:
                sure.add(contact)
    return sent, sure


# -- profiles -------------------------------------------------------------------

PROFILE_RATE = 200
PY_SPY_HINT = "py-spy not found; for --profile: .venv/bin/pip install py-spy"
# Libraries the service calls: a sample counts for each one on its stack.
LIBRARIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("redis client", ("/redis/",)),
    ("SQLAlchemy", ("/sqlalchemy/",)),
    ("aiosqlite", ("/aiosqlite/",)),
    ("Jinja2", ("/jinja2/",)),
    ("pydantic", ("/pydantic/", "/pydantic_core/")),
    ("ipaddress", ("/ipaddress.py",)),
)
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*)\)$")
_STDLIB = re.compile(r"/lib/python3\.\d+/(?P<module>[^/]+?)(?:\.py)?(?:/|$)")
NO_FRAME = "(no Python frame: a greenlet switch or C code)"


@dataclass
class Profile:
    route: str
    samples: int
    busy: float  # share of the time a thread held the GIL
    rate: float  # req/s while profiled
    packages: list[tuple[str, float]]  # own time, by the package of the running function
    functions: list[tuple[str, float]]  # the service's functions, inclusive
    libraries: list[tuple[str, float]]  # inclusive


def _package(file: str) -> str:
    if "site-packages/" in file:
        return file.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if f"{REPO}/" in file:
        return file.split(f"{REPO}/", 1)[1].split("/", 1)[0]
    if stdlib := _STDLIB.search(file):
        return stdlib.group("module")
    return file.removeprefix("<frozen ").removesuffix(">") or "?"


def summarise_profile(route: str, raw: str, result: WrkResult, possible: int) -> Profile:
    """py-spy's raw (collapsed) stacks: ``root;…;leaf COUNT`` per line.

    Recorded with ``--gil``: a sample is taken only while a thread holds the
    GIL, so ``samples / possible`` is how busy the interpreter was. Code run
    in SQLAlchemy's greenlets shows as stacks of their own, and a switch
    between them as an empty stack."""
    samples = 0
    packages: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    libraries: Counter[str] = Counter()
    service = f"{REPO}/service/"
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        samples += n
        frames = [m for f in stack.split(";") if (m := _FRAME.match(f))]
        if not frames:
            packages[NO_FRAME] += n
            continue
        packages[_package(frames[-1].group("file"))] += n
        ours = {
            f"{m.group('function')} ({m.group('file').removeprefix(f'{REPO}/')})"
            for m in frames
            if m.group("file").startswith(service)
        }
        for name in ours:
            functions[name] += n
        files = {m.group("file") for m in frames}
        for name, markers in LIBRARIES:
            if any(marker in file for file in files for marker in markers):
                libraries[name] += n
    share = 1 / samples if samples else 0.0
    return Profile(
        route=route,
        samples=samples,
        busy=samples / possible if possible else 0.0,
        rate=result.rate,
        packages=[(name, k * share) for name, k in packages.most_common(8)],
        functions=[(name, k * share) for name, k in functions.most_common(8)],
        libraries=[(name, k * share) for name, k in libraries.most_common()],
    )


# -- the run --------------------------------------------------------------------


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


WHO = ("tracked", "untracked", "aggregate")


# -- the report -----------------------------------------------------------------


def _ms(value: float) -> str:
    return f"{value * 1000:.1f} ms" if value == value else "?"


def _errors(result: WrkResult) -> str:
    parts = [f"{name} {n:,}" for name, n in result.errors.items() if n]
    return ", ".join(parts) if parts else "0"


def _cpu(result: WrkResult) -> str:
    if not result.seconds:
        return "?"
    shares = (result.server_cpu, result.redis_cpu, result.wrk_cpu)
    return " / ".join(f"{100 * cpu / result.seconds:.0f} %" for cpu in shares)


def verdicts(run_: ProcessRun) -> dict[str, tuple[float, float, bool]]:
    """Per public route: (ceiling req/s ÷ route req/s, route p99 ÷ ceiling p99, within 2x)."""
    out = {}
    for key, result in run_.results.items():
        ceiling_key = ROUTES[key].ceiling
        if ceiling_key is None or ceiling_key not in run_.results:
            continue
        ceiling = run_.results[ceiling_key]
        rate = ceiling.rate / result.rate if result.rate else float("inf")
        p99 = result.p99 / ceiling.p99 if ceiling.p99 else float("inf")
        out[key] = (rate, p99, rate <= TARGET and p99 <= TARGET)
    return out


def render(results: Results) -> str:
    m, load, population = results.machine, results.load, results.population
    assert population is not None
    lines = [
        "## Public routes benchmark: one-click unsubscribe, open pixel, click (SQLite)",
        "",
        "The public routes under load from wrk on 127.0.0.1, each next to a minimal Litestar "
        "route measured in the same run (the ceiling), then every event accounted for in the "
        "database (`bench/public.py`).",
        "",
        f"Command: `{results.command}`",
        "",
        f"Code measured: {results.code}.",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory']} RAM, Python {m['python']}, "
        f"Linux {m['kernel']}. Run {results.started:%Y-%m-%d %H:%M} UTC, "
        f"{results.seconds / 60:.1f} min in all. Load average (1, 5, 15 min) before the run "
        f"{m['load']}, after {results.load_after} (other work on the machine shows here). "
        "wrk, the API processes and Redis share these CPUs.",
        "",
        f"Data: {results.contacts:,} contacts (bench/seed.py's mix), written in "
        f"{population.seed.seconds:.1f} s: {len(population.tracked):,} whose opens and clicks "
        f"the gate lets be stored (email tracking granted, nothing excluding them), "
        f"{len(population.untracked):,} others with an address, "
        f"{len(population.granted):,} with email marketing consent granted. Each process "
        "count gets a campaign of its own (sent, two links in its body). Its pixel tokens: "
        f"every tracked contact once, plus {UNTRACKED_SHARE:.0%} more of people not tracked; "
        f"its click tokens: every tracked contact on each link, plus {AGGREGATE_SHARE:.0%} "
        "more on links without a contact (sent to people not tracked); its one-click tokens: "
        "contacts with email consent granted, a share of its own (a withdrawal each, until "
        "wrk wraps around and repeats them).",
        "",
        f"Servers: `{results.uvicorn}` for the ceiling (`bench.public:create_ceiling_app`) and "
        f"the same with `{APP}` for the service, which runs with its default settings "
        "(SQLite with WAL, the engagement stream in an embedded Redis with an AOF). Both run "
        "side by side and wrk loads one route at a time, each right after its ceiling. Load: "
        f"`{load.shown()}` (a Lua script walks the tokens, each thread its own stride), after "
        f"a {load.warmup} s warm-up per route on another campaign's tokens. p50 and p99 are "
        "wrk's latency per request. No worker runs during the load: the stream is drained "
        "afterwards. Target: each route within 2x of the ceiling of its method (requests/s at "
        "least half of it, p99 at most double), no error, every event accounted for.",
    ]
    for run_ in results.runs:
        name = f"{run_.processes} API process{'es' if run_.processes > 1 else ''}"
        checks = verdicts(run_)
        rows = []
        for key in ("ceiling-get", "pixel", "click", "ceiling-post", "one-click"):
            result = run_.results.get(key)
            if result is None:
                continue
            if key in checks:
                rate, p99, within = checks[key]
                tail = [
                    f"{rate:.2f}x",
                    f"{p99:.2f}x",
                    "**yes**" if within and not result.error_count else "**no**",
                ]
            else:
                tail = ["-", "-", "-"]
            rows.append(
                [
                    ROUTES[key].label,
                    report.num(result.requests),
                    f"**{report.num(result.rate)}**",
                    _ms(result.p50),
                    f"**{_ms(result.p99)}**",
                    _ms(result.max),
                    _errors(result),
                    _cpu(result),
                    f"{result.machine_busy:.0%}",
                    *tail,
                ]
            )
        lines += [
            "",
            f"### {name}",
            "",
            report.table(
                [
                    "route",
                    "requests",
                    "req/s",
                    "p50",
                    "p99",
                    "max",
                    "errors",
                    "CPU: server / Redis / wrk (one core = 100 %)",
                    "machine busy",
                    "ceiling req/s ÷ req/s",
                    "p99 ÷ ceiling p99",
                    "within 2x, no error",
                ],
                rows,
            ),
        ]
        if run_.probes:
            lines += ["", "Probes before the load: " + "; ".join(run_.probes) + "."]
        rows = []
        for account in run_.accounts:
            rows.append(
                [
                    account.kind,
                    report.num(account.answered),
                    report.num(account.published),
                    f"{account.in_flight:+,}",
                    f"{account.tracked:,} / {account.untracked:,} / {account.aggregate:,}",
                    report.num(account.storable),
                    report.num(account.stored),
                    report.num(account.stored_untracked),
                    "yes" if account.ok else "**no**",
                ]
            )
        lines += [
            "",
            "Events: wrk's answered requests (2xx/3xx), the campaign's entries in the stream, "
            "and the rows `events.drain` stored. Published - answered is the requests in "
            f"flight when wrk stopped: 0 to {results.load.connections} (one per connection), "
            "plus any wrk gave up on (timeouts, read errors), which the server may still have "
            "answered.",
            "",
            report.table(
                [
                    "kind",
                    "answered",
                    "published",
                    "published - answered",
                    "tracked / not tracked / aggregate",
                    "storable",
                    "stored",
                    "stored, not tracked",
                    "accounted for",
                ],
                rows,
            ),
        ]
        if run_.leftover:
            lines.append(f"Other campaigns' entries left in the stream: {run_.leftover:,}.")
        ledger_ = run_.ledger
        if ledger_ is not None:
            lines += [
                "",
                f"One-click: {ledger_.answered:,} answered with 2xx/3xx; wrk sent requests for "
                f"{ledger_.sent_contacts:,} distinct contacts "
                f"(of the run's {run_.unsubscribers:,}), "
                f"{ledger_.sure_contacts:,} of them surely completed. The ledger holds "
                f"{ledger_.events:,} one-click withdrawals of this campaign for "
                f"{ledger_.withdrawn:,} contacts ({ledger_.duplicates:,} duplicates), now "
                f"withdrawn: {ledger_.state_withdrawn:,}; surely completed but not withdrawn: "
                f"{ledger_.missing:,}; withdrawn without a request: {ledger_.unexpected:,}. "
                "Accounted for: " + ("yes." if ledger_.ok else "**no**."),
            ]
            if ledger_.answered + ledger_.errors > run_.unsubscribers:
                lines.append(
                    "wrk went through all of the run's tokens and repeated some: a repeat "
                    "answers 200 without writing, so the req/s above flatters the write path."
                )
        repeats = run_.repeats
        if repeats is not None:
            r = repeats.result
            spread = ", ".join(
                f"{n:,} with {rows} row{'s' if rows > 1 else ''}"
                for rows, n in sorted(repeats.rows.items())
            )
            lines += [
                "",
                f"Repeats: {REPEAT_CONTACTS:,} more contacts' one-click tokens, each "
                f"{repeats.copies} times in a row, so that the copies arrive together on different "
                f"connections, for {repeats.seconds} s (another campaign): {r.answered:,} "
                f"answered with 2xx/3xx, errors {_errors(r)}, p99 {_ms(r.p99)}; requests sent "
                f"for {repeats.contacts:,} contacts; ledger rows per contact: {spread or 'none'}; "
                f"duplicate withdrawals: **{repeats.duplicates:,}**. The contract: repeating the "
                "request answers 200 again and records nothing new.",
            ]
    if results.profiles:
        lines += [
            "",
            "### Where the time goes (1 API process, py-spy)",
            "",
            f"Each public route once more after its measurement, under `py-spy record "
            f"--rate {PROFILE_RATE} --gil` for {results.load.duration} s of the same load, with "
            "tokens of another campaign and contacts; sampling slows the process, so these runs "
            "are not in the tables above. With `--gil` a sample is taken only while Python "
            "code runs (holds the GIL): GIL busy is the share of the time it did; SQLite's and "
            "the kernel's own work, done without the GIL, is not in the samples. Own time: "
            "the package of the function running. Service functions and libraries: share of "
            "samples with them anywhere on the stack (inclusive, so they overlap).",
        ]
        for prof in results.profiles:
            packages = ", ".join(f"{name} {share:.0%}" for name, share in prof.packages)
            functions = "; ".join(f"`{name}` {share:.0%}" for name, share in prof.functions)
            libraries = ", ".join(f"{name} {share:.0%}" for name, share in prof.libraries)
            lines += [
                "",
                f"- {ROUTES[prof.route].label}: GIL busy {prof.busy:.0%} ({prof.samples:,} "
                f"samples, {prof.rate:,.0f} req/s while sampled).",
                f"  - Own time: {packages}.",
                f"  - Service functions: {functions}.",
                f"  - Libraries: {libraries or 'none'}.",
            ]
    lines += ["", "### Verdict", ""] + [f"- {line}" for line in summary(results)]
    return "\n".join(lines)


def summary(results: Results) -> list[str]:
    out = []
    for run_ in results.runs:
        checks = verdicts(run_)
        name = f"{run_.processes} process{'es' if run_.processes > 1 else ''}"
        for key, (rate, p99, within) in checks.items():
            result = run_.results[key]
            ok = within and not result.error_count
            reasons = []
            if rate > TARGET:
                reasons.append(f"{rate:.1f}x fewer requests/s than the ceiling")
            if p99 > TARGET:
                reasons.append(f"p99 {p99:.1f}x the ceiling's")
            if result.error_count:
                reasons.append(f"{result.error_count:,} errors ({_errors(result)})")
            out.append(
                f"{name}, {ROUTES[key].label}: "
                + ("target met." if ok else "target **missed**: " + ", ".join(reasons) + ".")
            )
        events_ok = all(a.ok for a in run_.accounts) and (
            run_.ledger is not None and run_.ledger.ok
        )
        out.append(f"{name}: every event accounted for: " + ("yes." if events_ok else "**no**."))
        if run_.repeats is not None:
            dup = run_.repeats.duplicates
            out.append(
                f"{name}: concurrent repeats of a one-click POST: "
                + (
                    "one withdrawal each, no error."
                    if run_.repeats.ok
                    else f"**{dup:,} duplicate withdrawals** in the ledger, "
                    f"{run_.repeats.result.error_count:,} errors."
                )
            )
    cpus = os.cpu_count() or 1
    crowded = [r.processes for r in results.runs if r.processes + 1 > cpus]
    if crowded:
        shown = ", ".join(map(str, crowded))
        out.append(
            f"This machine has {cpus} CPUs for wrk ({results.load.threads} threads), Redis and "
            f"the API processes: the {shown}-process runs share CPUs with the load generator "
            "and measure contention as much as the service."
        )
    busy = [r.machine_busy for run_ in results.runs for r in run_.results.values()]
    if busy and max(busy) >= 0.9:
        out.append(
            f"The machine's {cpus} CPUs were {min(busy):.0%} to {max(busy):.0%} busy during "
            "the measurements (wrk, Redis and the servers, and any other work): the figures "
            "are bounded by the machine as much as by the service; compare routes only with "
            "their ceiling from the same run."
        )
    return out


# -- main -----------------------------------------------------------------------


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
            command=command_line(argv),
            contacts=args.contacts,
            machine=report.machine(),
            code=report.code_version(REPO),
            started=clock.now(),
            load=load,
        )
        database_url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
        upgrade(database_url)
        redis_server = EmbeddedRedis(tmp / "redis")
        stack.callback(redis_server.stop)
        redis_url = redis_server.start()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONSENTRY_")}
        env.update(
            CONSENTRY_DATABASE_URL=database_url,
            CONSENTRY_REDIS_URL=redis_url,
            CONSENTRY_SECRET_KEY=SECRET_KEY,
            CONSENTRY_DATA_KEY=DATA_KEY,
            CONSENTRY_VAR_DIR=str(tmp / "var"),
        )
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
        report.write_section(args.out, "public:sqlite", section)
        say(f"wrote the section into {args.out}")


if __name__ == "__main__":
    main()
