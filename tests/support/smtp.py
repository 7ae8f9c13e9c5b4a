"""A real SMTP server for tests whose answer depends on the recipient.

``gone@…`` is refused as an unknown mailbox (550 5.1.1), ``later@…`` gets a
temporary 451, ``quota@…`` a temporarily full mailbox (452 4.2.2),
``deferred@…`` a reputation deferral (421 4.7.0), ``full@…`` a full mailbox
(552 5.2.2), ``blocked@…`` a policy block of our IP (550 5.7.606); anything
else is accepted and kept, in arrival order. It offers
SMTPUTF8 (RFC 6531) only when asked to.
"""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from service.embedded import free_port


class _Handler:
    def __init__(self) -> None:
        self.accepted: list[tuple[str, EmailMessage]] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        local = address.split("@")[0].lower()
        if local.startswith("gone"):
            return "550 5.1.1 no such user"
        if local.startswith("later"):
            return "451 4.3.0 try again later"
        if local.startswith("quota"):
            return "452 4.2.2 mailbox over quota, try again later"
        if local.startswith("deferred"):
            return (
                "421 4.7.0 [192.0.2.1] Our system has detected an unusual rate of"
                " unsolicited mail originating from your IP address"
            )
        if local.startswith("full"):
            return "552 5.2.2 mailbox full"
        if local.startswith("blocked"):
            return "550 5.7.606 Access denied, banned sending IP [192.0.2.1]"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        for recipient in envelope.rcpt_tos:
            self.accepted.append((recipient, message))
        return "250 2.0.0 accepted"


class PickySink:
    def __init__(self, *, smtputf8: bool = False) -> None:
        self.handler = _Handler()
        self.port = free_port()
        self._controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, enable_SMTPUTF8=smtputf8
        )

    @property
    def accepted(self) -> list[tuple[str, EmailMessage]]:
        return self.handler.accepted

    def __enter__(self) -> PickySink:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()
