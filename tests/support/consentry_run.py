"""`consentry run` as a real subprocess, for end-to-end tests over HTTP and SMTP.

Each service gets a private directory: its var dir (keys, embedded Redis, the
mail catcher's outbox), its SQLite file, and an environment without any
``CONSENTRY_*`` variable of the process running the tests. The same pattern as
``tests/e2e/test_cli.py``, kept here so other end-to-end modules can share it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from service.embedded import free_port

PASSWORD = "correct horse battery staple"
COMMAND_TIMEOUT = 60  # seconds for one short command; each takes about half a second
START_TIMEOUT = 30
STOP_TIMEOUT = 30

_script = Path(sys.executable).with_name("consentry")
CONSENTRY = [str(_script)] if _script.exists() else [sys.executable, "-m", "service.cli"]


def make_env(root: Path, **extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("CONSENTRY_")}
    env["CONSENTRY_VAR_DIR"] = str(root / "var")
    env["CONSENTRY_DATABASE_URL"] = f"sqlite+aiosqlite:///{root / 'c.db'}"
    # `consentry run` also listens for inbound mail; never on a shared port.
    env["CONSENTRY_INBOUND_PORT"] = str(free_port())
    env.update(extra)
    return env


def consentry(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CONSENTRY, *args],
        env=env,
        cwd=Path(env["CONSENTRY_VAR_DIR"]).parent,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )


def wait_for(condition: Callable[[], bool], what: str, timeout: float = START_TIMEOUT) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def processes_in(root: Path) -> set[int]:
    """Live processes working in `root` or told to use it (see test_cli.py)."""
    marker = f"CONSENTRY_VAR_DIR={root / 'var'}".encode()
    found: set[int] = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cwd = Path(os.readlink(proc / "cwd"))
            in_root = cwd == root or root in cwd.parents
            if (in_root or marker in (proc / "environ").read_bytes().split(b"\0")) and alive(
                int(proc.name)
            ):
                found.add(int(proc.name))
        except OSError:  # gone meanwhile, or not ours
            continue
    return found


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - 127.0.0.1 only
            return int(response.status)
    except urllib.error.HTTPError as error:
        with error:
            return error.code


@dataclass
class RunningService:
    process: subprocess.Popen[bytes]
    env: dict[str, str]
    base_url: str
    root: Path
    stdout_path: Path
    stderr_path: Path

    @property
    def outbox(self) -> Path:
        return Path(self.env["CONSENTRY_VAR_DIR"]) / "outbox"

    @property
    def database(self) -> Path:
        return self.root / "c.db"

    @property
    def inbound_port(self) -> int:
        return int(self.env["CONSENTRY_INBOUND_PORT"])

    def output(self) -> str:
        return self.stdout_path.read_text() + self.stderr_path.read_text()

    def stdout(self) -> str:
        return self.stdout_path.read_text()

    def stop(self, signum: signal.Signals) -> int:
        self.process.send_signal(signum)
        return self.process.wait(STOP_TIMEOUT)


@contextmanager
def running_service(
    root: Path, *, port: int | None = None, **extra_env: str
) -> Iterator[RunningService]:
    """`consentry run` in `root`, serving (on ``port``, or a free one); stopped
    with Ctrl-C (SIGINT) afterwards, and whatever it left behind in `root` killed."""
    env = make_env(root, **extra_env)
    port = port or free_port()
    stdout_path, stderr_path = root / "run.out", root / "run.err"
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        process = subprocess.Popen(
            [*CONSENTRY, "run", "--port", str(port)],
            env=env,
            cwd=root,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
    run = RunningService(process, env, f"http://127.0.0.1:{port}", root, stdout_path, stderr_path)
    try:

        def serving() -> bool:
            assert process.poll() is None, run.output()
            try:
                return _status(f"{run.base_url}/schema/openapi.json") == 200
            except OSError:
                return False

        wait_for(serving, "the API to answer")
        yield run
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for pid in processes_in(root):
            os.kill(pid, signal.SIGKILL)
