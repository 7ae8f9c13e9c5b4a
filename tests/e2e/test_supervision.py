"""`consentry run` keeps what it started running: its worker and its Redis are
killed with SIGKILL (and the worker frozen with SIGSTOP) while it serves, and
the operator's view (stderr, `/health/ready`, `consentry status`) says so.

Real processes throughout: the service is a subprocess, its children are
found under it in /proc, and a campaign goes through the mail catcher."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.observability.heartbeat import STALE_AFTER_SECONDS
from tests.support.consentry_run import (
    PASSWORD,
    RunningService,
    alive,
    consentry,
    running_service,
    wait_for,
)

pytestmark = pytest.mark.slow

ADMIN = "admin@example.fi"
RESTART_LIMIT = 5.0  # CONTRACT.md: a new worker within 5 s of the old one's death
READY_TIMEOUT = 20.0  # a restarted worker imports, connects and beats
DONE_TIMEOUT = 60.0


@pytest.fixture
def run(tmp_path: Path) -> Iterator[RunningService]:
    with running_service(tmp_path) as service:
        wait_for(lambda: ready(service)[0] == 200, "the service to be ready", READY_TIMEOUT)
        yield service


def children(pid: int) -> dict[int, list[str]]:
    """The live child processes of ``pid`` and their command lines."""
    found: dict[int, list[str]] = {}
    for listing in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in listing.read_text().split():
            try:
                argv = Path(f"/proc/{child}/cmdline").read_bytes().decode().split("\0")[:-1]
            except OSError:
                continue  # gone meanwhile
            # A child between fork and exec, or a zombie, has no command line yet.
            if argv and alive(int(child)):
                found[int(child)] = argv
    return found


def workers(run: RunningService) -> list[int]:
    found = children(run.process.pid).items()
    return [pid for pid, argv in found if argv[-3:] == ["-m", "service.cli", "worker"]]


def redis_servers(run: RunningService) -> list[int]:
    return [pid for pid, argv in children(run.process.pid).items() if "redis-server" in argv[0]]


def ready(run: RunningService) -> tuple[int, dict[str, Any]]:
    try:
        response = httpx.get(f"{run.base_url}/health/ready", timeout=5)
    except httpx.TransportError:
        return 0, {}
    return response.status_code, response.json()


def only(pids: list[int]) -> int:
    assert len(pids) == 1, pids
    return pids[0]


def replaced(old: int, find: Any, what: str) -> tuple[int, float]:
    """The new process found in place of ``old``, and the seconds it took."""
    found: list[int] = []

    def there() -> bool:
        found[:] = [pid for pid in find() if pid != old]
        return bool(found)

    started = time.monotonic()
    wait_for(there, what, timeout=15)
    return only(found), time.monotonic() - started


def send_a_campaign(run: RunningService) -> None:
    """One consenting person, one campaign, sent through the worker and caught."""
    assert (
        consentry(run.env, "user", "add", ADMIN, "--role", "admin", stdin=PASSWORD).returncode == 0
    )
    token = consentry(run.env, "token", "issue", ADMIN).stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=f"{run.base_url}/api/v1", headers=headers, timeout=10) as api:
        person = {"full_name": "Aino", "email": "aino@example.fi"}
        contact = api.post("/contacts", json={**person, "legal_basis": "consent", "source": "self"})
        assert contact.status_code == 201, contact.text
        grant = {
            "channel": "email",
            "purpose": "direct_marketing",
            "action": "grant",
            "source": "self",
            "method": "web_form",
            "evidence": {"text": "Send me offers by email", "notice_version": "2026-01"},
        }
        consent = api.post(f"/contacts/{contact.json()['id']}/consents", json=grant)
        assert consent.status_code == 201, consent.text
        body = {
            "name": "After the crash",
            "channel": "email",
            "subject": "Hello {{ contact.name }}",
            "body_html": "<p>Hello {{ contact.name }}</p>",
            "body_text": "Hello {{ contact.name }}",
        }
        campaign = api.post("/campaigns", json=body)
        assert campaign.status_code == 201, campaign.text
        campaign_id = campaign.json()["id"]
        assert api.post(f"/campaigns/{campaign_id}/send").status_code == 202

        def done() -> bool:
            state = api.get(f"/campaigns/{campaign_id}").json()
            assert state["status"] not in {"paused", "cancelled"}, state
            return bool(state["status"] == "done")

        wait_for(done, "the campaign to be sent", DONE_TIMEOUT)
    assert len(list(run.outbox.glob("*.eml"))) == 1


def test_a_killed_worker_is_back_within_five_seconds_and_sends(run: RunningService) -> None:
    old = only(workers(run))
    os.kill(old, signal.SIGKILL)
    new, took = replaced(old, lambda: workers(run), "a new worker")
    print(f"worker restarted {took:.2f} s after SIGKILL")
    assert took < RESTART_LIMIT
    assert "the queue worker exited (SIGKILL); restarting in 0.5 s" in run.stderr_path.read_text()

    send_a_campaign(run)
    assert workers(run) == [new]
    assert ready(run)[0] == 200


def test_a_killed_redis_is_back_on_its_port_and_ready_again(run: RunningService) -> None:
    old = only(redis_servers(run))
    os.kill(old, signal.SIGKILL)
    _, took = replaced(old, lambda: redis_servers(run), "a new redis-server")
    started = time.monotonic()
    wait_for(lambda: ready(run)[0] == 200, "ready again", READY_TIMEOUT)
    print(
        f"redis restarted {took:.2f} s after SIGKILL, "
        f"ready {took + time.monotonic() - started:.2f} s after"
    )
    assert "the embedded Redis exited (SIGKILL); restarting in 0.5 s" in (
        run.stderr_path.read_text()
    )
    # The API and the worker reconnected by themselves: the worker is the same one.
    status = consentry(run.env, "status")
    assert "Worker: alive" in status.stdout, status.stdout
    send_a_campaign(run)


def test_a_frozen_worker_makes_the_service_not_ready_until_it_beats(
    run: RunningService,
) -> None:
    worker = only(workers(run))
    os.kill(worker, signal.SIGSTOP)
    try:
        stopped_at = time.monotonic()
        # The last beat may have come just before the stop.
        wait_for(lambda: ready(run)[0] == 503, "not ready", STALE_AFTER_SECONDS + READY_TIMEOUT)
        assert time.monotonic() - stopped_at > STALE_AFTER_SECONDS - 10
        code, body = ready(run)
        assert code == 503 and body["failed"] == ["worker"], body
        assert body["checks"]["worker"] == "stale"
        (line,) = body["problems"]
        assert line.startswith("worker: no heartbeat for ") and line.endswith(" s"), line

        text = consentry(run.env, "status")
        assert text.returncode == 0, text.stderr
        assert "Worker: STALE (last heartbeat " in text.stdout, text.stdout
        as_json = json.loads(consentry(run.env, "status", "--json").stdout)["worker"]
        assert as_json["state"] == "stale" and as_json["alive"] is False
        assert as_json["age_seconds"] > STALE_AFTER_SECONDS
        # Alive, if stuck: the supervisor leaves it be.
        assert workers(run) == [worker]
        assert "consentry.supervise" not in run.stderr_path.read_text()
    finally:
        os.kill(worker, signal.SIGCONT)
    wait_for(lambda: ready(run)[0] == 200, "ready again", READY_TIMEOUT)
    assert "Worker: alive" in consentry(run.env, "status").stdout
