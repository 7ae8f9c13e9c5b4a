"""Linking a rights action to the data-subject request it answers.

Every rights route takes an optional ``request_id``. When given it must name
an OPEN request, about this contact (or not yet matched to anyone), of a type
the action can answer; a ``RequestAction`` row then records what was done, by
whom, in the same transaction as the action itself.

The requests register (service.requests) owns the requests; this module only
reads them and appends their actions.
"""

from __future__ import annotations

from enum import StrEnum

from sqlmodel.ext.asyncio.session import AsyncSession

from service.errors import InvalidInput
from service.models import DataSubjectRequest, RequestAction
from service.models.enums import RequestStatus, RequestType


class Action(StrEnum):
    """What a ``RequestAction`` row says was done."""

    ACCESS = "access"
    PORTABILITY = "portability"
    RECTIFICATION = "rectification"
    ERASURE = "erasure"
    RESTRICTION = "restriction"
    RESTRICTION_LIFTED = "restriction_lifted"
    OBJECTION = "objection"
    OBJECTION_DECIDED = "objection_decided"
    WITHDRAWAL = "withdrawal"


_RESTRICTION_CAUSES = frozenset(
    {
        # GDPR 18(1): asked for as such, or while a rectification (a), an
        # erasure instead of unlawful processing (b) or an objection (d) is open.
        RequestType.RESTRICTION,
        RequestType.RECTIFICATION,
        RequestType.ERASURE,
        RequestType.OBJECTION,
    }
)

# The request types each action can answer. A mismatch is almost always a
# mistyped id, and linking it would file the proof under the wrong request.
ANSWERS: dict[Action, frozenset[RequestType]] = {
    Action.ACCESS: frozenset({RequestType.ACCESS, RequestType.PORTABILITY}),
    Action.PORTABILITY: frozenset({RequestType.ACCESS, RequestType.PORTABILITY}),
    Action.RECTIFICATION: frozenset({RequestType.RECTIFICATION}),
    # GDPR 17(1)(b)-(c): erasure also follows a withdrawal or an objection.
    Action.ERASURE: frozenset({RequestType.ERASURE, RequestType.OBJECTION, RequestType.WITHDRAWAL}),
    Action.RESTRICTION: _RESTRICTION_CAUSES,
    Action.RESTRICTION_LIFTED: _RESTRICTION_CAUSES,
    Action.OBJECTION: frozenset({RequestType.OBJECTION}),
    Action.OBJECTION_DECIDED: frozenset({RequestType.OBJECTION}),
    Action.WITHDRAWAL: frozenset({RequestType.WITHDRAWAL, RequestType.OBJECTION}),
}

FIELD = "request_id"


def _refuse(message: str) -> InvalidInput:
    return InvalidInput(message, fields={FIELD: message})


async def open_request(
    session: AsyncSession, *, request_id: int, contact_id: int, action: Action
) -> DataSubjectRequest:
    """The request ``request_id`` names, if ``action`` may answer it; else 422."""
    request = await session.get(DataSubjectRequest, request_id)
    if request is None:
        raise _refuse(f"no data-subject request with id {request_id}")
    if request.status is not RequestStatus.OPEN:
        raise _refuse(f"request {request_id} is {request.status.value}, not open")
    if request.contact_id is not None and request.contact_id != contact_id:
        raise _refuse(f"request {request_id} is about another contact")
    allowed = ANSWERS[action]
    if request.type not in allowed:
        names = " or ".join(sorted(t.value for t in allowed))
        raise _refuse(
            f"request {request_id} is a {request.type.value} request; "
            f"{action.value} answers only {names} requests"
        )
    return request


async def record(
    session: AsyncSession, *, request: DataSubjectRequest, action: Action, user_id: int | None
) -> RequestAction:
    assert request.id is not None
    row = RequestAction(request_id=request.id, action=action.value, done_by_user_id=user_id)
    session.add(row)
    await session.flush()
    return row


async def link(
    session: AsyncSession,
    *,
    request_id: int | None,
    contact_id: int,
    action: Action,
    user_id: int | None,
) -> RequestAction | None:
    """Check and record in one step, for actions that cannot fail after the check."""
    if request_id is None:
        return None
    request = await open_request(
        session, request_id=request_id, contact_id=contact_id, action=action
    )
    return await record(session, request=request, action=action, user_id=user_id)
