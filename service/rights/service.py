"""Restriction (GDPR 18), objection (21) and legal hold (17(3)(e)) of one contact,
and the sizes of the registers they and erasure leave behind.

Each action may answer a data-subject request (``request_id``), linked in
the same transaction (service.requests.linking). Nothing here commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.consent import service as consent_service
from service.consent.schemas import BanCreate
from service.errors import Conflict, NotFound
from service.models import (
    Contact,
    DataSubjectRequest,
    Erasure,
    LegalHold,
    Objection,
    Restriction,
    Suppression,
)
from service.models.enums import (
    Actor,
    BanChannel,
    BanKind,
    CaptureMethod,
    NotificationCause,
    ObjectionDecision,
    ObjectionScope,
    RequestChannel,
    RequestStatus,
    RequestType,
    Source,
    SuppressionReason,
    VerificationMethod,
)
from service.requests import linking, recipients
from service.requests import service as requests
from service.requests.linking import Action
from service.requests.schemas import RequestClose
from service.rights import lift_notice
from service.rights.schemas import (
    LegalHoldCreate,
    LegalHoldLift,
    LegalHoldRead,
    ObjectionCreate,
    ObjectionDecide,
    ObjectionRead,
    RegisterSizes,
    RestrictionCreate,
    RestrictionLift,
    RestrictionRead,
)
from service.settings import Settings
from service.suppressions import service as suppressions

# -- restriction -------------------------------------------------------------------


async def restrict(
    session: AsyncSession, *, contact: Contact, data: RestrictionCreate, user_id: int | None
) -> RestrictionRead:
    """Keep the contact but take it out of every processing path: the consent
    gate (campaigns, call lists, tracking) reads ``restricted_at``, and edits
    are refused (service.contacts.service.update)."""
    assert contact.id is not None
    if contact.restricted_at is not None:
        raise Conflict(f"contact {contact.id} is already restricted", reason="already_restricted")
    await linking.link(
        session,
        request_id=data.request_id,
        contact_id=contact.id,
        action=Action.RESTRICTION,
        user_id=user_id,
    )
    contact.restricted_at = clock.now()
    session.add(contact)
    session.add(
        Restriction(
            contact_id=contact.id,
            reason=data.reason,
            request_id=data.request_id,
            placed_by_user_id=user_id,
            placed_at=contact.restricted_at,
        )
    )
    await session.flush()
    # GDPR 19: whoever the data was disclosed to is told of the restriction.
    told = await recipients.notify_recipients(
        session,
        contact_id=contact.id,
        cause=NotificationCause.RESTRICTION,
        request_id=data.request_id,
    )
    return RestrictionRead(
        contact_id=contact.id,
        restricted=True,
        restricted_at=contact.restricted_at,
        reason=data.reason,
        request_id=data.request_id,
        recipients_notified=recipients.names(told),
    )


async def lift_restriction(
    session: AsyncSession,
    *,
    contact: Contact,
    data: RestrictionLift,
    user_id: int | None,
    settings: Settings,
) -> RestrictionRead:
    """Lift the restriction, after telling the person (GDPR 18(3)): by mail
    (service.rights.lift_notice), unless ``informed_how`` says how staff told
    them. 409 ``person_not_informed`` when neither happened; nothing is lifted."""
    assert contact.id is not None
    if contact.restricted_at is None:
        raise Conflict(f"contact {contact.id} is not restricted", reason="not_restricted")
    request = None
    if data.request_id is not None:
        # A bad request id is refused before the person is mailed.
        request = await linking.open_request(
            session,
            request_id=data.request_id,
            contact_id=contact.id,
            action=Action.RESTRICTION_LIFTED,
        )
    how = data.informed_how or await lift_notice.inform(contact, settings=settings)
    informed_at = clock.now()
    if request is not None:
        await linking.record(
            session, request=request, action=Action.RESTRICTION_LIFTED, user_id=user_id
        )
    contact.restricted_at = None
    session.add(contact)
    in_force = await session.exec(
        select(Restriction).where(
            col(Restriction.contact_id) == contact.id, col(Restriction.lifted_at).is_(None)
        )
    )
    for restriction in in_force.all():
        restriction.lifted_at = clock.now()
        restriction.lifted_by_user_id = user_id
        restriction.lift_note = data.note
        restriction.person_informed_at = informed_at
        restriction.person_informed_how = how
        session.add(restriction)
    await session.flush()
    return RestrictionRead(
        contact_id=contact.id,
        restricted=False,
        restricted_at=None,
        note=data.note,
        request_id=data.request_id,
        person_informed_at=informed_at,
        person_informed_how=how,
    )


# -- objection ---------------------------------------------------------------------


def _mark_objected(contact: Contact, when: datetime) -> None:
    # The first upheld objection stands; a later one changes nothing here.
    if contact.objected_at is None:
        contact.objected_at = when


async def object_(
    session: AsyncSession,
    *,
    contact: Contact,
    data: ObjectionCreate,
    user_id: int | None,
    actor: Actor = Actor.STAFF,
) -> Objection:
    """Record an objection. To direct marketing it is absolute (GDPR 21(3)):
    upheld at once, a direct-marketing ban on all channels, and the email and
    phone on the suppression list so that a re-import cannot bring them back.
    To other processing it waits for a decision (21(1)). ``actor``: who
    wrote the ban down (staff, or the person in the privacy portal)."""
    assert contact.id is not None
    request = None
    if data.request_id is not None:
        request = await linking.open_request(
            session, request_id=data.request_id, contact_id=contact.id, action=Action.OBJECTION
        )
    now = clock.now()
    direct_marketing = data.scope is ObjectionScope.DIRECT_MARKETING
    objection = Objection(
        contact_id=contact.id,
        scope=data.scope,
        grounds=data.grounds,
        request_id=data.request_id,
        recorded_by_user_id=user_id,
        recorded_at=now,
    )
    if direct_marketing:
        objection.decision = ObjectionDecision.UPHELD
        objection.decided_at = now
        objection.decided_by_user_id = user_id
    session.add(objection)
    await session.flush()
    if direct_marketing:
        if not await consent_service.has_active_ban(
            session, contact_id=contact.id, kind=BanKind.DIRECT_MARKETING
        ):
            ban = BanCreate(
                kind=BanKind.DIRECT_MARKETING,
                channel=BanChannel.ALL,
                source=Source.SELF,
                method=data.method,
                note=f"objection {objection.id}",
            )
            await consent_service.record_ban(
                session, contact=contact, data=ban, actor=actor, user_id=user_id
            )
        _mark_objected(contact, now)
        session.add(contact)
        await suppressions.record_contact(session, contact, reason=SuppressionReason.OBJECTION)
        await session.flush()
    if request is not None:
        await linking.record(session, request=request, action=Action.OBJECTION, user_id=user_id)
    return objection


async def confirm_ban(
    session: AsyncSession, *, request: DataSubjectRequest, user_id: int | None
) -> Objection:
    """An open objection request confirmed in one step: the objection to direct
    marketing upheld (a ban on all channels, the addresses suppressed, as
    :func:`object_`), and the request answered and closed.

    A request that came by reply mail from the contact's registered address
    (service.inbound.replies) counts as verified by that reply; any other
    must be verified first. 409 while the request names no contact: link it
    to the person (PATCH the request) before confirming.
    """
    if request.type is not RequestType.OBJECTION:
        raise Conflict(
            f"request {request.id} is a {request.type.value} request, not an objection",
            reason="not_an_objection",
        )
    if request.status is not RequestStatus.OPEN:
        raise Conflict(f"request {request.id} is already closed", reason="closed")
    if request.contact_id is None:
        raise Conflict(
            f"request {request.id} names no contact yet; link it to the person first",
            reason="no_contact",
        )
    contact = await session.get(Contact, request.contact_id)
    if contact is None:
        raise NotFound(f"no contact with id {request.contact_id}")
    if request.verified_at is None:
        if request.channel is not RequestChannel.REPLY:
            raise Conflict(
                f"request {request.id} must be verified first (POST …/verification)",
                reason="not_verified",
            )
        await requests.verify(
            session,
            request=request,
            method=VerificationMethod.REGISTERED_EMAIL_REPLY.value,
            user_id=user_id,
        )
    assert request.id is not None
    objection = await object_(
        session,
        contact=contact,
        data=ObjectionCreate(
            scope=ObjectionScope.DIRECT_MARKETING,
            method=CaptureMethod.EMAIL,
            request_id=request.id,
        ),
        user_id=user_id,
    )
    outcome = (
        f"Objection to direct marketing upheld (objection {objection.id}): "
        "a direct-marketing ban on all channels."
    )
    await requests.close(
        session,
        request=request,
        data=RequestClose(status=RequestStatus.DONE, outcome=outcome),
        user_id=user_id,
    )
    return objection


async def decide_objection(
    session: AsyncSession,
    *,
    contact: Contact,
    objection_id: int,
    data: ObjectionDecide,
    user_id: int | None,
) -> Objection:
    """Decide an objection to other processing, once. Upholding it stops the
    processing (the gate's ``objected``); rejecting it records the compelling
    legitimate grounds (GDPR 21(1))."""
    assert contact.id is not None
    objection = await session.get(Objection, objection_id)
    if objection is None or objection.contact_id != contact.id:
        raise NotFound(f"contact {contact.id} has no objection with id {objection_id}")
    if objection.decision is not ObjectionDecision.PENDING:
        raise Conflict(
            f"objection {objection_id} was already decided ({objection.decision.value})",
            reason="already_decided",
        )
    await linking.link(
        session,
        request_id=data.request_id,
        contact_id=contact.id,
        action=Action.OBJECTION_DECIDED,
        user_id=user_id,
    )
    now = clock.now()
    objection.decision = ObjectionDecision(data.decision)
    objection.decision_note = data.note
    objection.decided_at = now
    objection.decided_by_user_id = user_id
    session.add(objection)
    if objection.decision is ObjectionDecision.UPHELD:
        _mark_objected(contact, now)
        session.add(contact)
    await session.flush()
    return objection


async def list_objections(session: AsyncSession, *, contact: Contact) -> Sequence[Objection]:
    query = select(Objection).where(Objection.contact_id == contact.id).order_by(col(Objection.id))
    return (await session.exec(query)).all()


def objection_read(objection: Objection) -> ObjectionRead:
    return ObjectionRead.model_validate(objection, from_attributes=True)


# -- legal hold --------------------------------------------------------------------


async def place_hold(
    session: AsyncSession, *, contact: Contact, data: LegalHoldCreate, user_id: int | None
) -> LegalHold:
    """While any hold is in force, neither erasure nor retention touches the contact."""
    assert contact.id is not None
    hold = LegalHold(contact_id=contact.id, reason=data.reason, placed_by_user_id=user_id)
    session.add(hold)
    await session.flush()
    return hold


async def lift_hold(
    session: AsyncSession,
    *,
    contact: Contact,
    hold_id: int,
    data: LegalHoldLift,
    user_id: int | None,
) -> LegalHold:
    """Lift a hold; the row stays, with who lifted it, when and why."""
    hold = await session.get(LegalHold, hold_id)
    if hold is None or hold.contact_id != contact.id:
        raise NotFound(f"contact {contact.id} has no legal hold with id {hold_id}")
    if hold.lifted_at is not None:
        raise Conflict(f"legal hold {hold_id} was already lifted", reason="already_lifted")
    hold.lifted_at = clock.now()
    hold.lifted_by_user_id = user_id
    hold.lift_note = data.note
    session.add(hold)
    await session.flush()
    return hold


async def list_holds(session: AsyncSession, *, contact: Contact) -> Sequence[LegalHold]:
    query = select(LegalHold).where(LegalHold.contact_id == contact.id).order_by(col(LegalHold.id))
    return (await session.exec(query)).all()


def hold_read(hold: LegalHold) -> LegalHoldRead:
    return LegalHoldRead.model_validate(
        {**hold.model_dump(), "active": hold.lifted_at is None}, from_attributes=False
    )


async def register_sizes(session: AsyncSession) -> RegisterSizes:
    """How many addresses are suppressed, contacts erased, legal holds in force."""

    async def count(model: Any, *conditions: Any) -> int:
        query = select(func.count()).select_from(model).where(*conditions)
        return int((await session.exec(query)).one())

    return RegisterSizes(
        suppressions=await count(Suppression),
        erasures=await count(Erasure),
        legal_holds=await count(LegalHold, col(LegalHold.lifted_at).is_(None)),
    )
