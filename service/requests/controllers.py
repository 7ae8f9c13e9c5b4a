"""HTTP routes for the requests register, the disclosure log and the tasks of
telling the recipients of disclosed data (RIGHTS_MANAGE)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit import trail
from service.auth.middleware import requires
from service.auth.permissions import Permission
from service.auth.service import Principal
from service.models.enums import RequestStatus, RequestType
from service.requests import disclosures, recipients, service
from service.requests.schemas import (
    DisclosureCreate,
    DisclosureRead,
    ExtensionCreate,
    RecipientNotificationDone,
    RecipientNotificationPage,
    RecipientNotificationRead,
    RequestClose,
    RequestCreate,
    RequestDetail,
    RequestPage,
    RequestRead,
    RequestUpdate,
    VerificationCreate,
)

Session = NamedDependency[AsyncSession]
StaffRequest = Request[Principal, Any, Any]
Limit = Annotated[int, QueryParameter(ge=1, le=500)]
# Beyond a 64-bit integer the database refuses the OFFSET itself (a 5xx otherwise).
Offset = Annotated[int, QueryParameter(ge=0, le=2**63 - 1)]
Days = Annotated[int | None, QueryParameter(ge=0, le=3660)]
MANAGE = [requires(Permission.RIGHTS_MANAGE)]


class RequestController(Controller):
    path = "/requests"
    tags = ["requests"]

    @post("/", guards=MANAGE, status_code=201)
    async def create_request(
        self, request: StaffRequest, db_session: Session, data: JSONBody[RequestCreate]
    ) -> RequestDetail:
        """Register a data-subject request. Its due date is received + one calendar
        month (31 January → 28/29 February)."""
        row = await service.create(db_session, data=data, user_id=request.user.user_id)
        return await service.to_detail(db_session, row)

    @get("/", guards=MANAGE, opt={"audit": "request.list"})
    async def list_requests(
        self,
        db_session: Session,
        status: FromQuery[RequestStatus | None] = None,
        type: FromQuery[RequestType | None] = None,
        contact_id: Annotated[int | None, QueryParameter(ge=-(2**63), le=2**63 - 1)] = None,
        due_within_days: Days = None,
        overdue: FromQuery[bool | None] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> RequestPage:
        """Requests, the most urgent first. ``due_within_days=7`` lists open requests
        due within a week, overdue ones included; ``overdue=true`` only the late ones."""
        rows, total = await service.list_(
            db_session,
            status=status,
            type_=type,
            contact_id=contact_id,
            due_within_days=due_within_days,
            overdue=overdue,
            limit=limit,
            offset=offset,
        )
        return service.page(rows, total, limit=limit, offset=offset)

    @get("/{request_id:int}", guards=MANAGE, opt={"audit": "request.read"})
    async def get_request(self, db_session: Session, request_id: FromPath[int]) -> RequestDetail:
        """One request with everything done for it."""
        row = await service.get(db_session, request_id)
        trail.annotate(db_session, contact_id=row.contact_id)
        return await service.to_detail(db_session, row)

    @patch("/{request_id:int}", guards=MANAGE)
    async def update_request(
        self, db_session: Session, request_id: FromPath[int], data: JSONBody[RequestUpdate]
    ) -> RequestRead:
        """Link an open request to a contact, or correct the requester's words."""
        row = await service.get(db_session, request_id)
        row = await service.update(db_session, request=row, data=data)
        return service.to_read(row)

    @post("/{request_id:int}/verification", guards=MANAGE, status_code=200)
    async def verify_request(
        self,
        request: StaffRequest,
        db_session: Session,
        request_id: FromPath[int],
        data: JSONBody[VerificationCreate],
    ) -> RequestDetail:
        """Record how the requester's identity was verified (once)."""
        row = await service.get(db_session, request_id)
        row = await service.verify(
            db_session, request=row, method=data.method, user_id=request.user.user_id
        )
        return await service.to_detail(db_session, row)

    @post("/{request_id:int}/extension", guards=MANAGE, status_code=200)
    async def extend_request(
        self,
        request: StaffRequest,
        db_session: Session,
        request_id: FromPath[int],
        data: JSONBody[ExtensionCreate],
    ) -> RequestDetail:
        """Extend the deadline by 1 or 2 months (GDPR 12(3)): once, while open,
        on or before the original due date."""
        row = await service.get(db_session, request_id)
        row = await service.extend(db_session, request=row, data=data, user_id=request.user.user_id)
        return await service.to_detail(db_session, row)

    @post("/{request_id:int}/close", guards=MANAGE, status_code=200)
    async def close_request(
        self,
        request: StaffRequest,
        db_session: Session,
        request_id: FromPath[int],
        data: JSONBody[RequestClose],
    ) -> RequestDetail:
        """Close as done (identity verified first) or refused (with the reason)."""
        row = await service.get(db_session, request_id)
        row = await service.close(db_session, request=row, data=data, user_id=request.user.user_id)
        return await service.to_detail(db_session, row)


class DisclosureController(Controller):
    path = "/contacts/{contact_id:int}/disclosures"
    tags = ["disclosures"]

    @post("/", guards=MANAGE, status_code=201)
    async def record_disclosure(
        self,
        request: StaffRequest,
        db_session: Session,
        contact_id: FromPath[int],
        data: JSONBody[DisclosureCreate],
    ) -> DisclosureRead:
        """Record data handed outside the company (the notice §8)."""
        row = await disclosures.create(
            db_session, contact_id=contact_id, data=data, user_id=request.user.user_id
        )
        return disclosures.to_read(row)

    @get("/", guards=MANAGE)
    async def list_disclosures(
        self, db_session: Session, contact_id: FromPath[int]
    ) -> list[DisclosureRead]:
        """The contact's disclosures, newest first."""
        rows = await disclosures.list_(db_session, contact_id=contact_id)
        return [disclosures.to_read(row) for row in rows]


class RecipientNotificationController(Controller):
    """The tasks of telling a recipient of disclosed data about a rectification,
    erasure or restriction (GDPR 19), opened by those actions themselves."""

    path = "/recipient-notifications"
    tags = ["disclosures"]
    guards = MANAGE

    @get("/", opt={"audit": "recipient_notification.list"})
    async def list_notifications(
        self,
        db_session: Session,
        open: FromQuery[bool | None] = None,
        contact_id: Annotated[int | None, QueryParameter(ge=-(2**63), le=2**63 - 1)] = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> RecipientNotificationPage:
        """Tasks, oldest first. ``open=true``: those not done yet; ``open=false``:
        the done ones; ``contact_id``: one contact's (an erased one's too)."""
        rows, total = await recipients.list_(
            db_session, open_=open, contact_id=contact_id, limit=limit, offset=offset
        )
        return RecipientNotificationPage(
            items=[recipients.to_read(row) for row in rows],
            total=total,
            limit=limit,
            offset=offset,
        )

    @post(
        "/{task_id:int}/done",
        status_code=200,
        opt={"audit": "recipient_notification.done"},
    )
    async def mark_done(
        self,
        request: StaffRequest,
        db_session: Session,
        task_id: FromPath[int],
        data: JSONBody[RecipientNotificationDone | None] = None,
    ) -> RecipientNotificationRead:
        """The recipient was told (once; 409 ``already_done``); ``note``: how."""
        task = await recipients.mark_done(
            db_session,
            task_id=task_id,
            data=data or RecipientNotificationDone(),
            user_id=request.user.user_id,
        )
        trail.annotate(db_session, contact_id=task.contact_id)
        return recipients.to_read(task)
