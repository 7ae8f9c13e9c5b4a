"""The person's rights on the contact page, for ``rights:manage``: erasure
(GDPR 17) after a confirmation step, the access export (GDPR 15) and the
portable ZIP (GDPR 20) as downloads, and objections (GDPR 21), recorded and
decided.

Each calls the service its ``/api/v1`` route calls (service.rights) and
records the same audit action. The downloads are pages of their own because
a link a browser follows carries the session cookie but not the CSRF header
the API would want for anything but a read, and because a download should
arrive as a file, named, never cached.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get, post
from litestar.enums import MediaType
from litestar.params import FromPath

from service.audit import trail
from service.auth.middleware import requires
from service.auth.permissions import Permission
from service.contacts import service as contacts_service
from service.crypto import DataCipher
from service.errors import DomainError, InvalidInput, NotFound
from service.i18n import _
from service.models import Contact
from service.requests.linking import Action
from service.rights import erasure, export, portability
from service.rights import service as rights_service
from service.rights.schemas import ObjectionCreate, ObjectionDecide
from service.web import messages
from service.web.contact_actions import Act, _act, _optional, _request_id, text_fields
from service.web.contact_page import BASE, Cipher, Session, StaffRequest
from service.web.render import page
from service.web.session import redirect, verified_form

OBJECTION = Act("objection", "objection.record", "objection")
ONE = "/{contact_id:int}"
DOWNLOAD_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def _missing(request: StaffRequest) -> Response[str]:
    return page(request, "contacts/missing", title=_("No such contact"), status=404)


async def _erase_page(
    request: StaffRequest,
    db_session: Session,
    contact: Contact,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response[str]:
    holds = [
        rights_service.hold_read(hold)
        for hold in await rights_service.list_holds(db_session, contact=contact)
        if hold.lifted_at is None
    ]
    return page(
        request,
        "contacts/erase",
        title=_("Erase contact"),
        status=status,
        contact=contact,
        holds=holds,
        errors=errors or {},
        values=values or {},
    )


async def _download(
    request: StaffRequest,
    db_session: Session,
    cipher: DataCipher,
    contact_id: int,
    action: Action,
) -> Response[Any]:
    """Everything held about the person, as ``GET /api/v1/contacts/{id}/export``
    (or ``export.zip``) returns it, audited as ``contact.export`` likewise."""
    try:
        contact = await contacts_service.get(db_session, contact_id)
    except NotFound:
        return _missing(request)
    trail.note(db_session, request, action="contact.export", status_code=200)
    body = await export.for_subject(
        db_session,
        contact=contact,
        cipher=cipher,
        settings=request.app.state.settings,
        action=action,
        user_id=request.user.user_id,
    )
    if action is Action.PORTABILITY:
        return Response(
            portability.build_zip(body),
            media_type="application/zip",
            headers={
                **DOWNLOAD_HEADERS,
                "Content-Disposition": f'attachment; filename="contact-{contact_id}-export.zip"',
            },
        )
    return Response(
        body,
        media_type=MediaType.JSON,
        headers={
            **DOWNLOAD_HEADERS,
            "Content-Disposition": f'attachment; filename="contact-{contact_id}-export.json"',
        },
    )


class ContactRightsController(Controller):
    path = BASE
    include_in_schema = False
    guards = [requires(Permission.RIGHTS_MANAGE)]

    # -- erasure (GDPR 17) ---------------------------------------------------------

    @get(f"{ONE}/erase")
    async def confirm_erasure(
        self, request: StaffRequest, db_session: Session, contact_id: FromPath[int]
    ) -> Response[str]:
        """The confirmation step: what erasure does, and any legal hold that stops it."""
        try:
            contact = await contacts_service.get(db_session, contact_id)
        except NotFound:
            return _missing(request)
        trail.note(db_session, request, action="contact.read", status_code=200)
        return await _erase_page(request, db_session, contact)

    @post(f"{ONE}/erase", status_code=303)
    async def erase(
        self, request: StaffRequest, db_session: Session, contact_id: FromPath[int]
    ) -> Response[Any]:
        """Erase the person as ``DELETE /api/v1/contacts/{id}`` does; back to the list."""
        form = text_fields(await verified_form(request))
        try:
            contact = await contacts_service.get(db_session, contact_id)
        except NotFound:
            return _missing(request)
        try:
            await erasure.erase_on_request(
                db_session,
                contact_id,
                user_id=request.user.user_id,
                request_id=_request_id(form),
            )
        except DomainError as exc:
            await db_session.rollback()
            contact = await contacts_service.get(db_session, contact_id)
            errors = {**messages.refusal_fields(exc), "form": messages.refusal(exc)}
            return await _erase_page(
                request, db_session, contact, errors=errors, values=form, status=exc.status_code
            )
        trail.note(db_session, request, action="contact.erase", status_code=303)
        return redirect(f"{BASE}?done=erased")

    # -- access and portability (GDPR 15, 20) --------------------------------------

    @get(f"{ONE}/export.json")
    async def export_json(
        self, request: StaffRequest, db_session: Session, cipher: Cipher, contact_id: FromPath[int]
    ) -> Response[Any]:
        return await _download(request, db_session, cipher, contact_id, Action.ACCESS)

    @get(f"{ONE}/export.zip")
    async def export_zip(
        self, request: StaffRequest, db_session: Session, cipher: Cipher, contact_id: FromPath[int]
    ) -> Response[Any]:
        return await _download(request, db_session, cipher, contact_id, Action.PORTABILITY)

    # -- objection (GDPR 21) -------------------------------------------------------

    @post(f"{ONE}/objections", status_code=303)
    async def record_objection(
        self, request: StaffRequest, db_session: Session, cipher: Cipher, contact_id: FromPath[int]
    ) -> Response[Any]:
        """To direct marketing: upheld at once (a ban on all channels, the
        addresses suppressed); to other processing: pending until decided."""
        form = text_fields(await verified_form(request))

        async def work(contact: Contact) -> None:
            fields = {
                **_optional(form, "scope", "grounds", "method"),
                "request_id": _request_id(form),
            }
            await rights_service.object_(
                db_session,
                contact=contact,
                data=ObjectionCreate.model_validate(fields),
                user_id=request.user.user_id,
            )

        return await _act(request, db_session, cipher, contact_id, OBJECTION, form, work)

    @post(f"{ONE}/objections/{{objection_id:int}}/decide", status_code=303)
    async def decide_objection(
        self,
        request: StaffRequest,
        db_session: Session,
        cipher: Cipher,
        contact_id: FromPath[int],
        objection_id: FromPath[int],
    ) -> Response[Any]:
        """Decide a pending objection once: upheld, or rejected with the
        compelling legitimate grounds."""
        form = text_fields(await verified_form(request))

        async def work(contact: Contact) -> None:
            if form.get("decision") not in {"upheld", "rejected"}:
                raise InvalidInput(
                    _("Choose a decision."), fields={"decision": _("choose upheld or rejected")}
                )
            fields = {
                **_optional(form, "decision", "note"),
                "request_id": _request_id(form),
            }
            await rights_service.decide_objection(
                db_session,
                contact=contact,
                objection_id=objection_id,
                data=ObjectionDecide.model_validate(fields),
                user_id=request.user.user_id,
            )

        # The form's name carries the objection's id: its errors show on its own form.
        decision = Act(f"decide-{objection_id}", "objection.decide", "objection_decided")
        return await _act(request, db_session, cipher, contact_id, decision, form, work)
