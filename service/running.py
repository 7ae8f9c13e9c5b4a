"""Which Consentry processes of this installation are running.

Each long-running process (`consentry run`, `api`, `worker`, `inbound`)
holds, for as long as it runs, an exclusive ``flock`` on a file of its own in
``$CONSENTRY_VAR_DIR/run/`` that says what it is (role, pid, host, and for an
API the public URL its links use). The kernel drops the lock when the process
ends however it ends (SIGKILL, OOM), so a file nobody holds is stale and
removed by whoever finds it: nothing has to clean up after a crash.

That covers one host. PostgreSQL installations often run the API and the
workers elsewhere, so their database connections also carry the role in
``application_name`` (``consentry-worker 1234@host``, set by
``service.db.create_engine`` from ``ROLE_ENV``), which ``running_on_database``
reads from ``pg_stat_activity``. `consentry backup restore` asks both.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

# Set by `registered` and inherited by child processes (uvicorn's workers,
# the backup process a worker starts): the role their connections announce.
ROLE_ENV = "_CONSENTRY_ROLE"
ROLES = ("api", "worker", "inbound")
APPLICATION_PREFIX = "consentry-"
_NAMES = {"api": "an API", "worker": "a worker", "inbound": "an inbound mail listener"}


@dataclass(frozen=True, slots=True)
class Process:
    role: str
    pid: int
    host: str
    public_url: str | None = None

    def describe(self, *, here: str | None = None) -> str:
        where = "" if self.host == (here or socket.gethostname()) else f" on {self.host}"
        return f"{_NAMES.get(self.role, 'a ' + self.role)} (pid {self.pid}{where})"


def run_dir(var_dir: Path) -> Path:
    return var_dir / "run"


def application_name(role: str | None = None) -> str:
    """What a connection of this process calls itself (63 bytes at most, as
    PostgreSQL keeps)."""
    role = role or os.environ.get(ROLE_ENV) or "cli"
    name = f"{APPLICATION_PREFIX}{role} {os.getpid()}@{socket.gethostname()}"
    return name.encode()[:63].decode(errors="ignore")


@contextlib.contextmanager
def registered(var_dir: Path, role: str, *, public_url: str | None = None) -> Iterator[Process]:
    """Announce this process as ``role`` until the block ends (or the process does)."""
    me = Process(role=role, pid=os.getpid(), host=socket.gethostname(), public_url=public_url)
    os.environ[ROLE_ENV] = role
    directory = run_dir(var_dir)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / f"{role}-{me.pid}.lock"
    # Locked under a name no reader looks at, then renamed into place (the
    # lock stays with the file): a reader never sees it unlocked and takes it
    # for stale.
    hidden = directory / f".{role}-{me.pid}.new"
    fd = os.open(hidden, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(fd, json.dumps(_fields(me)).encode())
        os.replace(hidden, path)
        yield me
    finally:
        path.unlink(missing_ok=True)
        hidden.unlink(missing_ok=True)
        os.close(fd)


def _fields(process: Process) -> dict[str, object]:
    return {
        "role": process.role,
        "pid": process.pid,
        "host": process.host,
        "public_url": process.public_url,
    }


def running_here(var_dir: Path) -> list[Process]:
    """The processes holding their file in ``var_dir/run``; stale files are removed."""
    directory = run_dir(var_dir)
    found = []
    for path in sorted(directory.glob("*.lock")) if directory.is_dir() else []:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                process = _read(fd)
                if process is not None:
                    found.append(process)
                continue
            path.unlink(missing_ok=True)  # nobody holds it: its process is gone
        finally:
            os.close(fd)
    return found


def _read(fd: int) -> Process | None:
    try:
        data = json.loads(os.pread(fd, 4096, 0))
        return Process(
            role=str(data["role"]),
            pid=int(data["pid"]),
            host=str(data["host"]),
            public_url=data.get("public_url"),
        )
    except (ValueError, KeyError, TypeError):
        return None  # being written this instant; its holder is announced next time


async def running_on_database(connection: AsyncConnection) -> list[Process]:
    """The API, worker and inbound processes connected to this PostgreSQL database."""
    rows = await connection.execute(
        text(
            "SELECT DISTINCT application_name FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND application_name LIKE :prefix"
        ),
        {"prefix": APPLICATION_PREFIX + "%"},
    )
    found = []
    for (name,) in rows:
        role, _, rest = name.removeprefix(APPLICATION_PREFIX).partition(" ")
        pid, _, host = rest.partition("@")
        if role in ROLES and pid.isdigit():
            found.append(Process(role=role, pid=int(pid), host=host))
    return found


def public_url_of_running_api(var_dir: Path) -> str | None:
    """The public URL a running `consentry run`/`api` of this var dir puts in links."""
    for process in running_here(var_dir):
        if process.role == "api" and process.public_url:
            return process.public_url
    return None
