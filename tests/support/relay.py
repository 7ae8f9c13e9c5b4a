"""A mail relay in a process of its own, for tests that kill it.

``python -m tests.support.relay PORT OUTBOX`` runs the mail catcher
(service.embedded.MailCatcher: each accepted message an .eml file in OUTBOX)
on 127.0.0.1:PORT until it is signalled."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from service.embedded import HOST, MailCatcher, free_port


def main() -> None:
    port, outbox = int(sys.argv[1]), Path(sys.argv[2])
    catcher = MailCatcher(outbox, port=port)
    catcher.start()
    print("ready", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    catcher.stop()


class RelayProcess:
    """Start, kill and restart the relay on one port and outbox."""

    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox
        self.port = free_port()
        self.host = HOST
        self._proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.relay", str(self.port), str(self.outbox)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        deadline = time.monotonic() + 20
        while self._proc.stdout.readline().strip() != "ready":
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the relay did not start")

    def kill(self) -> None:
        assert self._proc is not None
        self._proc.send_signal(signal.SIGKILL)
        self._proc.wait(10)

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()

    def received(self) -> int:
        return sum(1 for _ in self.outbox.glob("*.eml"))


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    main()
