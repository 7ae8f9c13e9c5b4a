"""What every channel has in common: a prepared message, a messenger that
sends it, and the outcome it reports.

A messenger never raises for something about one recipient (a refused
address, a full mailbox, a gateway's "try later"): that is the ``Delivery`` it
returns. What it raises is about our side (the sender address, the pool) and
stops the batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from service.models.enums import BounceClass, Channel, FailureReason


class Outcome(StrEnum):
    SENT = "sent"
    TEMPORARY = "temporary"
    PERMANENT = "permanent"


@dataclass(frozen=True, slots=True)
class Delivery:
    """What happened to one message."""

    outcome: Outcome
    code: int | None  # the relay's reply code; None when no valid reply was received
    reply: str  # the relay's reply text, or the error, cut to 500 characters
    address_rejected: bool  # the recipient's address itself was refused for good
    # No session with the relay (refused, dropped, timed out, greeting or AUTH
    # refused): nothing was learnt about this message or its recipient.
    relay_unavailable: bool = False
    # A refusal's class under the one bounce rule (service.delivery.bounces):
    # only BAD_ADDRESS sets address_rejected; None when nothing was refused.
    bounce_class: BounceClass | None = None


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One prepared message: where it goes, its bytes, and its Message-ID."""

    recipient: str  # an email address or a phone number
    content: bytes  # the whole MIME message, or an SMS's text in UTF-8
    message_id: str
    # Email only: the envelope sender (Return-Path) of this one message, e.g.
    # a VERP address naming it; None means the messenger's own.
    envelope_from: str | None = None


class Unmakeable(Exception):
    """A recipient's message cannot be made (their data breaks the template,
    their address cannot be written): that recipient fails, the batch goes on.

    ``cause`` is the original error; its text is kept on the recipient's row,
    never logged (it may quote the person's data)."""

    def __init__(self, reason: FailureReason, cause: BaseException) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.cause = cause


class Messenger(Protocol):
    """A channel's way out: one prepared message at a time, ``concurrency`` at once."""

    @property
    def channel(self) -> Channel: ...

    @property
    def concurrency(self) -> int: ...

    async def open(self) -> None: ...

    async def send(self, message: Outgoing) -> Delivery: ...

    async def close(self) -> None: ...
