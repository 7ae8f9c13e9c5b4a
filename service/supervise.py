"""What ``consentry run`` started, kept running: the queue worker, the embedded
Redis and the mail catcher are restarted when they die.

A thread of the ``run`` process looks at each of them every half second. One
that died is started again after a back-off (0.5 s, 1 s, 2 s … up to its cap,
back to 0.5 s once it has stayed up a minute), with one log line saying what
died, how, and when it comes back. The worker's cap is 4 s: the public
contract promises a new worker within 5 s. Redis comes back on the same port and data
directory, so the API's and the worker's clients reconnect by themselves and
find the queue it kept on disk. Nothing is restarted once the service is
stopping: the check comes first, before every restart.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol

POLL_SECONDS = 0.5
FIRST_DELAY_SECONDS = 0.5
# A child that stayed up this long is healthy again: its next death starts
# the back-off from the beginning.
STEADY_SECONDS = 60.0
WORKER_MAX_DELAY_SECONDS = 4.0
MAX_DELAY_SECONDS = 30.0
WORKER_STOP_SECONDS = 20

logger = logging.getLogger("consentry.supervise")


class Child(Protocol):
    def alive(self) -> bool: ...

    def restart(self) -> None: ...


def ended(returncode: int | None) -> str:
    """How a process ended, in a few words: "SIGKILL", "code 1"."""
    if returncode is None:
        return "unknown"
    if returncode < 0:
        try:
            return signal.Signals(-returncode).name
        except ValueError:
            return f"signal {-returncode}"
    return f"code {returncode}"


class WorkerProcess:
    """``consentry worker`` as a child process of ``consentry run``."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        # Its own session: a Ctrl-C in the terminal reaches only `run`, which
        # stops the worker after the API, so no request is left with a dead queue.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "worker"], env=self.env, start_new_session=True
        )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def how(self) -> str:
        return ended(None if self.process is None else self.process.poll())

    def restart(self) -> None:
        self.start()

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(WORKER_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> WorkerProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@dataclass
class Supervised:
    """One child, what it is called in the log, and its back-off state."""

    name: str
    child: Child
    # How it died, for the log line ("SIGKILL", "code 1", "its thread ended").
    how: Callable[[], str]
    max_delay: float = MAX_DELAY_SECONDS
    deaths: int = 0
    up_since: float | None = None
    restart_at: float | None = field(default=None, repr=False)

    def delay(self) -> float:
        return float(min(FIRST_DELAY_SECONDS * 2 ** min(self.deaths, 16), self.max_delay))


def _seconds(value: float) -> str:
    return f"{value:g} s"


class Supervisor:
    """Restarts the dead among ``children``; ``check`` is one look at them all.

    ``stopping`` says the service is shutting down (uvicorn got the signal):
    from then on nothing is restarted.
    """

    def __init__(
        self,
        children: Sequence[Supervised],
        *,
        stopping: Callable[[], bool] = lambda: False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.children = list(children)
        self._stopping = stopping
        self._clock = clock
        self._stop = threading.Event()
        now = clock()
        for one in self.children:
            one.up_since = now

    def stopping(self) -> bool:
        return self._stop.is_set() or self._stopping()

    def check(self) -> None:
        for one in self.children:
            if self.stopping():
                return
            self._check(one)

    def _check(self, one: Supervised) -> None:
        now = self._clock()
        if one.restart_at is None:
            if one.child.alive():
                if one.up_since is not None and now - one.up_since >= STEADY_SECONDS:
                    one.deaths = 0
                return
            delay = one.delay()
            one.deaths += 1
            one.restart_at = now + delay
            logger.warning("%s exited (%s); restarting in %s", one.name, one.how(), _seconds(delay))
            return
        if now < one.restart_at:
            return
        try:
            one.child.restart()
        except Exception as exc:
            # A port taken meanwhile, a binary gone: try again later, louder.
            delay = one.delay()
            one.deaths += 1
            one.restart_at = self._clock() + delay
            logger.warning(
                "%s could not be restarted (%s: %s); trying again in %s",
                one.name,
                type(exc).__name__,
                str(exc).splitlines()[0] if str(exc) else "",
                _seconds(delay),
            )
            return
        one.restart_at = None
        one.up_since = self._clock()

    def _loop(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            try:
                self.check()
            except Exception:
                # The supervisor must outlive whatever went wrong in one look.
                logger.exception("supervisor: checking the children failed")

    @contextmanager
    def running(self) -> Iterator[Supervisor]:
        """Supervise on a thread of its own until the block ends."""
        thread = threading.Thread(target=self._loop, name="consentry-supervisor", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join()
