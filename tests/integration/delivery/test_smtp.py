"""SmtpPool against real SMTP servers on 127.0.0.1: a scripted aiosmtpd and the MailCatcher."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

import service.delivery.smtp as smtp_module
from service.delivery.messenger import Delivery, Outcome
from service.delivery.smtp import SmtpConfig, SmtpPool, TokenBucket
from service.embedded import MailCatcher, free_port
from service.models.enums import BounceClass
from service.settings import SmtpTls, load_settings

HOST = "127.0.0.1"
SENDER = "news@example.org"
MESSAGE = b"From: news@example.org\r\nTo: someone@example.net\r\nSubject: Hi\r\n\r\nHello\r\n"


class ScriptedHandler:
    """Replies chosen by the recipient's local part. Counts sessions, QUITs and concurrency.

    It runs in the controller's thread. The counters are written there and read by
    the tests only after the client has its reply, so plain ints are enough.
    """

    RCPT = {
        "temp": "451 4.3.0 try later",
        "gone": "550 5.1.1 no such user",
        "bare550": "550 no such user here",
        "policy": "550 5.7.1 rejected by policy",
        "badsender": "553 5.1.8 sender domain does not exist",
        "closing": "421 4.7.0 shutting down",
        "banned": "550 5.7.606 Access denied, banned sending IP [192.0.2.1]",
        "listed": "550 Blocked: listed at zen.spamhaus.org",
        "mystery": "553 no",
    }
    DATA = {
        "full": "552 5.2.2 mailbox full",
        "spam": "554 transaction failed",
        "grey": "451 4.7.1 greylisted",
        "late": "550 5.1.1 unknown user",
        "toobig": "552 message size exceeds fixed maximum message size",
        "nouser": "550 no such user here",
    }

    def __init__(self) -> None:
        self.sessions: dict[int, Any] = {}  # the value keeps the session alive, so ids stay unique
        self.quits = 0
        self.active = 0
        self.max_active = 0

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self.sessions[id(session)] = session
        if address.startswith("refused@"):
            return "550 5.1.7 sender refused"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        reply = self.RCPT.get(address.partition("@")[0])
        if reply is None:
            envelope.rcpt_tos.append(address)
            return "250 OK"
        return reply

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        local = envelope.rcpt_tos[0].partition("@")[0]
        if local == "drop":
            server.transport.close()
            # connection_lost() cancels this coroutine, so no reply is ever sent.
            await asyncio.sleep(10)
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            if local == "slow":
                await asyncio.sleep(0.05)
        finally:
            self.active -= 1
        return self.DATA.get(local, "250 2.0.0 queued")

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        self.quits += 1
        return "221 Bye"


@dataclass
class Scripted:
    handler: ScriptedHandler
    port: int

    def pool(self, size: int = 4, **kwargs: Any) -> SmtpPool:
        return SmtpPool(SmtpConfig(HOST, self.port, **kwargs), size=size)


@pytest.fixture(scope="module")
def scripted() -> Iterator[Scripted]:
    handler = ScriptedHandler()
    controller = Controller(
        handler,
        hostname=HOST,
        port=free_port(),
        server_hostname="scripted",
        ready_timeout=10,
        # Like many relays, and unlike aiosmtpd's Controller default.
        enable_SMTPUTF8=False,
    )
    controller.start()
    try:
        yield Scripted(handler, controller.port)
    finally:
        controller.stop()


async def _send(pool: SmtpPool, recipient: str, sender: str = SENDER) -> Delivery:
    return await pool.send(sender=sender, recipient=recipient, message=MESSAGE)


def _stored(outbox: Path) -> list[bytes]:
    """The MailCatcher's .eml files, in arrival order."""
    return [path.read_bytes() for path in sorted(outbox.glob("*.eml"))]


def _campaign_message() -> bytes:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = SENDER
    msg["To"] = "ok@example.net"
    msg["Subject"] = "Winter offer ❄"
    # Without dot-stuffing the lone "." would end DATA early and "..two dots"
    # would arrive with one dot.
    msg.set_content("Hello,\n.\n..two dots\nFrom here on: 8bit ünïcode\n")
    return msg.as_bytes()


