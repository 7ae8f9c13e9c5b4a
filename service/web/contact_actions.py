"""The forms that change contacts: a new contact; on one contact, reveal the
identity code, record a consent or a withdrawal, a ban, a restriction, a
legal hold, and lift them.

Each handler validates with the JSON API's schema and calls the service its
route calls, recording the same audit action. It then sends the browser back
to the contact page with a word saying what was done (``?done=ban``); a
refused form rolls the transaction back and shows the page again with the
form's errors next to its fields, so a bad request changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from litestar import Controller, Response, get, post
from litestar.params import FromPath
from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit import trail
from service.audit.schemas import IdentityCodeReveal
from service.auth.middleware import requires
from service.auth.permissions import Permission
from service.consent import service as consent_service
from service.consent.schemas import BanCreate, BanLift, ConsentCreate
from service.contacts import service as contacts_service
from service.contacts.schemas import ContactCreate
from service.crypto import DataCipher
from service.errors import DomainError, Forbidden, InvalidInput, NotFound
from service.i18n import _
from service.labels import N_
from service.models import Contact
from service.models.enums import Actor, BanKind, ConsentAction
from service.requests import linking
from service.rights import service as rights_service
from service.rights.schemas import (
    LegalHoldCreate,
    LegalHoldLift,
    RestrictionCreate,
    RestrictionLift,
)
from service.web import messages
from service.web.contact_page import BASE, OPTIONS, Cipher, Session, StaffRequest, contact_page
from service.web.render import page
from service.web.session import redirect, verified_form

Work = Callable[[Contact], Awaitable[object]]
MANAGE = [requires(Permission.RIGHTS_MANAGE)]
MAX_NOTE = 2000  # as the API's ``?note=`` of a ban lift


@dataclass(frozen=True, slots=True)
class Act:
    form: str  # the form's name on the contact page: its errors are shown there
    audit: str  # the audit action, as the API's route names it
    done: str  # the word the contact page turns into its status message


CONSENT = Act("consent", "consent.record", "consent")
WITHDRAWAL = Act("withdrawal", "consent.record", "withdrawal")
BAN = Act("ban", "ban.record", "ban")
BAN_LIFT = Act("lift", "ban.lift", "ban_lifted")
RESTRICTION = Act("restriction", "restriction.place", "restriction")
RESTRICTION_LIFT = Act("lift", "restriction.lift", "restriction_lifted")
HOLD = Act("hold", "legal_hold.place", "legal_hold")
HOLD_LIFT = Act("lift", "legal_hold.lift", "legal_hold_lifted")


def field_errors(exc: ValidationError) -> dict[str, str]:
    """A schema's complaints, one per form field (``evidence.ip`` → ``evidence_ip``);
    one about the whole body goes under ``form``. Never the rejected value."""
    return messages.field_errors(exc, key=_field_of, whole="form", missing=N_("required"))


def _field_of(loc: tuple[int | str, ...]) -> str:
    return "_".join(str(part) for part in loc if isinstance(part, str))


def text_fields(form: Mapping[str, Any]) -> dict[str, str]:
    """The form's text values, trimmed and cut to a sane length."""
    return {k: v.strip()[:5000] for k, v in form.items() if isinstance(v, str)}


def _contact_body(form: dict[str, str]) -> dict[str, Any]:
    """The form as the API's ``ContactCreate`` body: an empty field is left out."""
    body: dict[str, Any] = {}
    for name in ContactCreate.model_fields:
        value = form.get(name, "")
        if name == "is_customer":
            body[name] = value == "yes"
        elif name == "tags":
            # Commas and plain spaces only: splitting on every whitespace character would
            # turn a U+2028 or a vertical tab into a separator and hide it from the check.
            body[name] = [tag for tag in re.split(r"[, ]+", value) if tag]
        elif value:
            body[name] = value
    return body


