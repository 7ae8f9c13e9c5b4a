"""wrk, the load generator: its Lua script (every request another token), its
output read back, and how it is run (the same for every route)."""

from __future__ import annotations

import json
import re
import resource
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bench.procs import (
    stop_process,
)

if TYPE_CHECKING:
    from bench.public.servers import Server


WRK_HINT = "wrk not found; install it (Debian, Ubuntu): apt-get install -y wrk"
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