async def test_message_arrives_byte_for_byte(tmp_path: Path) -> None:
    message = _campaign_message()
    with MailCatcher(tmp_path) as (host, port):
        async with SmtpPool(SmtpConfig(host, port)) as pool:
            delivery = await pool.send(sender=SENDER, recipient="ok@example.net", message=message)
            # aiosmtplib turns bare LFs into CRLF, so LF-only bytes arrive identical.
            lf_only = message.replace(b"\r\n", b"\n")
            lf_delivery = await pool.send(
                sender=SENDER, recipient="lf@example.net", message=lf_only
            )
    assert delivery == Delivery(Outcome.SENT, 250, "2.0.0 Message stored", False)
    assert lf_delivery.outcome is Outcome.SENT
    stored = _stored(tmp_path)
    envelope = b"X-Envelope-From: news@example.org\r\nX-Envelope-To: %s\r\n"
    assert stored == [
        envelope % b"ok@example.net" + message,
        envelope % b"lf@example.net" + message,
    ]
    received = email.message_from_bytes(stored[0], policy=email.policy.default)
    original = email.message_from_bytes(message, policy=email.policy.default)
    del received["X-Envelope-From"], received["X-Envelope-To"]
    assert received.as_bytes() == original.as_bytes()
    assert received["Subject"] == "Winter offer ❄"


async def test_non_ascii_address_uses_smtputf8(tmp_path: Path, scripted: Scripted) -> None:
    with MailCatcher(tmp_path) as (host, port):
        async with SmtpPool(SmtpConfig(host, port)) as pool:
            assert (await _send(pool, "jörg@example.net")).outcome is Outcome.SENT
    assert "X-Envelope-To: jörg@example.net\r\n".encode() in _stored(tmp_path)[0]
    # The scripted server does not offer SMTPUTF8: refused before anything is sent.
    async with scripted.pool(size=1) as pool:
        delivery = await _send(pool, "jörg@example.net")
        assert (delivery.outcome, delivery.code, delivery.address_rejected) == (
            Outcome.PERMANENT,
            None,
            False,
        )
        assert (await _send(pool, "ok@example.net")).outcome is Outcome.SENT


BAD, SOFT, POLICY = BounceClass.BAD_ADDRESS, BounceClass.SOFT, BounceClass.POLICY


@pytest.mark.parametrize(
    ("recipient", "outcome", "code", "bounce_class"),
    [
        ("ok@example.net", Outcome.SENT, 250, None),
        ("temp@example.net", Outcome.TEMPORARY, 451, SOFT),
        ("gone@example.net", Outcome.PERMANENT, 550, BAD),
        ("bare550@example.net", Outcome.PERMANENT, 550, BAD),
        ("policy@example.net", Outcome.PERMANENT, 550, POLICY),
        ("badsender@example.net", Outcome.PERMANENT, 553, POLICY),
        ("closing@example.net", Outcome.TEMPORARY, 421, SOFT),
        # Our IP's problem, not the recipient's: never the address.
        ("banned@example.net", Outcome.PERMANENT, 550, POLICY),
        ("listed@example.net", Outcome.PERMANENT, 550, POLICY),
        # A bare 553 to RCPT with no words: "no such address", as before.
        ("mystery@example.net", Outcome.PERMANENT, 553, BAD),
        ("full@example.net", Outcome.PERMANENT, 552, SOFT),
        ("toobig@example.net", Outcome.PERMANENT, 552, SOFT),
        # A bare refusal after DATA is about the content.
        ("spam@example.net", Outcome.PERMANENT, 554, POLICY),
        ("grey@example.net", Outcome.TEMPORARY, 451, SOFT),
        ("late@example.net", Outcome.PERMANENT, 550, BAD),
        ("nouser@example.net", Outcome.PERMANENT, 550, BAD),
    ],
)
async def test_replies_are_classified_and_the_connection_survives(
    scripted: Scripted,
    recipient: str,
    outcome: Outcome,
    code: int,
    bounce_class: BounceClass | None,
) -> None:
    sessions_before = len(scripted.handler.sessions)
    async with scripted.pool(size=1) as pool:
        delivery = await _send(pool, recipient)
        assert (delivery.outcome, delivery.code, delivery.bounce_class) == (
            outcome,
            code,
            bounce_class,
        )
        # Only a bad address is suppressed at send time.
        assert delivery.address_rejected is (bounce_class is BAD)
        assert delivery.reply
        assert (await _send(pool, "ok@example.net")).outcome is Outcome.SENT
    # After an error reply aiosmtplib sends RSET and the session is reused.
    # After a 421 the server is closing, so a new session is needed.
    expected_sessions = 2 if code == 421 else 1
    assert len(scripted.handler.sessions) - sessions_before == expected_sessions


async def test_refused_sender_is_permanent_but_not_the_recipients_fault(
    scripted: Scripted,
) -> None:
    async with scripted.pool() as pool:
        delivery = await _send(pool, "ok@example.net", sender="refused@example.org")
    assert delivery == Delivery(
        Outcome.PERMANENT, 550, "5.1.7 sender refused", False, bounce_class=BounceClass.POLICY
    )