def _new_page(
    request: StaffRequest, *, errors: dict[str, str], values: dict[str, str], status: int = 200
) -> Response[str]:
    # The identity code is never put back into the form: it is typed again.
    values = {k: v for k, v in values.items() if k != "personal_identity_code"}
    return page(
        request,
        "contacts/new",
        title=_("New contact"),
        status=status,
        errors=errors,
        values=values,
        options=OPTIONS,
    )


def _optional(form: dict[str, str], *names: str) -> dict[str, str]:
    return {name: form[name] for name in names if form.get(name)}


def _number(form: dict[str, str], name: str) -> int:
    value = form.get(name, "")
    if not value.isdigit() or len(value) > 18:
        raise InvalidInput(_("Not a number."), fields={name: _("must be a number")})
    return int(value)


def _request_id(form: dict[str, str]) -> int | None:
    """The data-subject request a form says it answers, if any."""
    value = form.get("request_id", "")
    if not value:
        return None
    if not value.isdigit() or len(value) > 9:
        raise InvalidInput(_("Not a request number."), fields={"request_id": _("must be a number")})
    return int(value)


async def _act(
    request: StaffRequest,
    db_session: AsyncSession,
    cipher: DataCipher,
    contact_id: int,
    act: Act,
    form: dict[str, str],
    work: Work,
) -> Response[Any]:
    """Run one action on the contact; back to its page with the outcome."""
    try:
        await work(await contacts_service.get(db_session, contact_id))
    except ValidationError as exc:
        errors, status = field_errors(exc), 422
    except DomainError as exc:
        errors, status = (
            {**messages.refusal_fields(exc), "form": messages.refusal(exc)},
            exc.status_code,
        )
    else:
        trail.note(db_session, request, action=act.audit, status_code=303)
        return redirect(f"{BASE}/{contact_id}?done={act.done}")
    await db_session.rollback()
    return await contact_page(
        request,
        db_session,
        cipher,
        contact_id,
        status=status,
        errors={act.form: errors},
        values={act.form: form},
    )


ONE = "/{contact_id:int}"


