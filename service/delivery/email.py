"""The email messenger: prepared messages out through the worker's SMTP pool."""

from __future__ import annotations

from service.delivery.dkim import DkimSigner, Unsignable
from service.delivery.messenger import Delivery, Outcome, Outgoing
from service.delivery.smtp import SmtpPool
from service.models.enums import Channel


class EmailMessenger:
    """Sends over a shared ``SmtpPool``, with one envelope sender (Return-Path).

    The envelope sender is where delivery reports go: the inbound listener's
    bounce address for campaigns, the transactional Return-Path for system
    mail. Several messengers may share one pool; closing one closes the pool.

    With a DKIM signer (service.delivery.dkim) every message is signed on its
    way out, whichever path made it: campaigns and system mail alike.
    """

    channel = Channel.EMAIL

    def __init__(
        self, pool: SmtpPool, *, envelope_from: str, signer: DkimSigner | None = None
    ) -> None:
        self.pool = pool
        self.envelope_from = envelope_from
        self.signer = signer

    @property
    def concurrency(self) -> int:
        return self.pool.size

    async def open(self) -> None:
        """Nothing to do: the pool connects on first use and keeps connections."""

    async def send(self, message: Outgoing) -> Delivery:
        content = message.content
        if self.signer is not None:
            try:
                content = self.signer.sign(content)
            except Unsignable as exc:
                # This message only: the others are signed and sent.
                return Delivery(Outcome.PERMANENT, None, str(exc), False)
        return await self.pool.send(
            sender=message.envelope_from or self.envelope_from,
            recipient=message.recipient,
            message=content,
        )

    async def close(self) -> None:
        await self.pool.close()
