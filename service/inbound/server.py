"""The inbound SMTP listener, run by ``consentry inbound`` and by ``consentry run``.

It accepts mail for the unsubscribe address, the envelope sender (bounce)
addresses (the bounce address also with a VERP ``+token``) and the reply
addresses (MAIL_FROM, REPLY_TO) only, and nothing larger than 10 MB. In
production it usually sits behind the organisation's MX, which forwards those addresses to
it; it speaks plain SMTP without TLS or authentication, so bind it to an
address only that relay can reach.
"""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType

from aiosmtpd.controller import Controller

from service.embedded import EmbeddedServiceError, check_can_listen, start_smtp_server
from service.inbound.handler import InboundHandler, where
from service.settings import Settings

log = logging.getLogger("service.inbound")

# Reports and unsubscribe mails are small; a returned original with
# attachments can be large, but past this it is not worth the disk.
MAX_MESSAGE_BYTES = 10 * 1024 * 1024
# How long a stop waits for messages whose transaction is under way.
_STOP_GRACE = 10.0


class InboundServer:
    """An aiosmtpd Controller (its own thread and event loop) with our handler."""

    def __init__(self, settings: Settings, host: str | None = None, port: int | None = None):
        self.settings = settings
        self.host = host or settings.inbound_host
        self.port = port if port is not None else settings.inbound_port
        self.handler: InboundHandler | None = None
        self._controller: Controller | None = None

    def start(self) -> tuple[str, int]:
        """Start listening and return (host, port)."""
        if self._controller is not None:
            raise EmbeddedServiceError("inbound mail: already listening")
        check_can_listen(
            self.host,
            self.port,
            what="inbound mail: ",
            hint=" (CONSENTRY_INBOUND_HOST, CONSENTRY_INBOUND_PORT)",
        )
        # aiosmtpd logs every command line at INFO, addresses included.
        aiosmtpd_log = logging.getLogger("mail.log")
        aiosmtpd_log.setLevel(max(logging.WARNING, aiosmtpd_log.getEffectiveLevel()))
        # A fresh handler each time: a stopped one refuses mail for good.
        self.handler = InboundHandler(self.settings)
        controller = start_smtp_server(
            self.handler,
            host=self.host,
            port=self.port,
            server_hostname=self.settings.mail_from_address.rpartition("@")[2] or "consentry",
            max_bytes=MAX_MESSAGE_BYTES,
            what="inbound mail",
        )
        self._controller = controller
        return self.host, self.port

    def stop(self) -> None:
        """Stop listening; idempotent. Messages being recorded get a moment to
        finish; any cut short were not answered 250, so their senders retry."""
        controller, self._controller = self._controller, None
        if controller is None:
            return
        assert self.handler is not None
        try:
            # The engine lives on the Controller's loop and must be closed there,
            # before controller.stop() ends that loop.
            closing = asyncio.run_coroutine_threadsafe(
                self.handler.close(_STOP_GRACE), controller.loop
            )
            closing.result(_STOP_GRACE + 5)
        except Exception as exc:
            log.warning("inbound: the database engine was not closed cleanly (%s)", where(exc))
        finally:
            controller.stop()

    def __enter__(self) -> tuple[str, int]:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
