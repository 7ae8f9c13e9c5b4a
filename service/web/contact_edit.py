"""``/app/contacts/{id}/edit``: rectify a contact in the browser, with the
schema, the permission checks, the evidence rules and the service that
``PATCH /api/v1/contacts/{id}`` uses.

The form shows every field as stored and sends back only the fields that
differ from it, so a save means what a PATCH of those fields means: a rule
over several fields (a business contact's employer and position, an identity
code's basis) is judged when one of its fields changes, and the change record
names exactly the fields changed. The identity code is never put into the
form: left empty it stays as it is, and a box clears it. A forbidden change
(a gate input without contacts:write_gate_inputs, an identity code field
without contacts:read_identity_code) answers 403 whatever else the form holds,
as the API does; a refused save changes nothing and shows the form again with
what was typed and each error next to its field.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Controller, Response, get, post
from litestar.params import FromPath
from pydantic import ValidationError

from service.audit import trail
from service.auth.middleware import demand, requires
from service.auth.permissions import Permission
from service.contacts import service as contacts_service
from service.contacts.schemas import REQUIRED_ON_UPDATE, ContactRead, ContactUpdate
from service.crypto import DataCipher
from service.errors import DomainError, InvalidInput, NotFound
from service.i18n import _
from service.models import Contact
from service.web import messages
from service.web.contact_actions import field_errors, text_fields
from service.web.contact_page import BASE, OPTIONS, Cipher, Session, StaffRequest
from service.web.render import page
from service.web.session import redirect, verified_form

# Shown as typed and sent back as text: an empty one clears the field.
TEXT_FIELDS = (
    "full_name",
    "nickname",
    "email",
    "phone",
    "customer_number",
    "employer",
    "position",
    "education",
    "street_address",
    "postal_code",
    "city",
    "country",
    "last_service_contact_at",
    "language",
    "gender",
    "source",
    "legal_basis",
    "contact_type",
)
CODE = "personal_identity_code"
BASIS = "personal_identity_code_basis"


def _split_tags(value: str) -> list[str]:
    # As the new-contact form: commas and plain spaces only, so a U+2028 or a
    # vertical tab stays inside a tag and the schema refuses it.
    return [tag for tag in re.split(r"[, ]+", value) if tag]


def stored_values(contact: ContactRead) -> dict[str, str]:
    """The contact as the form shows it: each field as text."""
    values: dict[str, str] = {}
    for name in TEXT_FIELDS:
        value = getattr(contact, name)
        values[name] = "" if value is None else str(getattr(value, "value", value))
    if contact.last_service_contact_at is not None:
        values["last_service_contact_at"] = contact.last_service_contact_at.isoformat()
    values["is_customer"] = "yes" if contact.is_customer else ""
    values["tags"] = ", ".join(contact.tags)
    basis = contact.personal_identity_code_basis
    values[BASIS] = basis.value if basis is not None else ""
    return values


def changed_fields(
    form: dict[str, str], stored: dict[str, str], *, gate_inputs_shown: bool
) -> dict[str, Any]:
    """The PATCH body the form asks for: each field it holds that differs
    from the stored value (an empty text clears it). ``gate_inputs_shown``:
    the form had the customer box, so its absence means "not a customer";
    otherwise the field counts only when sent (a forged form)."""
    body: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        if name in form and form[name] != stored[name]:
            body[name] = form[name] or None
    if "tags" in form and _split_tags(form["tags"]) != _split_tags(stored["tags"]):
        body["tags"] = _split_tags(form["tags"])
    if gate_inputs_shown or "is_customer" in form:
        customer = form.get("is_customer") == "yes"
        if customer != (stored["is_customer"] == "yes"):
            body["is_customer"] = customer
    if form.get("clear_identity_code") == "yes":
        body[CODE] = None
    elif form.get(CODE):
        body[CODE] = form[CODE]
    if BASIS in form and form[BASIS] != stored[BASIS]:
        body[BASIS] = form[BASIS] or None
    return body


def _request_id(form: dict[str, str]) -> int | None:
    value = form.get("request_id", "")
    if not value:
        return None
    if not value.isdigit() or len(value) > 9:
        raise InvalidInput(_("Not a request number."), fields={"request_id": _("must be a number")})
    return int(value)


def _edit_page(
    request: StaffRequest,
    contact: ContactRead,
    *,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response[str]:
    # The identity code is never put back into the form: it is typed again.
    shown = {k: v for k, v in values.items() if k != CODE}
    return page(
        request,
        "contacts/edit",
        title=_("Edit contact"),
        status=status,
        contact=contact,
        values=shown,
        errors=errors or {},
        options=OPTIONS,
    )


class ContactEditController(Controller):
    path = BASE
    include_in_schema = False
    guards = [requires(Permission.CONTACTS_WRITE)]

    @get("/{contact_id:int}/edit")
    async def edit_form(
        self, request: StaffRequest, db_session: Session, cipher: Cipher, contact_id: FromPath[int]
    ) -> Response[str]:
        found = await _read(request, db_session, cipher, contact_id)
        if found is None:
            return page(request, "contacts/missing", title=_("No such contact"), status=404)
        trail.note(db_session, request, action="contact.read", status_code=200)
        return _edit_page(request, found[1], values=stored_values(found[1]))

    @post("/{contact_id:int}/edit", status_code=303)
    async def save(
        self, request: StaffRequest, db_session: Session, cipher: Cipher, contact_id: FromPath[int]
    ) -> Response[Any]:
        """Rectify the contact as ``PATCH /api/v1/contacts/{id}`` does."""
        form = text_fields(await verified_form(request))
        found = await _read(request, db_session, cipher, contact_id)
        if found is None:
            return page(request, "contacts/missing", title=_("No such contact"), status=404)
        contact, shown = found
        stored = stored_values(shown)
        user = request.user
        body = changed_fields(
            form, stored, gate_inputs_shown=user.can(Permission.GATE_INPUTS_WRITE)
        )
        # The role first, as in the API: 403 (recorded) whatever else the form holds.
        await demand(request, *contacts_service.permissions_for(body, contact))
        if not body:
            return redirect(f"{BASE}/{contact_id}?done=unchanged")
        errors: dict[str, str] = {}
        status = 200
        try:
            empty = [name for name in REQUIRED_ON_UPDATE if name in body and body[name] is None]
            cleared = {name: _("required") for name in empty}
            if cleared:
                raise InvalidInput(_("Required fields are empty."), fields=cleared)
            if form.get("reason"):
                body["reason"] = form["reason"]
            data = ContactUpdate.model_validate(body)
            changes = contacts_service.require_reason(contact, data)
            await contacts_service.update(
                db_session,
                contact=contact,
                data=data,
                cipher=cipher,
                user_id=user.user_id,
                request_id=_request_id(form),
            )
        except ValidationError as exc:
            errors, status = field_errors(exc), 422
        except DomainError as exc:
            errors, status = (
                {**messages.refusal_fields(exc), "form": messages.refusal(exc)},
                exc.status_code,
            )
        if errors:
            await db_session.rollback()
            return _edit_page(request, shown, values=form, errors=errors, status=status)
        trail.note(db_session, request, action="contact.update", status_code=303)
        trail.annotate(
            db_session,
            reason=data.reason,
            **{
                f"{name}_{when}": value
                for name, values in changes.items()
                for when, value in zip(("before", "after"), values, strict=True)
            },
        )
        return redirect(f"{BASE}/{contact_id}?done=updated")


async def _read(
    request: StaffRequest, db_session: Session, cipher: DataCipher, contact_id: int
) -> tuple[Contact, ContactRead] | None:
    try:
        contact = await contacts_service.get(db_session, contact_id)
    except NotFound:
        return None
    sees_code = request.user.can(Permission.CONTACTS_READ_IDENTITY_CODE)
    read = await contacts_service.to_read(db_session, contact, cipher, identity_code=sees_code)
    return contact, read
