"""The apps under load: ``uvicorn --factory APP --workers P`` on 127.0.0.1,
each in its own session, stopped by pid; and a single probe request."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path

from bench.procs import (
    REPO,
    stop_process,
    usage,
    wait_port,
)
from bench.public.wrk import USER_AGENTS
from service.embedded import HOST, free_port

APP = "service.app:create_app"
CEILING_APP = "bench.public:create_ceiling_app"
UVICORN_OPTIONS = ("--loop", "uvloop", "--http", "httptools", "--no-access-log")

START_TIMEOUT = 60.0


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
