"""The requests register (GDPR 12, the notice §13): record, verify, extend, close.

Each step that acts on a request is also written as a ``RequestAction``, so
the request shows what was done, when and by whom; the rights workflows
(export, erasure, …) link their actions to a request through ``record_action``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.errors import Conflict, InvalidInput, NotFound
from service.labels import N_
from service.models import Contact, DataSubjectRequest, RequestAction
from service.models.enums import RequestStatus, VerificationMethod
from service.requests import deadlines
from service.requests.schemas import (
    ExtensionCreate,
    RequestActionRead,
    RequestClose,
    RequestCreate,
    RequestDetail,
    RequestPage,
    RequestRead,
    RequestUpdate,
)

# The actions this module records; the rights workflows add their own names.
VERIFIED = "verified"
EXTENDED = "extended"
CLOSED = "closed"


async def get(session: AsyncSession, request_id: int) -> DataSubjectRequest:
    request = await session.get(DataSubjectRequest, request_id)
    if request is None:
        raise NotFound(f"no request with id {request_id}")
    return request


async def create(
    session: AsyncSession, *, data: RequestCreate, user_id: int | None
) -> DataSubjectRequest:
    await _check_contact(session, data.contact_id)
    request = DataSubjectRequest(
        **data.model_dump(),
        due_on=deadlines.due_date(data.received_on),
        recorded_by_user_id=user_id,
    )
    session.add(request)
    await session.flush()
    return request


async def update(
    session: AsyncSession, *, request: DataSubjectRequest, data: RequestUpdate
) -> DataSubjectRequest:
    _require_open(request)
    changes = data.model_dump(exclude_unset=True)
    if "contact_id" in changes:
        await _check_contact(session, changes["contact_id"])
    for name, value in changes.items():
        setattr(request, name, value)
    session.add(request)
    await session.flush()
    return request


async def list_(
    session: AsyncSession,
    *,
    status: RequestStatus | None = None,
    type_: str | None = None,
    contact_id: int | None = None,
    due_within_days: int | None = None,
    overdue: bool | None = None,
    limit: int,
    offset: int,
) -> tuple[Sequence[DataSubjectRequest], int]:
    """Requests matching every filter given, the most urgent first."""
    today = clock.today()
    due = func.coalesce(col(DataSubjectRequest.extended_due_on), col(DataSubjectRequest.due_on))
    is_open = col(DataSubjectRequest.status) == RequestStatus.OPEN
    conditions: list[Any] = []
    if status is not None:
        conditions.append(col(DataSubjectRequest.status) == status)
    if type_ is not None:
        conditions.append(col(DataSubjectRequest.type) == type_)
    if contact_id is not None:
        conditions.append(col(DataSubjectRequest.contact_id) == contact_id)
    if due_within_days is not None:
        # Overdue ones are included: they are the most due of all.
        horizon = today + timedelta(days=due_within_days)
        conditions.extend([is_open, due <= horizon])
    if overdue is True:
        conditions.extend([is_open, due < today])
    elif overdue is False:
        conditions.append(or_(~is_open, due >= today))
    total = (
        await session.exec(select(func.count()).select_from(DataSubjectRequest).where(*conditions))
    ).one()
    rows = await session.exec(
        select(DataSubjectRequest)
        .where(*conditions)
        .order_by(due, col(DataSubjectRequest.id))
        .limit(limit)
        .offset(offset)
    )
    return rows.all(), total


async def verify(
    session: AsyncSession, *, request: DataSubjectRequest, method: str, user_id: int | None
) -> DataSubjectRequest:
    """Record how the requester's identity was verified."""
    try:
        verified_by = VerificationMethod(method)
    except ValueError:
        allowed = ", ".join(m.value for m in VerificationMethod)
        message = f"must be one of {allowed}; name plus identity code is never proof of identity"
        raise InvalidInput(
            N_("this is not an accepted way to verify identity"), fields={"method": message}
        ) from None
    _require_open(request)
    if request.verified_at is not None:
        raise Conflict(
            f"request {request.id} was already verified ({request.verification_method})",
            reason="already_verified",
        )
    request.verification_method = verified_by
    request.verified_at = clock.now()
    request.verified_by_user_id = user_id
    session.add(request)
    await record_action(session, request=request, action=VERIFIED, user_id=user_id)
    return request


