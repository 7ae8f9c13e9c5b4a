"""The processes a benchmark starts: Postfix's smtp-sink and `consentry worker`s.

Everything binds 127.0.0.1, runs in its own session (a Ctrl-C reaches only the
benchmark, which then stops them) and is stopped by pid, never by name.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from service.embedded import HOST, free_port

REPO = Path(__file__).resolve().parents[1]
# The keys of every benchmark's service processes (never a real deployment's).
SECRET_KEY = "bench-secret-key-" + "s" * 32
DATA_KEY = "bench-data-key-" + "d" * 32
STOP_TIMEOUT = 20.0
_TICKS = os.sysconf("SC_CLK_TCK")
_MESSAGES = re.compile(rb"mesg=(\d+)")

POSTFIX_HINT = (
    "smtp-sink not found; install Postfix's tools without starting Postfix:\n"
    '  echo "postfix postfix/main_mailer_type select No configuration" | '
    "debconf-set-selections\n"
    "  DEBIAN_FRONTEND=noninteractive apt-get install -y postfix"
)


def service_env(database_url: str, redis_url: str, var_dir: Path, **more: str) -> dict[str, str]:
    """This process's environment without any CONSENTRY_ setting of the caller's,
    plus the benchmark's database, Redis, keys and ``more`` (CONSENTRY_… = value)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSENTRY_")}
    env.update(
        CONSENTRY_DATABASE_URL=database_url,
        CONSENTRY_REDIS_URL=redis_url,
        CONSENTRY_SECRET_KEY=SECRET_KEY,
        CONSENTRY_DATA_KEY=DATA_KEY,
        CONSENTRY_VAR_DIR=str(var_dir),
    )
    env.update(more)
    return env


def find_tool(name: str, hint: str = POSTFIX_HINT) -> str:
    """The tool's path, or exit with `hint` (how to install it)."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if found is None:
        raise SystemExit(f"bench: {hint}")
    return found


def stop_process(proc: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM, then SIGKILL after `timeout`; this one process only."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_port(proc: subprocess.Popen[bytes], port: int, what: str, timeout: float = 10.0) -> None:
    """Until something accepts connections on 127.0.0.1:`port`; fails if `proc` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} while starting")
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {HOST}:{port} within {timeout:.0f} s")


class SmtpSink:
    """`smtp-sink -u nobody -c 127.0.0.1:PORT 1024`: accepts and discards mail.

    With -c it writes running counters (``sess=… quit=… mesg=…``) to its
    standard output, which goes to a file: the last ``mesg=`` is the number of
    messages it has accepted so far.
    """

    def __init__(self, log: Path) -> None:
        self.log = log
        self.port = 0
        self.binary = find_tool("smtp-sink")
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def argv(self) -> list[str]:
        return [self.binary, "-u", "nobody", "-c", f"{HOST}:{self.port}", "1024"]

    def start(self) -> int:
        self.port = free_port()
        with self.log.open("wb") as out:
            self._proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_port(self._proc, self.port, "smtp-sink")
        return self.port

    def accepted(self) -> int:
        """Messages accepted since start (the sink's own counter)."""
        with self.log.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 4096))
            found = _MESSAGES.findall(handle.read())
        return int(found[-1]) if found else 0

    def wait_settled(self, timeout: float = 5.0) -> int:
        """The counter once it has stopped moving (clients may still be in QUIT)."""
        last, deadline = -1, time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = self.accepted()
            if now == last:
                return now
            last = now
            time.sleep(0.2)
        return self.accepted()

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            stop_process(proc, 5.0)


@dataclass(frozen=True)
class ProcessUsage:
    peak_rss_kib: int  # VmHWM
    rss_kib: int  # VmRSS
    cpu_seconds: float  # user + system


def usage(pid: int) -> ProcessUsage:
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    stat = Path(f"/proc/{pid}/stat").read_text()
    # Fields after the command name (which may hold spaces) start at field 3.
    rest = stat[stat.rindex(")") + 2 :].split()
    utime, stime = int(rest[11]), int(rest[12])
    return ProcessUsage(
        peak_rss_kib=int(fields["VmHWM"].split()[0]),
        rss_kib=int(fields["VmRSS"].split()[0]),
        cpu_seconds=(utime + stime) / _TICKS,
    )


class Worker:
    """One `python -m service.cli worker` (the `consentry worker` command)."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "service.cli", "worker"],
                env=self.env,
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until arq has logged its start (on_startup follows at once)."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}:\n{self.tail()}")
            if b"Starting worker for" in self.log.read_bytes():
                return
            time.sleep(0.05)
        raise RuntimeError(f"worker not ready within {timeout:.0f} s:\n{self.tail()}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            stop_process(proc)


P = TypeVar("P")


def each(processes: Iterable[P], method: Callable[[P], None]) -> None:
    """``method`` on each process in turn (a copy of the list: it may change)."""
    for proc in list(processes):
        method(proc)