async def test_unsafe_addresses(scripted: Scripted) -> None:
    async with scripted.pool() as pool:
        delivery = await _send(pool, "a b@example.net")
        assert (delivery.outcome, delivery.code, delivery.address_rejected) == (
            Outcome.PERMANENT,
            None,
            True,
        )
        # A bad sender would fail every message: a bug to raise, not recipients to suppress.
        with pytest.raises(ValueError, match="not permitted"):
            await _send(pool, "ok@example.net", sender="news letter@example.org")
        assert (await _send(pool, "ok@example.net")).outcome is Outcome.SENT
        assert pool.open_connections == 1


async def test_connections_are_reused_and_quit_on_close(scripted: Scripted) -> None:
    handler = scripted.handler
    sessions_before, quits_before = len(handler.sessions), handler.quits
    pool = scripted.pool(size=4)
    deliveries = await asyncio.gather(*(_send(pool, f"u{i}@example.net") for i in range(50)))
    assert {d.outcome for d in deliveries} == {Outcome.SENT}
    opened = len(handler.sessions) - sessions_before
    assert 1 <= opened <= 4
    assert pool.open_connections == opened
    for _ in range(10):
        await _send(pool, "ok@example.net")
    assert len(handler.sessions) - sessions_before == opened
    await pool.close()
    await pool.close()
    assert pool.open_connections == 0
    assert handler.quits - quits_before == opened
    with pytest.raises(RuntimeError, match="closed"):
        await _send(pool, "ok@example.net")


async def test_sends_run_concurrently_up_to_the_pool_size(scripted: Scripted) -> None:
    scripted.handler.max_active = 0
    async with scripted.pool(size=4) as pool:
        deliveries = await asyncio.gather(*(_send(pool, "slow@example.net") for _ in range(8)))
    assert {d.outcome for d in deliveries} == {Outcome.SENT}
    assert 2 <= scripted.handler.max_active <= 4


async def test_dropped_connection_is_temporary_and_replaced(scripted: Scripted) -> None:
    sessions_before = len(scripted.handler.sessions)
    async with scripted.pool(size=1) as pool:
        delivery = await _send(pool, "drop@example.net")
        assert (delivery.outcome, delivery.code) == (Outcome.TEMPORARY, None)
        assert delivery.relay_unavailable
        assert pool.open_connections == 0
        assert (await _send(pool, "ok@example.net")).outcome is Outcome.SENT
        assert pool.open_connections == 1
    assert len(scripted.handler.sessions) - sessions_before == 2


async def test_connection_refused_is_temporary_without_code() -> None:
    async with SmtpPool(SmtpConfig(HOST, free_port())) as pool:
        delivery = await _send(pool, "ok@example.net")
        assert (delivery.outcome, delivery.code, delivery.address_rejected) == (
            Outcome.TEMPORARY,
            None,
            False,
        )
        assert "refused" in delivery.reply.lower() or "connect" in delivery.reply.lower()
        assert delivery.relay_unavailable
        assert pool.open_connections == 0


@pytest.fixture
async def raw_server() -> AsyncIterator[tuple[int, list[bytes]]]:
    """A TCP server that sends `greeting[0]` (if set) and then never answers."""
    greeting: list[bytes] = []
    writers: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        if greeting:
            writer.write(greeting[0])

    server = await asyncio.start_server(accept, HOST, 0)
    try:
        yield server.sockets[0].getsockname()[1], greeting
    finally:
        for writer in writers:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_silent_server_times_out_as_temporary(raw_server: tuple[int, list[bytes]]) -> None:
    port, _ = raw_server
    async with SmtpPool(SmtpConfig(HOST, port, timeout=0.2)) as pool:
        delivery = await _send(pool, "ok@example.net")
    assert (delivery.outcome, delivery.code) == (Outcome.TEMPORARY, None)
    assert "timed out" in delivery.reply.lower()


async def test_refusing_greeting_is_temporary_with_its_code(
    raw_server: tuple[int, list[bytes]],
) -> None:
    port, greeting = raw_server
    greeting.append(b"554 5.7.1 no service for you\r\n")
    async with SmtpPool(SmtpConfig(HOST, port)) as pool:
        delivery = await _send(pool, "ok@example.net")
    # No session: the relay said nothing about this message or its recipient.
    assert delivery == Delivery(
        Outcome.TEMPORARY, 554, "5.7.1 no service for you", False, relay_unavailable=True
    )


class FakeTime:
    """Replaces the module's monotonic() and sleep(). sleep() moves the clock only if `advance`."""

    def __init__(self, *, advance: bool) -> None:
        self.now = 1000.0
        self.advance = advance
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.advance:
            self.now += seconds


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime(advance=False)
    monkeypatch.setattr(smtp_module, "monotonic", fake.monotonic)
    monkeypatch.setattr(smtp_module, "sleep", fake.sleep)
    return fake