async def extend(
    session: AsyncSession,
    *,
    request: DataSubjectRequest,
    data: ExtensionCreate,
    user_id: int | None,
) -> DataSubjectRequest:
    """GDPR 12(3): once, while open, decided by the original due date, by at
    most two months. The person must be told, with the reason, by that date."""
    _require_open(request)
    if request.extended_due_on is not None:
        raise Conflict(
            f"request {request.id} was already extended to {request.extended_due_on}; "
            "a request can be extended only once",
            reason="already_extended",
        )
    if not deadlines.may_extend(request.due_on, clock.today()):
        raise Conflict(
            f"the original due date {request.due_on} has passed; an extension must be "
            "recorded by the due date (GDPR 12(3))",
            reason="past_due_date",
        )
    request.extended_due_on = deadlines.extended_due_date(request.due_on, data.months)
    request.extension_reason = data.reason
    session.add(request)
    await record_action(session, request=request, action=EXTENDED, user_id=user_id)
    return request


async def close(
    session: AsyncSession, *, request: DataSubjectRequest, data: RequestClose, user_id: int | None
) -> DataSubjectRequest:
    """Close as done or refused. Only a verified request may be answered as
    done; a refusal needs its reason (GDPR 12(4))."""
    if data.status is RequestStatus.OPEN:
        raise InvalidInput(
            N_("a request is closed as done or refused"),
            fields={"status": N_("must be done or refused")},
        )
    if data.status is RequestStatus.REFUSED and data.outcome is None:
        raise InvalidInput(
            N_("a refusal needs its reason"),
            fields={"outcome": N_("required when refusing: the reason given to the person")},
        )
    _require_open(request)
    if data.status is RequestStatus.DONE and request.verified_at is None:
        raise Conflict(
            f"request {request.id} cannot be answered before the requester's identity "
            "is verified (POST …/verification)",
            reason="not_verified",
        )
    request.status = data.status
    request.outcome = data.outcome
    request.closed_at = clock.now()
    session.add(request)
    await record_action(session, request=request, action=CLOSED, user_id=user_id)
    return request


async def record_action(
    session: AsyncSession, *, request: DataSubjectRequest, action: str, user_id: int | None
) -> RequestAction:
    """Link something done (an export, an erasure, …) to the request it answers."""
    assert request.id is not None
    row = RequestAction(request_id=request.id, action=action, done_by_user_id=user_id)
    session.add(row)
    await session.flush()
    return row


async def list_actions(
    session: AsyncSession, *, request: DataSubjectRequest
) -> Sequence[RequestAction]:
    rows = await session.exec(
        select(RequestAction)
        .where(RequestAction.request_id == request.id)
        .order_by(col(RequestAction.id))
    )
    return rows.all()


def to_read(request: DataSubjectRequest) -> RequestRead:
    today = clock.today()
    due = deadlines.effective_due_date(request.due_on, request.extended_due_on)
    is_open = request.status is RequestStatus.OPEN
    closed_on = request.closed_at.astimezone(clock.LOCAL_ZONE).date() if request.closed_at else None
    return RequestRead(
        **request.model_dump(),
        effective_due_on=due,
        overdue=is_open and due < today,
        days_left=(due - today).days if is_open else None,
        answered_in_time=closed_on <= due if closed_on is not None else None,
    )


async def to_detail(session: AsyncSession, request: DataSubjectRequest) -> RequestDetail:
    actions = await list_actions(session, request=request)
    return RequestDetail(
        **to_read(request).model_dump(),
        actions=[RequestActionRead.model_validate(a, from_attributes=True) for a in actions],
    )


def page(
    requests: Sequence[DataSubjectRequest], total: int, *, limit: int, offset: int
) -> RequestPage:
    return RequestPage(
        items=[to_read(r) for r in requests], total=total, limit=limit, offset=offset
    )


def _require_open(request: DataSubjectRequest) -> None:
    if request.status is not RequestStatus.OPEN:
        raise Conflict(
            f"request {request.id} is already closed ({request.status})", reason="closed"
        )


async def _check_contact(session: AsyncSession, contact_id: int | None) -> None:
    if contact_id is not None and await session.get(Contact, contact_id) is None:
        raise InvalidInput(
            f"no contact with id {contact_id}", fields={"contact_id": N_("no such contact")}
        )
