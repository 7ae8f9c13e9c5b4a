"""Outgoing delivery over a small pool of reused SMTP connections.

This is the send worker's hot path. aiosmtplib does not pipeline, so one
connection manages ~1.1k msg/s; four reach the client's CPU limit, and a new
connection per message is 2-3x slower (stack-notes §7). Hence the reuse.

`SmtpPool.send` never raises for an SMTP outcome. It returns a `Delivery`
(service.delivery.messenger), and the caller decides whether to retry it
(TEMPORARY), give up (PERMANENT) or suppress the address (`address_rejected`),
and the refusal's class under the one bounce rule (`bounce_class`).

Line endings and dot-stuffing are aiosmtplib's job (5.1.3,
`SMTPProtocol.execute_data_command`): every lone CR or LF becomes CRLF, a final
CRLF is added if missing, a leading "." on any line is doubled and ".\\r\\n"
appended. So `message` may use LF or CRLF and must NOT be dot-stuffed by the
caller. (If the server offers SIZE, aiosmtplib normalises a second time just to
compute SIZE=.)
"""

from __future__ import annotations

import asyncio
import math
from asyncio import sleep
from dataclasses import dataclass, field
from time import monotonic
from typing import Final, Literal

from aiosmtplib import (
    SMTP,
    SMTPDataError,
    SMTPException,
    SMTPHeloError,
    SMTPNotSupported,
    SMTPRecipientsRefused,
    SMTPResponseException,
    SMTPSenderRefused,
)
from aiosmtplib.email import parse_address

from service.delivery.bounces import classify, reason, status_of
from service.delivery.messenger import Delivery, Outcome
from service.models.enums import BounceClass
from service.settings import Settings, SmtpTls

REPLY_LIMIT: Final = 500
# Firewalls and NAT gateways silently drop idle TCP flows (AWS: 350 s), and
# servers time idle clients out (Postfix: 300 s). A connection idle longer than
# this is closed and replaced before use, so the message does not fail on it.
MAX_IDLE_SECONDS: Final = 60.0
# A server that hangs on QUIT must not hold up a worker's shutdown.
QUIT_TIMEOUT: Final = 5.0

_SMTPUTF8: Final = ("SMTPUTF8",)

_Stage = Literal["MAIL", "RCPT", "DATA", "OTHER"]


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # keep it out of logs
    tls: SmtpTls = SmtpTls.NONE
    timeout: float = 30.0  # per connect and per command, not per message

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpConfig:
        if settings.smtp_host is None:
            raise ValueError("CONSENTRY_SMTP_HOST is not set")
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            tls=settings.smtp_tls,
        )


def _refusal(code: int, text: str, stage: _Stage) -> Delivery:
    """Classify a reply that aiosmtplib raised as an error."""
    if 400 <= code < 500:
        return Delivery(
            Outcome.TEMPORARY, code, text[:REPLY_LIMIT], False, bounce_class=BounceClass.SOFT
        )
    if 500 <= code < 600:
        bounce_class = refusal_class(code, text, stage)
        rejected = bounce_class is BounceClass.BAD_ADDRESS
        return Delivery(
            Outcome.PERMANENT, code, text[:REPLY_LIMIT], rejected, bounce_class=bounce_class
        )
    # Malformed replies (aiosmtplib uses -1) and unexpected codes (for example a
    # 250 where 354 was due) show that the session is out of step.
    reply = f"unexpected reply {code} {text}"[:REPLY_LIMIT]
    return Delivery(Outcome.TEMPORARY, None, reply, False)


def refusal_class(code: int, text: str, stage: _Stage) -> BounceClass | None:
    """A permanent refusal under the one bounce rule (service.delivery.bounces),
    with what the stage of the conversation adds to it."""
    # A refused MAIL FROM is about our sender: a policy matter, never the
    # recipient's. EHLO and similar refusals are about our client: no bounce.
    if stage == "MAIL":
        return BounceClass.POLICY
    if stage not in ("RCPT", "DATA"):
        return None
    if status_of(text) is None and reason(text) is None:
        # Neither a code nor words we know: a bare 550/551/553 to RCPT means
        # "no such address"; a bare refusal after DATA is usually about the
        # content. There is one recipient per transaction, so whatever
        # the rule says after DATA is about this address too.
        if stage == "RCPT" and code in (550, 551, 553):
            return BounceClass.BAD_ADDRESS
        if stage == "DATA":
            return BounceClass.POLICY
    return classify(None, text, permanent=True)


