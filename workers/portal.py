"""The privacy portal's job: make a one-time link and mail it.

Queued by ``POST /me`` (service.portal.public) with only the contact's id
and the page's language, so no token ever passes through Redis; the token
is made here, its hash stored, and the link sent as system mail.
"""

from __future__ import annotations

import logging
from typing import Any

from arq import Retry

from service.campaigns.sending import Sender
from service.delivery.messenger import Outcome
from service.portal import links

logger = logging.getLogger(__name__)
MAX_TRIES = 3
RETRY_SECONDS = 30


async def send_portal_link(ctx: dict[str, Any], contact_id: int, language: str) -> str:
    """The outcome: ``sent``, ``permanent``, ``gone`` (no such contact or
    address any more) or ``no_relay``. A relay's temporary refusal is tried
    again; each try makes a fresh link (an unsent one just expires)."""
    sender: Sender = ctx["sender"]
    if sender.smtp is None:
        logger.warning("privacy portal: no mail relay configured, so no link was sent")
        return "no_relay"
    outcome = await links.send_link(
        ctx["sessionmaker"],
        sender.smtp,
        settings=ctx["settings"],
        contact_id=contact_id,
        language=language,
    )
    if outcome is None:
        return "gone"
    if outcome is Outcome.TEMPORARY and ctx.get("job_try", 1) < MAX_TRIES:
        raise Retry(defer=RETRY_SECONDS)
    return outcome.value
