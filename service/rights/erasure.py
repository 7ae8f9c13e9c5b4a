"""Erasure (GDPR 17; the notice §12.2 and §6): the person's data goes from
every table, and only what must survive it stays.

What stays, holding no readable personal data:

* the suppression list: keyed hashes of the email and phone, so that neither
  sending nor a later import brings the person back;
* campaign recipient rows, anonymised (no contact, no server reply), for the
  campaign's counts;
* data-subject requests, without the requester's words, as proof they were
  answered;
* an ``Erasure`` row (the contact id, when, why), which a restored backup
  replays;
* a task for each recipient the person's data was disclosed to (GDPR 19,
  service.requests.recipients), naming the contact by id only.

Everything else about the person is deleted with the contact row: foreign
keys cascade (consents and their evidence, bans, tags, engagement, profiles,
interactions, disclosures, objections, holds, call-list entries, changes).
The bounce counters of their email and phone go too: keyed like the
suppression list, but kept only for statistics, which need no erased person.
A contact under an active legal hold is not erased: ``OnLegalHold``.

Like every service this never commits; the caller's transaction does.
"""

from __future__ import annotations

from sqlalchemy import delete, exists, select, update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service.contacts import service as contacts_service
from service.db import run
from service.errors import Conflict, NotFound
from service.models import (
    BounceCounter,
    CampaignRecipient,
    Contact,
    DataSubjectRequest,
    DeliveryEventRecord,
    Erasure,
    LegalHold,
)
from service.models.enums import NotificationCause, SuppressionReason
from service.requests import linking, recipients
from service.suppressions import service as suppressions


class OnLegalHold(Conflict):
    """The contact is under an active legal hold (GDPR 17(3)(e)): 409."""

    def __init__(self, contact_id: int) -> None:
        super().__init__(
            f"contact {contact_id} is under a legal hold and cannot be erased",
            reason="legal_hold",
        )


async def is_held(session: AsyncSession, contact_id: int) -> bool:
    query = select(
        exists().where(col(LegalHold.contact_id) == contact_id, col(LegalHold.lifted_at).is_(None))
    )
    return bool((await run(session, query)).scalar())


async def erase_on_request(
    session: AsyncSession, contact_id: int, *, user_id: int | None, request_id: int | None = None
) -> None:
    """Staff erase a person (GDPR 17), answering the open erasure request
    ``request_id`` if given: ``DELETE /api/v1/contacts/{id}`` and the contact
    page's erase button. NotFound, then a refused request, then OnLegalHold."""
    await contacts_service.get(session, contact_id)  # 404 before judging the request id
    linked = None
    if request_id is not None:
        linked = await linking.open_request(
            session, request_id=request_id, contact_id=contact_id, action=linking.Action.ERASURE
        )
    await erase_contact(
        session, contact_id, cause="request", user_id=user_id, request_id=request_id
    )
    if linked is not None:
        await linking.record(
            session, request=linked, action=linking.Action.ERASURE, user_id=user_id
        )


async def erase_contact(
    session: AsyncSession,
    contact_id: int,
    *,
    cause: str,
    user_id: int | None = None,
    request_id: int | None = None,
) -> None:
    """Erase one contact; raise NotFound or OnLegalHold.

    ``cause`` is ``"request"`` or ``"retention:<rule>"``.
    """
    contact = await session.get(Contact, contact_id)
    if contact is None:
        raise NotFound(f"no contact with id {contact_id}")
    if await is_held(session, contact_id):
        raise OnLegalHold(contact_id)
    # GDPR 19: the recipients of disclosed data are told, so the tasks are made
    # from the disclosure log before it goes with the contact.
    await recipients.notify_recipients(
        session, contact_id=contact_id, cause=NotificationCause.ERASURE, request_id=request_id
    )
    await suppressions.record_contact(session, contact, reason=SuppressionReason.ERASURE)
    hashes = [h for h in (contact.email_hash, contact.phone_hash) if h is not None]
    if hashes:
        await run(session, delete(BounceCounter).where(col(BounceCounter.value_hash).in_(hashes)))
        # Bounces and complaints stay counted for their campaigns, pointing at nobody.
        await run(
            session,
            update(DeliveryEventRecord)
            .where(col(DeliveryEventRecord.value_hash).in_(hashes))
            .values(value_hash="", recipient_id=None),
        )
    # Kept for the campaign's counts, with nothing that points at the person:
    # a refusal's reply text often quotes the address.
    await run(
        session,
        update(CampaignRecipient)
        .where(col(CampaignRecipient.contact_id) == contact_id)
        .values(contact_id=None, smtp_reply=None),
    )
    await run(
        session,
        update(DataSubjectRequest)
        .where(col(DataSubjectRequest.contact_id) == contact_id)
        .values(
            contact_id=None,
            requester=None,
            description=None,
            extension_reason=None,
            outcome=None,
        ),
    )
    session.expunge(contact)
    await run(session, delete(Contact).where(col(Contact.id) == contact_id))
    session.add(
        Erasure(
            contact_id=contact_id, cause=cause, request_id=request_id, erased_by_user_id=user_id
        )
    )
    await session.flush()
