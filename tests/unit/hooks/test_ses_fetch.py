"""``ses.http_get``, the one function that reaches SNS's host, against a
loopback HTTP server: an answer is returned, a refusal raises, and a host
that cannot answer is ``Unreachable`` (so the hook answers 503 and SNS
retries)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from service.embedded import free_port
from service.hooks.ses import Unreachable, http_get

ANSWERS = {
    "/cert.pem": (200, b"-----BEGIN CERTIFICATE-----"),
    "/missing.pem": (404, b"no such file"),
    "/broken.pem": (503, b"try later"),
    "/redirect.pem": (302, b""),
}


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    request_line = (await reader.readline()).decode()
    while (await reader.readline()) not in (b"\r\n", b""):
        pass
    path = request_line.split(" ")[1]
    status, body = ANSWERS.get(path, (404, b""))
    extra = "Location: http://127.0.0.1:1/elsewhere\r\n" if status == 302 else ""
    writer.write(
        f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n{extra}"
        "Connection: close\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    writer.close()


@pytest.fixture
async def server() -> AsyncIterator[str]:
    port = free_port()
    listener = await asyncio.start_server(_answer, "127.0.0.1", port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        listener.close()
        await listener.wait_closed()


async def test_an_answer_is_returned(server: str) -> None:
    assert await http_get(f"{server}/cert.pem") == b"-----BEGIN CERTIFICATE-----"


@pytest.mark.parametrize("path", ["/missing.pem", "/redirect.pem"])
async def test_a_refusal_or_a_redirect_raises_but_is_not_unreachable(
    server: str, path: str
) -> None:
    with pytest.raises(httpx.HTTPStatusError):
        await http_get(f"{server}{path}")


async def test_a_failing_or_absent_host_is_unreachable(server: str) -> None:
    with pytest.raises(Unreachable):
        await http_get(f"{server}/broken.pem")
    with pytest.raises(Unreachable):
        await http_get(f"http://127.0.0.1:{free_port()}/cert.pem")