class ContactActionsController(Controller):
    path = BASE
    include_in_schema = False

    @get("/new", guards=[requires(Permission.CONTACTS_WRITE)])
    async def new_form(self, request: StaffRequest) -> Response[str]:
        return _new_page(request, errors={}, values={})

    @post("/new", guards=[requires(Permission.CONTACTS_WRITE)], status_code=303)
    async def create(
        self, request: StaffRequest, db_session: Session, cipher: Cipher
    ) -> Response[Any]:
        """Register a contact with ``POST /api/v1/contacts``'s schema and service."""
        form = text_fields(await verified_form(request))
        body = _contact_body(form)
        # The role first, as in the API: no identity code without the permission.
        if contacts_service.permissions_for(body, None) and not request.user.can(
            Permission.CONTACTS_READ_IDENTITY_CODE
        ):
            await db_session.rollback()
            errors = {"personal_identity_code": _("your role may not record identity codes")}
            return _new_page(request, errors=errors, values=form, status=403)
        try:
            data = ContactCreate.model_validate(body)
            contact = await contacts_service.create(db_session, data=data, cipher=cipher)
        except ValidationError as exc:
            await db_session.rollback()
            return _new_page(request, errors=field_errors(exc), values=form, status=422)
        except DomainError as exc:
            await db_session.rollback()
            errors = {**messages.refusal_fields(exc), "form": messages.refusal(exc)}
            return _new_page(request, errors=errors, values=form, status=exc.status_code)
        trail.note(db_session, request, action="contact.create", status_code=303)
        trail.annotate(db_session, contact_id=contact.id)
        return redirect(f"{BASE}/{contact.id}?done=created")

    @post(
        f"{ONE}/identity-code/reveal",
        guards=[requires(Permission.CONTACTS_READ_IDENTITY_CODE)],
        status_code=200,
    )
    async def reveal(
        self, request: StaffRequest, db_session: Session, cipher: Cipher, contact_id: FromPath[int]
    ) -> Response[Any]:
        """The identity code, once, on this answer only (a POST: never in a URL,
        never cached), with the reason kept in the audit trail, as
        ``POST /api/v1/contacts/{id}/identity-code/reveal`` does."""
        form = text_fields(await verified_form(request))
        try:
            data = IdentityCodeReveal.model_validate({"reason": form.get("reason", "")})
            contact = await contacts_service.get(db_session, contact_id)
            code = contacts_service.reveal_identity_code(contact, cipher)
            if code is None:
                raise NotFound(f"contact {contact_id} has no identity code")
        except ValidationError as exc:
            errors, status = field_errors(exc), 422
        except DomainError as exc:
            errors, status = {"form": messages.refusal(exc)}, exc.status_code
        else:
            trail.note(db_session, request, action="identity_code.reveal", status_code=200)
            trail.annotate(db_session, reason=data.reason)
            return page(
                request,
                "contacts/revealed",
                title=_("Identity code"),
                contact_id=contact_id,
                code=code,
            )
        errors_of = {"reveal": errors}
        return await contact_page(
            request, db_session, cipher, contact_id, status=status, errors=errors_of
        )

    @post(f"{ONE}/consents", guards=[requires(Permission.CONSENTS_WRITE)], status_code=303)
    async def record_consent(
        self, request: StaffRequest, db_session: Session, cipher: Cipher, contact_id: FromPath[int]
    ) -> Response[Any]:
        """A grant (with its evidence) or a withdrawal, appended to the ledger."""
        form = text_fields(await verified_form(request))
        withdrawal = form.get("action") == ConsentAction.WITHDRAW.value
        user_id = request.user.user_id

        async def work(contact: Contact) -> None:
            assert contact.id is not None
            evidence = _optional(form, "evidence_text", "evidence_notice_version", "evidence_ip")
            data = ConsentCreate.model_validate(
                {
                    **_optional(form, "channel", "purpose", "source", "method"),
                    "action": ConsentAction.WITHDRAW if withdrawal else ConsentAction.GRANT,
                    "evidence": {k.removeprefix("evidence_"): v for k, v in evidence.items()}
                    or None,
                }
            )
            # Only a withdrawal answers a data-subject request, as in the API.
            await linking.link(
                db_session,
                request_id=_request_id(form) if withdrawal else None,
                contact_id=contact.id,
                action=linking.Action.WITHDRAWAL,
                user_id=user_id,
            )
            await consent_service.record_consent(
                db_session, contact=contact, data=data, actor=Actor.STAFF, user_id=user_id
            )

        act = WITHDRAWAL if withdrawal else CONSENT
        return await _act(request, db_session, cipher, contact_id, act, form, work)

    @post(f"{ONE}/bans", guards=[requires(Permission.CONSENTS_WRITE)], status_code=303)
    async def record_ban(
        self, request: StaffRequest, db_session: Session, cipher: Cipher, contact_id: FromPath[int]
    ) -> Response[Any]:
        form = text_fields(await verified_form(request))

        async def work(contact: Contact) -> None:
            fields = _optional(form, "kind", "channel", "source", "method", "note")
            await consent_service.record_ban(
                db_session,
                contact=contact,
                data=BanCreate.model_validate(fields),
                actor=Actor.STAFF,
                user_id=request.user.user_id,
            )

        return await _act(request, db_session, cipher, contact_id, BAN, form, work)

    @post(
        f"{ONE}/bans/{{ban_id:int}}/lift",
        guards=[requires(Permission.CONSENTS_WRITE)],
        status_code=303,
    )
    async def lift_ban(
        self,
        request: StaffRequest,
        db_session: Session,
        cipher: Cipher,
        contact_id: FromPath[int],
        ban_id: FromPath[int],
    ) -> Response[Any]:
        """The ban stays on record with who lifted it, when and why."""
        form = text_fields(await verified_form(request))

        async def work(contact: Contact) -> None:
            # A direct-marketing ban: the role first, as in the API, then the
            # person's own new act and a reason.
            ban = await consent_service.get_ban(db_session, contact=contact, ban_id=ban_id)
            dm = ban.kind is BanKind.DIRECT_MARKETING
            if dm and not request.user.can(Permission.GATE_INPUTS_WRITE):
                raise Forbidden(
                    _("Only a privacy officer or an administrator may lift a direct-marketing ban"),
                    fields={"note": _("your role may not lift a direct-marketing ban")},
                )
            note = form.get("note") or None
            if note is not None and len(note) > MAX_NOTE:
                message = _("at most %(n)s characters") % {"n": MAX_NOTE}
                raise InvalidInput(_("The note is too long."), fields={"note": message})
            data = BanLift.model_validate(
                {
                    **_optional(form, "note"),
                    **{
                        k: _number(form, k)
                        for k in ("consent_event_id", "request_id")
                        if form.get(k)
                    },
                }
            )
            await consent_service.lift_ban(
                db_session,
                contact=contact,
                ban_id=ban_id,
                user_id=request.user.user_id,
                note=note,
                evidence=consent_service.LiftEvidence(
                    reason=note,
                    consent_event_id=data.consent_event_id,
                    request_id=data.request_id,
                ),
            )

        return await _act(request, db_session, cipher, contact_id, BAN_LIFT, form, work)

    @post(f"{ONE}/restriction", guards=MANAGE, status_code=303)
    async def restrict(
        self, request: StaffRequest, db_session: Session, cipher: Cipher, contact_id: FromPath[int]
    ) -> Response[Any]:
        form = text_fields(await verified_form(request))

        async def work(contact: Contact) -> None:
            fields = {**_optional(form, "reason"), "request_id": _request_id(form)}
            await rights_service.restrict(
                db_session,
                contact=contact,
                data=RestrictionCreate.model_validate(fields),
                user_id=request.user.user_id,
            )

        return await _act(request, db_session, cipher, contact_id, RESTRICTION, form, work)

    @post(f"{ONE}/restriction/lift", guards=MANAGE, status_code=303)
    async def lift_restriction(
        self, request: StaffRequest, db_session: Session, cipher: Cipher, contact_id: FromPath[int]
    ) -> Response[Any]:
        form = text_fields(await verified_form(request))

        async def work(contact: Contact) -> None:
            fields = {**_optional(form, "note", "informed_how"), "request_id": _request_id(form)}
            await rights_service.lift_restriction(
                db_session,
                contact=contact,
                data=RestrictionLift.model_validate(fields),
                user_id=request.user.user_id,
                settings=request.app.state.settings,
            )

        return await _act(request, db_session, cipher, contact_id, RESTRICTION_LIFT, form, work)

    @post(f"{ONE}/legal-holds", guards=MANAGE, status_code=303)
    async def place_hold(
        self, request: StaffRequest, db_session: Session, cipher: Cipher, contact_id: FromPath[int]
    ) -> Response[Any]:
        form = text_fields(await verified_form(request))

        async def work(contact: Contact) -> None:
            await rights_service.place_hold(
                db_session,
                contact=contact,
                data=LegalHoldCreate.model_validate(_optional(form, "reason")),
                user_id=request.user.user_id,
            )

        return await _act(request, db_session, cipher, contact_id, HOLD, form, work)

    @post(f"{ONE}/legal-holds/{{hold_id:int}}/lift", guards=MANAGE, status_code=303)
    async def lift_hold(
        self,
        request: StaffRequest,
        db_session: Session,
        cipher: Cipher,
        contact_id: FromPath[int],
        hold_id: FromPath[int],
    ) -> Response[Any]:
        form = text_fields(await verified_form(request))

        async def work(contact: Contact) -> None:
            await rights_service.lift_hold(
                db_session,
                contact=contact,
                hold_id=hold_id,
                data=LegalHoldLift.model_validate(_optional(form, "note")),
                user_id=request.user.user_id,
            )

        return await _act(request, db_session, cipher, contact_id, HOLD_LIFT, form, work)