def _connection_failure(exc: Exception) -> Delivery:
    # Greeting and AUTH refusals carry a real code worth reporting. They are
    # still temporary, because the message is not at fault.
    if isinstance(exc, SMTPResponseException) and exc.code > 0:
        return Delivery(Outcome.TEMPORARY, exc.code, exc.message[:REPLY_LIMIT], False, True)
    reply = (str(exc) or type(exc).__name__)[:REPLY_LIMIT]
    return Delivery(Outcome.TEMPORARY, None, reply, False, True)


def _unsafe(address: str) -> bool:
    try:
        parse_address(address)
    except ValueError:
        return True
    return False


class TokenBucket:
    """Allow `rate` acquisitions per second on average, with bursts of `burst`.

    A caller that finds the bucket empty reserves the next token: it takes the
    balance below zero and sleeps until that token is due. Concurrent callers
    therefore queue up in order, with no lock and no polling loop.
    """

    __slots__ = ("_burst", "_rate", "_stamp", "_tokens")

    def __init__(self, rate: float, burst: float | None = None) -> None:
        if not 0 < rate < math.inf:
            raise ValueError(f"rate must be a positive number, not {rate!r}")
        self._rate = rate
        self._burst = max(1.0, rate / 10) if burst is None else burst
        self._tokens = self._burst
        self._stamp = monotonic()

    async def acquire(self) -> None:
        now = monotonic()
        tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        self._tokens = tokens - 1
        if tokens >= 1:
            return
        try:
            await sleep((1 - tokens) / self._rate)
        except asyncio.CancelledError:
            self._tokens += 1  # hand the reserved token back to those queued behind
            raise


@dataclass(slots=True)
class _Connection:
    smtp: SMTP
    idle_since: float = 0.0