async def test_rate_limit_spaces_pool_sends(scripted: Scripted, fake_time: FakeTime) -> None:
    # 100/s gives a burst of 10. With the clock frozen, the other 20 sends each
    # reserve the next token: waits of 10 ms, 20 ms, ... 200 ms.
    pool = SmtpPool(SmtpConfig(HOST, scripted.port), rate_per_second=100)
    async with pool:
        deliveries = await asyncio.gather(*(_send(pool, "ok@example.net") for _ in range(30)))
    assert {d.outcome for d in deliveries} == {Outcome.SENT}
    assert sorted(fake_time.sleeps) == pytest.approx([k / 100 for k in range(1, 21)])


async def test_token_bucket_refills_with_time(fake_time: FakeTime) -> None:
    fake_time.advance = True
    bucket = TokenBucket(50)  # burst 5
    for _ in range(25):
        await bucket.acquire()
    # 5 free, then 20 at 50/s: 0.4 s of (fake) waiting, in equal steps.
    assert fake_time.sleeps == pytest.approx([0.02] * 20)
    fake_time.now += 10  # a long pause refills only up to the burst
    fake_time.sleeps.clear()
    for _ in range(6):
        await bucket.acquire()
    assert fake_time.sleeps == pytest.approx([0.02])


async def test_token_bucket_returns_token_of_a_cancelled_waiter(
    fake_time: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = TokenBucket(1)
    await bucket.acquire()
    blocked = asyncio.Event()

    async def block(seconds: float) -> None:
        blocked.set()
        await asyncio.Event().wait()

    monkeypatch.setattr(smtp_module, "sleep", block)
    waiter = asyncio.create_task(bucket.acquire())
    await blocked.wait()
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    monkeypatch.setattr(smtp_module, "sleep", fake_time.sleep)
    await bucket.acquire()
    assert fake_time.sleeps == pytest.approx([1.0])  # not 2.0: the cancelled slot came back


async def test_idle_connection_is_replaced(scripted: Scripted, fake_time: FakeTime) -> None:
    sessions_before = len(scripted.handler.sessions)
    async with scripted.pool(size=1) as pool:
        await _send(pool, "ok@example.net")
        fake_time.now += smtp_module.MAX_IDLE_SECONDS + 1
        assert (await _send(pool, "ok@example.net")).outcome is Outcome.SENT
        assert pool.open_connections == 1
    assert len(scripted.handler.sessions) - sessions_before == 2


@pytest.mark.parametrize(
    ("tls", "username", "error"),
    [
        # No certificates here, so the TLS paths are checked by how a plain server fails them.
        (SmtpTls.STARTTLS, None, "starttls"),
        (SmtpTls.TLS, None, "ssl"),
        (SmtpTls.NONE, "campaigns", "auth"),
    ],
)
async def test_tls_and_login_options_reach_aiosmtplib(
    scripted: Scripted, tls: SmtpTls, username: str | None, error: str
) -> None:
    async with scripted.pool(tls=tls, username=username, password="pw", timeout=5) as pool:
        delivery = await _send(pool, "ok@example.net")
    assert (delivery.outcome, delivery.code) == (Outcome.TEMPORARY, None)
    assert error in delivery.reply.lower()


@pytest.mark.parametrize(
    ("tls", "port"), [("none", 25), ("starttls", 587), ("tls", 465), ("TLS", 465)]
)
def test_config_from_settings(tmp_path: Path, tls: str, port: int) -> None:
    settings = load_settings(
        {
            "CONSENTRY_VAR_DIR": str(tmp_path),
            "CONSENTRY_SMTP_HOST": "mail.example.org",
            "CONSENTRY_SMTP_TLS": tls,
            "CONSENTRY_SMTP_USERNAME": "campaigns",
            "CONSENTRY_SMTP_PASSWORD": "hunter2-secret",
        }
    )
    config = SmtpConfig.from_settings(settings)
    assert config == SmtpConfig(
        "mail.example.org", port, "campaigns", "hunter2-secret", SmtpTls(tls.lower())
    )
    assert "hunter2" not in repr(config)
    with pytest.raises(ValueError, match="SMTP_HOST"):
        SmtpConfig.from_settings(load_settings({"CONSENTRY_VAR_DIR": str(tmp_path)}))


def test_invalid_pool_arguments() -> None:
    with pytest.raises(ValueError, match="size"):
        SmtpPool(SmtpConfig(HOST, 25), size=0)
    with pytest.raises(ValueError, match="rate"):
        SmtpPool(SmtpConfig(HOST, 25), rate_per_second=0)
