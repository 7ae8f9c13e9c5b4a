"""Signup forms' job: a signup's confirmation mail (double opt-in), a thin
wrapper over ``service.forms.confirmation``.

The request queues only the signup's id; the job makes the link's token,
stores its hash and commits before it sends, so the token never travels
through Redis and the link in a mail always works. A job run twice sends a
second mail whose link replaces the first's. A relay that does not accept
the mail now is tried again with back-off; an address it refuses for good
is left alone (the signup expires unconfirmed).
"""

from __future__ import annotations

import logging
from typing import Any

from arq import Retry

from service.campaigns.sending import Sender
from service.db import session_scope
from service.delivery.messenger import Outcome
from service.forms import confirmation

logger = logging.getLogger(__name__)
MAX_TRIES = 5


async def send_signup_confirmation(ctx: dict[str, Any], signup_id: int) -> str:
    sender: Sender = ctx["sender"]
    if sender.smtp is None:
        logger.warning("no SMTP relay is configured: signup %d gets no confirmation", signup_id)
        return "no relay"
    async with session_scope(ctx["sessionmaker"]) as session:
        mail = await confirmation.prepare(session, signup_id, settings=ctx["settings"])
    if mail is None:
        return "not due"
    delivery = await confirmation.send(sender.smtp, mail, settings=ctx["settings"])
    if delivery.outcome is Outcome.SENT:
        return "sent"
    if delivery.address_rejected or ctx.get("job_try", 1) >= MAX_TRIES:
        # The reply text is not logged: a refusal often quotes the address.
        logger.warning(
            "signup %d: the relay did not accept the confirmation (%s)",
            signup_id,
            delivery.code or delivery.outcome.value,
        )
        return "not sent"
    raise Retry(defer=ctx.get("job_try", 1) * 30)
