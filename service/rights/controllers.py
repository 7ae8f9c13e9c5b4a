"""HTTP routes for people's rights over their data: restriction, objection,
legal hold, erasure (``DELETE /contacts/{id}``), and the access and
portability exports; rectification is ``PATCH /contacts/{id}``
(service.contacts.controllers). Every route needs ``rights:manage``."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit import trail
from service.auth.middleware import requires
from service.auth.permissions import Permission
from service.auth.service import Principal
from service.contacts import service as contacts_service
from service.crypto import DataCipher
from service.models import Contact
from service.models.enums import Language
from service.requests import service as requests
from service.requests.linking import Action
from service.requests.schemas import RequestDetail
from service.rights import erasure, export, portability, service
from service.rights.schemas import (
    AccessExport,
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

Session = NamedDependency[AsyncSession]
Cipher = NamedDependency[DataCipher]
StaffRequest = Request[Principal, Any, State]
MANAGE = [requires(Permission.RIGHTS_MANAGE)]
RequestId = Annotated[
    int | None,
    QueryParameter(ge=1, description="The data-subject request this answers (must be open)."),
]
Lang = Annotated[
    Language | None,
    QueryParameter(description="Language of the Article 15 text; default the contact's (sv: en)."),
]


async def _export(
    request: StaffRequest,
    db_session: AsyncSession,
    cipher: DataCipher,
    contact_id: int,
    *,
    action: Action,
    request_id: int | None,
    lang: Language | None,
) -> AccessExport:
    contact: Contact = await contacts_service.get(db_session, contact_id)
    return await export.for_subject(
        db_session,
        contact=contact,
        cipher=cipher,
        settings=request.app.state.settings,
        action=action,
        user_id=request.user.user_id,
        request_id=request_id,
        lang=lang,
    )


class RightsController(Controller):
    path = "/contacts"
    tags = ["rights"]
    guards = MANAGE

    @get("/register-sizes")
    async def register_sizes(self, db_session: Session) -> RegisterSizes:
        """How many addresses are on the suppression list, contacts erased and
        legal holds in force: counts only, as the privacy page shows them."""
        return await service.register_sizes(db_session)

    # -- erasure (GDPR 17) ---------------------------------------------------------

    @delete("/{contact_id:int}", status_code=204, opt={"audit": "contact.erase"})
    async def erase_contact(
        self,
        request: StaffRequest,
        db_session: Session,
        contact_id: FromPath[int],
        request_id: RequestId = None,
    ) -> None:
        """Erase the person (GDPR 17): their data goes from every table; the keyed
        hashes of their email and phone stay on the suppression list, so neither
        sending nor a later import brings them back. A task is opened for each
        recipient their data was disclosed to (GDPR 19): ``GET
        /recipient-notifications?contact_id=``. 409 ``legal_hold`` while a
        legal hold is in force."""
        await erasure.erase_on_request(
            db_session, contact_id, user_id=request.user.user_id, request_id=request_id
        )

    # -- restriction (GDPR 18) -----------------------------------------------------

    @post("/{contact_id:int}/restriction", status_code=200, opt={"audit": "restriction.place"})
    async def restrict(
        self,
        request: StaffRequest,
        db_session: Session,
        contact_id: FromPath[int],
        data: JSONBody[RestrictionCreate],
    ) -> RestrictionRead:
        """Restrict processing: the contact is kept but left out of campaigns, call
        lists, tracking, profile transfer and edits until the restriction is lifted.
        A task is opened for each recipient the person's data was disclosed to
        (GDPR 19), named in ``recipients_notified``. 409 ``already_restricted``."""
        contact = await contacts_service.get(db_session, contact_id)
        return await service.restrict(
            db_session, contact=contact, data=data, user_id=request.user.user_id
        )

    @delete("/{contact_id:int}/restriction", status_code=200, opt={"audit": "restriction.lift"})
    async def lift_restriction(
        self,
        request: StaffRequest,
        db_session: Session,
        contact_id: FromPath[int],
        data: JSONBody[RestrictionLift | None] = None,
    ) -> RestrictionRead:
        """Lift the restriction, after telling the person (GDPR 18(3)): they are
        mailed first, in their language, and the restriction is lifted only once
        the relay accepted the notice. ``informed_how`` (e.g. ``letter``) says
        how staff told them instead: required when they have no email address.
        409 ``person_not_informed`` (nothing lifted) when neither happened;
        409 ``not_restricted``."""
        contact = await contacts_service.get(db_session, contact_id)
        return await service.lift_restriction(
            db_session,
            contact=contact,
            data=data or RestrictionLift(),
            user_id=request.user.user_id,
            settings=request.app.state.settings,
        )

    # -- objection (GDPR 21) -------------------------------------------------------

    @get("/{contact_id:int}/objections", opt={"audit": "objection.read"})
    async def list_objections(
        self, db_session: Session, contact_id: FromPath[int]
    ) -> list[ObjectionRead]:
        """Every objection, decided or pending, oldest first."""
        contact = await contacts_service.get(db_session, contact_id)
        return [
            service.objection_read(o)
            for o in await service.list_objections(db_session, contact=contact)
        ]

    @post("/{contact_id:int}/objections", status_code=201, opt={"audit": "objection.record"})
    async def record_objection(
        self,
        request: StaffRequest,
        db_session: Session,
        contact_id: FromPath[int],
        data: JSONBody[ObjectionCreate],
    ) -> ObjectionRead:
        """Record an objection. ``direct_marketing``: upheld at once, a direct-marketing
        ban on all channels, the email and phone suppressed. ``other_processing``:
        ``pending`` until decided."""
        contact = await contacts_service.get(db_session, contact_id)
        objection = await service.object_(
            db_session, contact=contact, data=data, user_id=request.user.user_id
        )
        return service.objection_read(objection)

    @patch("/{contact_id:int}/objections/{objection_id:int}", opt={"audit": "objection.decide"})
    async def decide_objection(
        self,
        request: StaffRequest,
        db_session: Session,
        contact_id: FromPath[int],
        objection_id: FromPath[int],
        data: JSONBody[ObjectionDecide],
    ) -> ObjectionRead:
        """Decide a pending objection once: ``upheld`` stops the processing;
        ``rejected`` needs a note naming the compelling legitimate grounds.
        409 ``already_decided``."""
        contact = await contacts_service.get(db_session, contact_id)
        objection = await service.decide_objection(
            db_session,
            contact=contact,
            objection_id=objection_id,
            data=data,
            user_id=request.user.user_id,
        )
        return service.objection_read(objection)

    # -- legal hold (GDPR 17(3)(e)) ------------------------------------------------

    @get("/{contact_id:int}/legal-holds", opt={"audit": "legal_hold.read"})
    async def list_holds(
        self, db_session: Session, contact_id: FromPath[int]
    ) -> list[LegalHoldRead]:
        """Every legal hold, in force or lifted, oldest first."""
        contact = await contacts_service.get(db_session, contact_id)
        return [
            service.hold_read(hold)
            for hold in await service.list_holds(db_session, contact=contact)
        ]

    @post("/{contact_id:int}/legal-holds", status_code=201, opt={"audit": "legal_hold.place"})
    async def place_hold(
        self,
        request: StaffRequest,
        db_session: Session,
        contact_id: FromPath[int],
        data: JSONBody[LegalHoldCreate],
    ) -> LegalHoldRead:
        """Put the contact on legal hold: erasure answers 409 ``legal_hold`` and
        retention skips the contact while any hold is in force."""
        contact = await contacts_service.get(db_session, contact_id)
        hold = await service.place_hold(
            db_session, contact=contact, data=data, user_id=request.user.user_id
        )
        return service.hold_read(hold)

    @delete(
        "/{contact_id:int}/legal-holds/{hold_id:int}",
        status_code=200,
        opt={"audit": "legal_hold.lift"},
    )
    async def lift_hold(
        self,
        request: StaffRequest,
        db_session: Session,
        contact_id: FromPath[int],
        hold_id: FromPath[int],
        data: JSONBody[LegalHoldLift | None] = None,
    ) -> LegalHoldRead:
        """Lift a hold; it stays on record with who lifted it, when and why.
        409 ``already_lifted``."""
        contact = await contacts_service.get(db_session, contact_id)
        hold = await service.lift_hold(
            db_session,
            contact=contact,
            hold_id=hold_id,
            data=data or LegalHoldLift(),
            user_id=request.user.user_id,
        )
        return service.hold_read(hold)

    # -- access and portability (GDPR 15, 20) --------------------------------------

    @get("/{contact_id:int}/export", opt={"audit": "contact.export"})
    async def export_json(
        self,
        request: StaffRequest,
        db_session: Session,
        cipher: Cipher,
        contact_id: FromPath[int],
        request_id: RequestId = None,
        lang: Lang = None,
    ) -> Response[AccessExport]:
        """Everything held about the person, with the Article 15 information
        (purposes, legal bases, recipients, retention, source, rights, the
        supervisory authority). The person's own identity code is whole, and each
        profile still kept here carries its report."""
        body = await _export(
            request,
            db_session,
            cipher,
            contact_id,
            action=Action.ACCESS,
            request_id=request_id,
            lang=lang,
        )
        return Response(body, headers={"Cache-Control": "no-store"})

    @get(
        "/{contact_id:int}/export.zip",
        media_type="application/zip",
        opt={"audit": "contact.export"},
    )
    async def export_zip(
        self,
        request: StaffRequest,
        db_session: Session,
        cipher: Cipher,
        contact_id: FromPath[int],
        request_id: RequestId = None,
        lang: Lang = None,
    ) -> Response[bytes]:
        """The same export as a zip of CSV files (one per section) with a
        README.txt and information.json holding the Article 15 information."""
        body = await _export(
            request,
            db_session,
            cipher,
            contact_id,
            action=Action.PORTABILITY,
            request_id=request_id,
            lang=lang,
        )
        return Response(
            portability.build_zip(body),
            media_type="application/zip",
            headers={
                "Content-Disposition": f'attachment; filename="contact-{contact_id}-export.zip"',
                "Cache-Control": "no-store",
            },
        )


class RequestBanController(Controller):
    """The requests register's one-step answer to an objection: it needs the
    rights workflow, which the register (a layer below) may not call."""

    path = "/requests"
    tags = ["requests"]
    guards = MANAGE

    @post("/{request_id:int}/confirm-ban", status_code=200, opt={"audit": "request.confirm_ban"})
    async def confirm_ban(
        self, request: StaffRequest, db_session: Session, request_id: FromPath[int]
    ) -> RequestDetail:
        """Confirm an open objection request into a direct-marketing ban, in one
        step: the objection upheld (a ban on all channels, the addresses
        suppressed) and the request closed as done. A request that came by
        reply mail counts as verified by it; others must be verified first
        (409 ``not_verified``). 409 ``no_contact`` while it names no contact,
        ``not_an_objection``, ``closed``."""
        row = await requests.get(db_session, request_id)
        trail.annotate(db_session, contact_id=row.contact_id)
        await service.confirm_ban(db_session, request=row, user_id=request.user.user_id)
        return await requests.to_detail(db_session, row)