class SmtpPool:
    """At most `size` SMTP connections, opened lazily and reused.

    Each connection serves one send at a time. A connection that fails (a
    disconnect, a timeout, a garbled reply) is closed and dropped, and a later
    send opens a fresh one. `rate_per_second` limits the pool as a whole.
    """

    def __init__(
        self, config: SmtpConfig, *, size: int = 4, rate_per_second: float | None = None
    ) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1, not {size}")
        self._config = config
        self._size = size
        self._slots = asyncio.Semaphore(size)
        # LIFO, so the most recently used (freshest) connection is reused first.
        self._idle: list[_Connection] = []
        self._open = 0
        self._closed = False
        self._limiter = None if rate_per_second is None else TokenBucket(rate_per_second)

    @property
    def size(self) -> int:
        return self._size

    @property
    def open_connections(self) -> int:
        return self._open

    async def __aenter__(self) -> SmtpPool:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def send(self, *, sender: str, recipient: str, message: bytes) -> Delivery:
        """Deliver `message` (complete RFC 5322 bytes) to one recipient.

        Raises RuntimeError once the pool is closed. Raises ValueError when
        `sender` cannot be put on an SMTP command line. Both are programming
        errors. Every SMTP or network outcome is returned as a Delivery.
        """
        if self._closed:
            raise RuntimeError("SmtpPool is closed")
        if self._limiter is not None:
            await self._limiter.acquire()
        async with self._slots:
            if self._closed:  # closed while this send waited for a slot
                raise RuntimeError("SmtpPool is closed")
            conn = self._checkout()
            if conn is None:
                try:
                    conn = _Connection(await self._connect())
                except (SMTPException, OSError) as exc:
                    return _connection_failure(exc)
                self._open += 1
            return await self._transact(conn, sender, recipient, message)

    async def _connect(self) -> SMTP:
        config = self._config
        smtp = SMTP(
            hostname=config.host,
            port=config.port,
            username=config.username,
            password=config.password,
            timeout=config.timeout,
            use_tls=config.tls is SmtpTls.TLS,
            # Explicitly False for NONE: aiosmtplib's default (None) upgrades
            # whenever the server offers STARTTLS. A certificate the relay
            # cannot verify would then break a setup configured as plain.
            start_tls=config.tls is SmtpTls.STARTTLS,
        )
        await smtp.connect()  # aiosmtplib closes the socket itself if this fails
        return smtp

    def _checkout(self) -> _Connection | None:
        idle = self._idle
        now = monotonic()
        while idle:
            conn = idle.pop()
            # is_connected turns False once the server's close is processed,
            # for example after an idle timeout with a 421.
            if conn.smtp.is_connected and now - conn.idle_since < MAX_IDLE_SECONDS:
                return conn
            self._discard(conn)
        return None

    def _release(self, conn: _Connection) -> None:
        conn.idle_since = monotonic()
        self._idle.append(conn)

    def _discard(self, conn: _Connection) -> None:
        conn.smtp.close()
        self._open -= 1

    async def _transact(
        self, conn: _Connection, sender: str, recipient: str, message: bytes
    ) -> Delivery:
        smtp = conn.smtp
        # aiosmtplib encodes addresses as ASCII unless SMTPUTF8 is requested.
        # A non-ASCII address would otherwise fail with UnicodeEncodeError after
        # MAIL FROM, leaving the session half-way through a transaction.
        options = None if sender.isascii() and recipient.isascii() else _SMTPUTF8
        try:
            _, reply = await smtp.sendmail(sender, [recipient], message, mail_options=options)
        except SMTPRecipientsRefused as exc:
            refused = exc.recipients[0]
            delivery = _refusal(refused.code, refused.message, "RCPT")
        except SMTPSenderRefused as exc:
            delivery = _refusal(exc.code, exc.message, "MAIL")
        except SMTPDataError as exc:
            delivery = _refusal(exc.code, exc.message, "DATA")
        except SMTPHeloError as exc:
            # The server refuses this client, not this message. Give the next
            # send a new session.
            self._discard(conn)
            return _connection_failure(exc)
        except SMTPResponseException as exc:
            delivery = _refusal(exc.code, exc.message, "OTHER")
        except SMTPNotSupported as exc:
            # A non-ASCII address and a relay without SMTPUTF8. Nothing was sent.
            self._release(conn)
            return Delivery(Outcome.PERMANENT, None, exc.message[:REPLY_LIMIT], False)
        except (SMTPException, OSError) as exc:
            self._discard(conn)
            return _connection_failure(exc)
        except ValueError as exc:
            # aiosmtplib refuses addresses with spaces, quotes or angle brackets
            # before it sends anything, so the session is unchanged.
            self._release(conn)
            # A bad sender is a configuration bug that would fail every message,
            # so raise rather than have the caller suppress recipients.
            if _unsafe(sender) or not _unsafe(recipient):
                raise
            reply = f"invalid address: {exc}"[:REPLY_LIMIT]
            return Delivery(
                Outcome.PERMANENT, None, reply, True, bounce_class=BounceClass.BAD_ADDRESS
            )
        except BaseException:
            # Cancelled (or a bug) part-way through a transaction: the session
            # state is unknown, so this connection must not be reused.
            self._discard(conn)
            raise
        else:
            self._release(conn)
            # aiosmtplib raises for any final reply other than 250.
            return Delivery(Outcome.SENT, 250, reply[:REPLY_LIMIT], False)
        # aiosmtplib has already sent RSET after the error reply. After a 421, or
        # when the RSET found the connection gone, it has closed the connection.
        if delivery.code is not None and smtp.is_connected:
            self._release(conn)
        else:
            self._discard(conn)
        return delivery

    async def close(self) -> None:
        """Send QUIT on every open connection and close it. Safe to call more than once."""
        self._closed = True
        acquired = 0
        try:
            # Holding every slot means sends in flight (bounded by the timeout)
            # have finished, so their connections get a QUIT too.
            for _ in range(self._size):
                await self._slots.acquire()
                acquired += 1
            idle, self._idle = self._idle, []
            await asyncio.gather(*(self._quit(conn) for conn in idle))
        finally:
            while self._idle:  # only if close() itself was cancelled
                self._discard(self._idle.pop())
            for _ in range(acquired):
                self._slots.release()

    async def _quit(self, conn: _Connection) -> None:
        try:
            await conn.smtp.quit(timeout=min(QUIT_TIMEOUT, self._config.timeout))
        except (SMTPException, OSError):
            pass  # the server has gone already; closing our end is all that is left
        finally:
            self._discard(conn)
