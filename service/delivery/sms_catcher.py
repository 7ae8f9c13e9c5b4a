"""The local SMS catcher: an HTTP gateway on 127.0.0.1 that keeps each message
as a file and sends nothing, for ``consentry run`` without
``CONSENTRY_SMS_GATEWAY_URL`` (as the mail catcher stands in for a relay).

It speaks the gateway protocol the SMS messenger speaks (service.delivery.sms):
``POST`` of ``{"to", "text", "message_id"}``; 202 when kept, 400 with
``{"error": "invalid_number"}`` for a number that is not E.164, 400 with
``{"error": "bad_request"}`` for anything else it cannot read. Each message is
``<outbox>/<message_id>.json`` (mode 0600: it holds a phone number); a message
sent again under its id replaces its file, so a re-sent batch shows once.

``LocalHttpServer`` is the small HTTP/1.1 server under it, on an event loop
in a thread of its own, so that synchronous code (``consentry run``) and
tests alike can start and stop it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from service.embedded import HOST, EmbeddedServiceError, check_can_listen, free_port
from service.private import open_private, private_dir

DEFAULT_SMS_OUTBOX = Path("var/sms-outbox")
MAX_BODY_BYTES = 64 * 1024
_MAX_HEADER_BYTES = 16 * 1024
_START_TIMEOUT = 10.0
_E164 = re.compile(r"\+[1-9]\d{6,14}")
_MESSAGE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_REASONS = {200: "OK", 202: "Accepted", 400: "Bad Request", 404: "Not Found", 413: "Too Large"}


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    body: dict[str, Any]


Handler = Callable[[HttpRequest], Awaitable[HttpResponse]]


class LocalHttpServer:
    """A minimal HTTP/1.1 server (Content-Length bodies, keep-alive) on 127.0.0.1,
    answering every request with what ``handler`` returns."""

    def __init__(self, handler: Handler, *, port: int | None = None, what: str = "server") -> None:
        self._handler = handler
        self.port = port
        self.what = what
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    def start(self) -> str:
        """Listen, and return the URL."""
        if self._thread is not None:
            raise EmbeddedServiceError(f"{self.what} is already running")
        port = self.port if self.port is not None else free_port()
        check_can_listen(HOST, port, what=f"{self.what}: ")
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(self._connection, HOST, port)
                )
            except OSError as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            server = self._server
            ready.set()
            try:
                loop.run_forever()
            finally:
                server.close()
                # Connections still open (a client keeping one alive, a
                # request being answered) end with the server.
                tasks = asyncio.all_tasks(loop)
                for task in tasks:
                    task.cancel()
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
                loop.close()

        thread = threading.Thread(target=serve, name=self.what, daemon=True)
        thread.start()
        if not ready.wait(_START_TIMEOUT) or failure:
            raise EmbeddedServiceError(
                f"{self.what} could not listen on {HOST}:{port}: {failure[0] if failure else ''}"
            )
        self._loop, self._thread, self.port = loop, thread, port
        return self.url

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def restart(self) -> None:
        """Listen again on the same port after the thread ended."""
        if self.alive():
            raise EmbeddedServiceError(f"{self.what} is still running")
        self._thread = self._loop = self._server = None
        self.start()

    def stop(self) -> None:
        """Stop listening and end open connections; idempotent."""
        loop, thread, server = self._loop, self._thread, self._server
        self._loop = self._thread = self._server = None
        if loop is None or thread is None:
            return
        if server is not None:
            loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(_START_TIMEOUT)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    return
                if isinstance(request, HttpResponse):
                    await _write(writer, request, keep_alive=False)
                    return
                response = await self._handler(request)
                keep = request.headers.get("connection", "").lower() != "close"
                await _write(writer, response, keep_alive=keep)
                if not keep:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


async def _read_request(reader: asyncio.StreamReader) -> HttpRequest | HttpResponse | None:
    """The next request; None at the end of the connection; a response to
    send and close with when the request cannot be read."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    except asyncio.LimitOverrunError:
        return HttpResponse(400, {"error": "bad_request"})
    if len(head) > _MAX_HEADER_BYTES:
        return HttpResponse(400, {"error": "bad_request"})
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        return HttpResponse(400, {"error": "bad_request"})
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    raw_length = headers.get("content-length", "0")
    if not (raw_length.isascii() and raw_length.isdigit()):
        return HttpResponse(400, {"error": "bad_request"})
    if int(raw_length) > MAX_BODY_BYTES:
        return HttpResponse(413, {"error": "too_large"})
    body = await reader.readexactly(int(raw_length))
    return HttpRequest(parts[0], parts[1], headers, body)


async def _write(writer: asyncio.StreamWriter, response: HttpResponse, *, keep_alive: bool) -> None:
    body = json.dumps(response.body).encode()
    head = (
        f"HTTP/1.1 {response.status} {_REASONS.get(response.status, 'Status')}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
    )
    writer.write(head.encode() + body)
    await writer.drain()


def read_message(body: bytes) -> tuple[str, str, str] | HttpResponse:
    """``(to, text, message_id)`` of a gateway request, or the 400 to answer."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return HttpResponse(400, {"error": "bad_request"})
    if not isinstance(data, dict):
        return HttpResponse(400, {"error": "bad_request"})
    to, text, message_id = data.get("to"), data.get("text"), data.get("message_id")
    if not (isinstance(text, str) and isinstance(message_id, str)):
        return HttpResponse(400, {"error": "bad_request"})
    if not (isinstance(to, str) and _E164.fullmatch(to)):
        return HttpResponse(400, {"error": "invalid_number"})
    if not _MESSAGE_ID.fullmatch(message_id):
        return HttpResponse(400, {"error": "bad_request"})
    return to, text, message_id


class SmsCatcher(LocalHttpServer):
    """The local SMS gateway: each accepted message a private file in ``outbox``."""

    def __init__(self, outbox: Path = DEFAULT_SMS_OUTBOX, port: int | None = None) -> None:
        super().__init__(self._accept, port=port, what="SMS catcher")
        self.outbox = outbox

    def start(self) -> str:
        private_dir(self.outbox)
        return super().start()

    async def _accept(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return HttpResponse(404, {"error": "not_found"})
        message = read_message(request.body)
        if isinstance(message, HttpResponse):
            return message
        to, text, message_id = message
        try:
            self._store(message_id, {"to": to, "text": text, "message_id": message_id})
        except OSError:
            # The messenger keeps the recipient queued and tries again.
            return HttpResponse(503, {"error": "cannot_store"})
        return HttpResponse(202, {"status": "accepted", "message_id": message_id})

    def _store(self, message_id: str, message: dict[str, str]) -> None:
        final = self.outbox / f"{message_id}.json"
        tmp = final.with_name(f".{final.name}.{threading.get_ident()}.tmp")
        try:
            with os.fdopen(open_private(tmp, os.O_WRONLY | os.O_TRUNC), "w") as handle:
                json.dump(message, handle, ensure_ascii=False)
            os.replace(tmp, final)
        except OSError:
            tmp.unlink(missing_ok=True)
            raise

    def messages(self) -> list[dict[str, str]]:
        """Every kept message, in file-name order."""
        found: list[dict[str, str]] = []
        for path in sorted(self.outbox.glob("*.json")):
            found.append(json.loads(path.read_text()))
        return found
