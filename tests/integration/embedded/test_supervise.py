"""`consentry run`'s supervisor against real processes and servers: what died is
started again after its back-off, with one log line, and nothing once stopping.

The back-off is driven by a clock the tests move; the children are real: a
Python process, the embedded Redis, the mail catcher."""

from __future__ import annotations

import logging
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
import redis

from service import supervise
from service.embedded import HOST, EmbeddedRedis, MailCatcher
from service.supervise import Supervised, Supervisor

WAIT = 15.0  # seconds any restart may take here (Redis loads its AOF)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Sleeper:
    """A real child process that does nothing until it is killed."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.started = 0

    def restart(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        self.started += 1

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(WAIT)

    def how(self) -> str:
        assert self.process is not None
        return supervise.ended(self.process.poll())

    def stop(self) -> None:
        if self.alive():
            self.kill()


@pytest.fixture
def sleeper() -> Iterator[Sleeper]:
    child = Sleeper()
    child.restart()
    try:
        yield child
    finally:
        child.stop()


def eventually(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> float:
    """Seconds until ``condition`` held; fails naming ``what`` after ``timeout``."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, f"timed out waiting for {what}"
        time.sleep(0.05)
    return time.monotonic() - start


def supervised_redis(server: EmbeddedRedis) -> Supervised:
    return Supervised("the embedded Redis", server, how=lambda: supervise.ended(server.returncode))


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "consentry.supervise"]


def test_a_dead_child_comes_back_after_a_growing_back_off(
    sleeper: Sleeper, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    clock = Clock()
    one = Supervised("the sleeper", sleeper, how=sleeper.how, max_delay=4.0)
    supervisor = Supervisor([one], clock=clock)

    expected = []
    for delay in (0.5, 1, 2, 4, 4):
        sleeper.kill()
        supervisor.check()
        expected.append(f"the sleeper exited (SIGKILL); restarting in {delay:g} s")
        assert lines(caplog) == expected
        # Not before its time, however often it is looked at.
        clock.now += delay - 0.01
        supervisor.check()
        assert not sleeper.alive()
        clock.now += 0.01
        supervisor.check()
        assert sleeper.alive()

    # A minute up makes it healthy: the next death starts over at 0.5 s.
    clock.now += supervise.STEADY_SECONDS
    supervisor.check()
    sleeper.kill()
    supervisor.check()
    assert lines(caplog)[-1] == "the sleeper exited (SIGKILL); restarting in 0.5 s"
    assert sleeper.started == 1 + 5


def test_nothing_is_restarted_while_stopping(
    sleeper: Sleeper, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    clock = Clock()
    stopping = False
    one = Supervised("the sleeper", sleeper, how=sleeper.how)
    supervisor = Supervisor([one], clock=clock, stopping=lambda: stopping)
    sleeper.kill()
    supervisor.check()
    stopping = True  # a signal came between the death and the restart
    clock.now += 60
    supervisor.check()
    assert not sleeper.alive() and sleeper.started == 1
    assert len(lines(caplog)) == 1


def test_the_worker_comes_back_within_five_seconds_however_often_it_died() -> None:
    one = Supervised("w", Sleeper(), how=lambda: "", max_delay=supervise.WORKER_MAX_DELAY_SECONDS)
    one.deaths = 50
    # The look that notices the death, then the back-off.
    assert supervise.POLL_SECONDS + one.delay() < 5


def test_the_supervisor_thread_restarts_a_killed_process_in_about_a_second(
    sleeper: Sleeper,
) -> None:
    one = Supervised("the sleeper", sleeper, how=sleeper.how)
    supervisor = Supervisor([one])
    with supervisor.running():
        first = sleeper.process
        sleeper.kill()
        took = eventually(sleeper.alive, "the restart")
        assert sleeper.process is not first
    assert took < supervise.POLL_SECONDS + supervise.FIRST_DELAY_SECONDS + 1


def test_redis_comes_back_on_its_port_with_its_data(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    server = EmbeddedRedis(tmp_path / "redis")
    url = server.start()
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        client.set("kept", "yes")
        time.sleep(1.2)  # the AOF is fsynced every second
        one = Supervised(
            "the embedded Redis", server, how=lambda: supervise.ended(server.returncode)
        )
        with Supervisor([one]).running():
            assert server._proc is not None
            os.kill(server._proc.pid, signal.SIGKILL)
            eventually(lambda: not server.alive(), "Redis to die")
            eventually(server.alive, "Redis to be restarted")

            def answers() -> bool:
                try:
                    return client.get("kept") == b"yes"
                except redis.ConnectionError:
                    return False  # the connection the kill broke; the next is new

            eventually(answers, "the same client to read the kept key")
        assert server.port is not None and url.endswith(f":{server.port}/0")
        assert lines(caplog) == ["the embedded Redis exited (SIGKILL); restarting in 0.5 s"]
    finally:
        client.close()
        server.stop()


def test_a_restart_that_fails_is_logged_and_tried_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    clock = Clock()
    server = EmbeddedRedis(tmp_path / "redis")
    server.start()
    assert server.port is not None and server._proc is not None
    try:
        one = Supervised(
            "the embedded Redis", server, how=lambda: supervise.ended(server.returncode)
        )
        supervisor = Supervisor([one], clock=clock)
        os.kill(server._proc.pid, signal.SIGKILL)
        eventually(lambda: not server.alive(), "Redis to die")
        supervisor.check()
        with socket.socket() as squatter:
            squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            squatter.bind((HOST, server.port))
            squatter.listen()
            clock.now += 0.5
            supervisor.check()
            assert not server.alive()
        assert lines(caplog)[-1] == (
            "the embedded Redis could not be restarted (EmbeddedServiceError: cannot listen "
            f"on 127.0.0.1:{server.port}: Address already in use); trying again in 1 s"
        )
        clock.now += 1
        supervisor.check()
        assert server.alive()
    finally:
        server.stop()


def test_the_mail_catcher_comes_back_on_its_port(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    catcher = MailCatcher(tmp_path / "outbox")
    host, port = catcher.start()
    try:
        one = Supervised("the mail catcher", catcher, how=lambda: "its thread ended")
        with Supervisor([one]).running():
            controller = catcher._controller
            assert controller is not None
            # What a crash of its event loop looks like from outside: the thread ends.
            controller.loop.call_soon_threadsafe(controller.loop.stop)
            eventually(lambda: catcher._controller is not controller, "a new server")
            eventually(catcher.alive, "the mail catcher to be restarted")
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "a@example.fi", "b@example.fi", "x"
        message.set_content("still caught")
        with smtplib.SMTP(host, port, timeout=10) as smtp:
            smtp.send_message(message)
        assert [m["Subject"] for m in catcher.messages()] == ["x"]
        assert lines(caplog) == ["the mail catcher exited (its thread ended); restarting in 0.5 s"]
    finally:
        catcher.stop()
