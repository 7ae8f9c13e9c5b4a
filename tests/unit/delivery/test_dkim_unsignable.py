"""A message dkimpy cannot read fails alone: the messenger answers a
permanent failure for it, and never raises (the batch goes on)."""

from __future__ import annotations

import pytest

from service.delivery import dkim
from service.delivery.email import EmailMessenger
from service.delivery.messenger import Outcome, Outgoing
from service.delivery.smtp import SmtpConfig, SmtpPool
from service.embedded import free_port

BROKEN = b"From: a@example.fi\r\n\x00bad header line\r\n\r\nbody\r\n"


def test_a_header_dkimpy_cannot_read_is_unsignable() -> None:
    signer = dkim.DkimSigner([dkim.SigningKey("s", "example.fi", dkim.generate())])
    with pytest.raises(dkim.Unsignable, match="cannot be DKIM-signed"):
        signer.sign(BROKEN)


async def test_the_messenger_fails_that_message_only() -> None:
    signer = dkim.DkimSigner([dkim.SigningKey("s", "example.fi", dkim.generate())])
    # Nothing listens there: the pool is never reached for this message.
    pool = SmtpPool(SmtpConfig(host="127.0.0.1", port=free_port()), size=1)
    messenger = EmailMessenger(pool, envelope_from="b@example.fi", signer=signer)
    delivery = await messenger.send(Outgoing("c@example.fi", BROKEN, "<x@example.fi>"))
    assert delivery.outcome is Outcome.PERMANENT
    assert delivery.code is None
    assert not delivery.address_rejected
    assert "cannot be DKIM-signed" in delivery.reply
    await pool.close()
