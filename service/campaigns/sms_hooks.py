"""``POST /hooks/sms``: the SMS gateway's inbound messages, where a STOP reply
withdraws SMS marketing (docs/deliverability.md, "SMS").

The gateway posts ``{"from": "+358…", "text": "…"}`` with ``Authorization:
Bearer CONSENTRY_SMS_HOOK_SECRET``. Without the secret configured the route
answers 404; a missing or wrong secret 401, and nothing changes. A text that
is, trimmed and in any letter case, one of the stop words (``STOP``,
``STOPP``, ``LOPETA``, ``PERU``, ``SLUTA``; a trailing full stop or
exclamation mark allowed) withdraws the SMS direct-marketing consent of every
contact with that number, as the person's own act (method ``sms``). Any other
text changes nothing. The number is matched by its keyed hash, as contacts
store it, and never logged.

Like a "stop" reply by mail, a sender's number can be forged; that is why
this only ever withdraws.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from litestar import Controller, Request, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.exceptions import ClientException, NotAuthorizedException, NotFoundException
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.consent.unsubscribe import Scope, unsubscribe
from service.crypto import DataCipher
from service.models import Contact
from service.models.enums import CaptureMethod
from service.openapi import error_responses
from service.settings import Settings
from service.validation import InvalidValue, normalize_phone

logger = logging.getLogger(__name__)

Session = NamedDependency[AsyncSession]
STOP_WORDS = frozenset({"stop", "stopp", "lopeta", "peru", "sluta"})
MAX_HOOK_BYTES = 4_096


def is_stop(text: str) -> bool:
    """Whether a reply asks to stop: one stop word, nothing else."""
    return text.strip().rstrip(".!").strip().casefold() in STOP_WORDS


async def stop_by_number(session: AsyncSession, *, phone_hash: str) -> int:
    """Withdraw SMS marketing for the contacts with this number; how many there were."""
    found = await session.exec(select(Contact.id).where(col(Contact.phone_hash) == phone_hash))
    contact_ids = [contact_id for contact_id in found.all() if contact_id is not None]
    for contact_id in contact_ids:
        await unsubscribe(
            session,
            contact_id=contact_id,
            campaign_id=None,
            scopes={Scope.SMS},
            method=CaptureMethod.SMS,
            ip=None,
        )
    return len(contact_ids)


def _authenticate(request: Request[Any, Any, State]) -> None:
    settings: Settings = request.app.state.settings
    secret = settings.sms_hook_secret
    if secret is None:
        raise NotFoundException()
    given = request.headers.get("authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {secret}".encode()):
        raise NotAuthorizedException("a valid Authorization: Bearer secret is required")


class SmsHookController(Controller):
    path = "/hooks/sms"
    tags = ["hooks"]

    @post(
        "/",
        status_code=200,
        summary="The SMS gateway's inbound message (a STOP reply)",
        request_max_body_size=MAX_HOOK_BYTES,
        responses=error_responses(
            {
                401: "The Authorization header does not carry CONSENTRY_SMS_HOOK_SECRET.",
                404: "CONSENTRY_SMS_HOOK_SECRET is not set: the hook is off.",
            }
        ),
    )
    async def inbound_sms(
        self,
        request: Request[Any, Any, State],
        db_session: Session,
        cipher: NamedDependency[DataCipher],
    ) -> dict[str, str]:
        """``{"from": "+358…", "text": "…"}`` with ``Authorization: Bearer
        CONSENTRY_SMS_HOOK_SECRET``. A stop word withdraws SMS marketing for
        that number (``{"status": "stopped"}``); any other text changes
        nothing (``{"status": "ignored"}``)."""
        _authenticate(request)
        body = await request.json()
        if not isinstance(body, dict):
            raise ClientException('the body must be {"from": "+358…", "text": "…"}')
        sender, text = body.get("from"), body.get("text")
        if not isinstance(sender, str) or not isinstance(text, str):
            raise ClientException('the body must be {"from": "+358…", "text": "…"}')
        if not is_stop(text):
            return {"status": "ignored"}
        try:
            number = normalize_phone(sender)
        except InvalidValue:
            return {"status": "ignored"}
        count = await stop_by_number(
            session=db_session, phone_hash=cipher.lookup_hash("phone", number)
        )
        logger.info("SMS stop reply: SMS marketing withdrawn for %d contacts", count)
        return {"status": "stopped"}
