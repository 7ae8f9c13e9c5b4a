"""Several processes on one PostgreSQL and one Redis, as in production: two API
processes (`consentry api --workers 2`) and two `consentry worker`s. Contacts
and a campaign are made over HTTP, the campaign is sent, and every recipient
gets exactly one message at a real SMTP server; both API processes served
requests."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from service import queue
from service.db import SessionMaker
from service.embedded import MailCatcher, free_port
from service.models.enums import Role
from tests.conftest import TEST_DATA_KEY, TEST_SECRET, TokenFactory
from tests.e2e.test_exactly_once import catcher, full, start_worker, tail, wait_for
from tests.integration.campaigns.test_campaigns import campaign
from tests.support.consentry_run import CONSENTRY, alive, make_env
from tests.support.factories import add_campaign, add_recipient

pytestmark = pytest.mark.slow

__all__ = ["catcher"]  # the mail server fixture, shared with test_exactly_once

ELIGIBLE = 40
WITHOUT_CONSENT = 12
CONNECTIONS = 16  # requests in flight at once, each on a connection of its own
API_PROCESSES = 2
STOP_TIMEOUT = 30


def children(parent: int) -> set[int]:
    """The live processes whose parent is `parent`: uvicorn's worker processes
    (and multiprocessing's resource tracker)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def connected_to(pids: set[int], port: int) -> set[int]:
    """Those of `pids` holding an established TCP connection to remote port
    `port`: for PostgreSQL's port, the API processes whose pool kept a
    connection after serving a request (each authenticates against the
    database)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == port and fields[3] == "01":  # ESTABLISHED
                inodes.add(f"socket:[{fields[9]}]")
    holding = set()
    for pid in pids:
        try:
            descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for descriptor in descriptors:
            try:
                if os.readlink(descriptor) in inodes:
                    holding.add(pid)
                    break
            except OSError:
                continue
    return holding


def start_api(env: dict[str, str], log: Path, port: int) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [*CONSENTRY, "api", "--workers", str(API_PROCESSES), "--port", str(port)],
            env=env,
            cwd=log.parent,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_api_processes_and_two_workers_mail_everyone_once(
    database_url: str,
    sessionmaker: SessionMaker,
    make_token: TokenFactory,
    redis_url: str,
    catcher: MailCatcher,
    tmp_path: Path,
) -> None:
    isolated_redis = redis_url.rsplit("/", 1)[0] + "/11"
    pool = await queue.connect(isolated_redis)
    await pool.flushdb()
    await pool.aclose()
    env = make_env(
        tmp_path,
        CONSENTRY_DATABASE_URL=database_url,
        CONSENTRY_REDIS_URL=isolated_redis,
        CONSENTRY_SMTP_HOST="127.0.0.1",
        CONSENTRY_SMTP_PORT=str(catcher.port),
        CONSENTRY_SECRET_KEY=TEST_SECRET,
        CONSENTRY_DATA_KEY=TEST_DATA_KEY,
        CONSENTRY_MAIL_FROM="news@example.fi",
        # Small batches, so that both workers have some to take.
        CONSENTRY_SEND_BATCH_SIZE="5",
    )
    token = await make_token(Role.ADMIN)
    port = free_port()
    api_log, worker_log = tmp_path / "api.log", tmp_path / "workers.log"
    api = start_api(env, api_log, port)
    workers = [start_worker(env, worker_log), start_worker(env, worker_log)]
    servers: set[int] = set()

    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {token}"},
            limits=httpx.Limits(max_connections=CONNECTIONS),
        ) as http:

            async def serving() -> bool:
                assert api.poll() is None, full(api_log)
                try:
                    return (await http.get("/health/live")).status_code == 200
                except httpx.TransportError:
                    return False

            await wait_for(serving, 60, "the API processes to answer", api_log)
            servers = children(api.pid)
            assert len(servers) >= API_PROCESSES, full(api_log)

            # A new connection for every request, many in flight: the kernel
            # hands each to whichever API process accepts it first, and a busy
            # process leaves the next ones to an idle one.
            eligible = [f"p{i}@example.fi" for i in range(ELIGIBLE)]
            others = [f"q{i}@example.fi" for i in range(WITHOUT_CONSENT)]
            http.headers["Connection"] = "close"
            await asyncio.gather(
                *(add_recipient(http, email) for email in eligible),
                *(add_recipient(http, email, consent=()) for email in others),
            )
            port = make_url(database_url).port or 5432
            served_by = connected_to(servers, port)
            # On a busy machine one process may win every accept of a burst;
            # more bursts of reads, bounded, give the other its turn.
            for _ in range(10):
                if len(served_by) >= 2:
                    break
                await asyncio.gather(*(http.get("/api/v1/contacts") for _ in range(20)))
                served_by = connected_to(servers, port)
            del http.headers["Connection"]

            campaign_id = await add_campaign(http, name="Several processes")
            sent = await http.post(f"/api/v1/campaigns/{campaign_id}/send")
            assert sent.status_code == 202, sent.text

            async def finished() -> bool:
                assert all(w.poll() is None for w in workers), tail(worker_log)
                return (await campaign(http, campaign_id))["status"] == "done"

            await wait_for(finished, 120, "the campaign to finish", worker_log)
            done = await campaign(http, campaign_id)
        assert children(api.pid) == servers, f"an API process was replaced:\n{tail(api_log)}"
    finally:
        stop(api)
        for worker in workers:
            stop(worker)
        for pid in servers:  # orphaned if the supervisor died first
            if alive(pid):
                os.kill(pid, signal.SIGKILL)

    assert len(served_by) >= 2, f"one API process served every request: {served_by}"
    assert "Traceback" not in full(api_log), tail(api_log)
    assert "Traceback" not in full(worker_log), tail(worker_log)
    copies = Counter(str(message["To"]) for message in catcher.messages())
    assert copies == Counter(eligible), "someone was missed, mailed twice, or mailed unasked"
    assert done["counts"]["sent"] == ELIGIBLE and done["counts"]["queued"] == 0
