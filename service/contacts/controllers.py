"""HTTP routes for contacts: create, list, read, rectify, and the audited
reveal of the identity code. Their consent ledger, bans and eligibility are
service.consent.controllers; erasure and the other rights are
service.rights.controllers."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit import trail
from service.audit.schemas import IdentityCodeReveal, RevealedIdentityCode
from service.auth.middleware import demand, requires
from service.auth.permissions import Permission
from service.auth.service import Principal
from service.contacts import service
from service.contacts.schemas import (
    MAX_SEARCH,
    ConsentFilter,
    ContactCreate,
    ContactFilters,
    ContactPage,
    ContactRead,
    ContactUpdate,
    ReasonFilter,
    parse_reason,
)
from service.crypto import DataCipher
from service.errors import InvalidInput, NotFound
from service.models import Contact
from service.models.enums import Channel, Language
from service.validation import InvalidValue, normalize_email

Session = NamedDependency[AsyncSession]
Cipher = NamedDependency[DataCipher]
Limit = Annotated[int, QueryParameter(ge=1, le=500)]
# Beyond a 64-bit integer the database refuses the OFFSET itself (a 5xx otherwise).
Offset = Annotated[int, QueryParameter(ge=0, le=2**63 - 1)]
RequestId = Annotated[
    int | None,
    QueryParameter(ge=1, description="The data-subject request this answers (must be open)."),
]


def _principal(request: Request[Principal, Any, Any]) -> Principal:
    return request.user


def _sees_code(request: Request[Principal, Any, Any]) -> bool:
    return request.user.can(Permission.CONTACTS_READ_IDENTITY_CODE)


async def _body_as_sent(request: Request[Principal, Any, Any]) -> Any:
    """The JSON body before validation (Litestar has read and cached it)."""
    try:
        return await request.json()
    except Exception:
        return None


async def provide_create_checked(request: Request[Principal, Any, Any]) -> bool:
    """Before the body is validated: 403 for identity code fields without
    contacts:read_identity_code. Returns whether the role sees codes."""
    await demand(request, *service.permissions_for(await _body_as_sent(request), None))
    return _sees_code(request)


async def provide_checked_contact(
    request: Request[Principal, Any, Any], db_session: Session, contact_id: FromPath[int]
) -> Contact:
    """The contact a PATCH changes, once its role may make the change the
    body asks for: checked before the body is validated, so a forbidden
    change answers 403 whatever else the body holds."""
    contact = await service.get(db_session, contact_id)
    await demand(request, *service.permissions_for(await _body_as_sent(request), contact))
    return contact


def _email(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return normalize_email(value)
    except InvalidValue as exc:
        raise InvalidInput(str(exc), fields={"email": str(exc)}) from None


def _reason(value: str | None) -> ReasonFilter | None:
    if value is None:
        return None
    try:
        return parse_reason(value)
    except ValueError as exc:
        raise InvalidInput("the reason filter is not valid", fields={"reason": str(exc)}) from None


class ContactController(Controller):
    path = "/contacts"
    tags = ["contacts"]

    @post(
        "/",
        guards=[requires(Permission.CONTACTS_WRITE)],
        status_code=201,
        dependencies={"sees_code": Provide(provide_create_checked)},
    )
    async def create_contact(
        self,
        db_session: Session,
        cipher: Cipher,
        sees_code: NamedDependency[bool],
        data: JSONBody[ContactCreate],
    ) -> ContactRead:
        """Register a contact. 409 when the email or identity code is already
        registered, or the email or phone is on the suppression list.

        Whoever may create contacts sets ``legal_basis``, ``contact_type`` and
        ``is_customer``. An identity code needs ``personal_identity_code_basis``
        and a role with contacts:read_identity_code (403 otherwise, whatever
        else the body holds); a business contact needs ``employer`` and
        ``position`` (422)."""
        contact = await service.create(db_session, data=data, cipher=cipher)
        trail.annotate(db_session, contact_id=contact.id)
        return await service.to_read(db_session, contact, cipher, identity_code=sees_code)

    @get("/", guards=[requires(Permission.CONTACTS_READ)], opt={"audit": "contact.list"})
    async def list_contacts(
        self,
        db_session: Session,
        cipher: Cipher,
        request: Request[Principal, Any, Any],
        email: FromQuery[str | None] = None,
        q: Annotated[str | None, QueryParameter(max_length=MAX_SEARCH)] = None,
        tag: Annotated[str | None, QueryParameter(max_length=64)] = None,
        language: FromQuery[Language | None] = None,
        channel: Annotated[
            Channel, QueryParameter(description="The channel consent and reason are judged for.")
        ] = Channel.EMAIL,
        consent: Annotated[
            ConsentFilter | None,
            QueryParameter(description="The direct-marketing consent on the channel."),
        ] = None,
        reason: Annotated[
            str | None,
            QueryParameter(
                max_length=64,
                description="eligible, or a reason code: the contacts the consent gate "
                "lets through on the channel today, or leaves out for that reason.",
            ),
        ] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> ContactPage:
        """Find contacts by exact email, by a text fragment of name, nickname,
        email or customer number, by tag and language, and by what the consent
        gate says of them on a channel (their consent state, or a reason code);
        the filters given all apply."""
        filters = ContactFilters(
            tag=tag,
            language=language,
            channel=channel,
            consent=consent,
            reason=_reason(reason),
            email=_email(email),
            q=q,
        )
        rows, total = await service.list_(db_session, filters=filters, limit=limit, offset=offset)
        sees_code = _sees_code(request)
        # The shape of the search, never its text; a page of one is a read of that person.
        trail.annotate(
            db_session,
            contact_id=rows[0].id if len(rows) == 1 else None,
            filters=filters.used(),
            limit=limit,
            offset=offset,
            returned=len(rows),
        )
        return await service.page(
            db_session,
            rows,
            total,
            limit=limit,
            offset=offset,
            cipher=cipher,
            identity_code=sees_code,
        )

    @get(
        "/{contact_id:int}",
        guards=[requires(Permission.CONTACTS_READ)],
        opt={"audit": "contact.read"},
    )
    async def get_contact(
        self,
        db_session: Session,
        cipher: Cipher,
        request: Request[Principal, Any, Any],
        contact_id: FromPath[int],
    ) -> ContactRead:
        """One contact. Without contacts:read_identity_code the identity code
        and its basis are null (not even the masked birth date shows)."""
        contact = await service.get(db_session, contact_id)
        return await service.to_read(db_session, contact, cipher, identity_code=_sees_code(request))

    @patch(
        "/{contact_id:int}",
        guards=[requires(Permission.CONTACTS_WRITE)],
        dependencies={"contact": Provide(provide_checked_contact)},
    )
    async def update_contact(
        self,
        db_session: Session,
        cipher: Cipher,
        request: Request[Principal, Any, Any],
        contact_id: FromPath[int],
        contact: NamedDependency[Contact],
        data: JSONBody[ContactUpdate],
        request_id: RequestId = None,
    ) -> ContactRead:
        """Rectify a contact: only the fields sent change; null clears an optional one.

        The names of the changed fields (never their values) are recorded with
        who changed them and the request they answer. A restricted contact
        answers 409 ``restricted`` unless ``request_id`` names an open
        rectification request for it.

        Changing a gate input (``legal_basis``, ``contact_type``,
        ``is_customer``) needs contacts:write_gate_inputs and a ``reason``
        (422 without); the identity code and its basis need
        contacts:read_identity_code. A role without the permission gets 403
        whatever else the body holds. The audit row keeps the reason and each
        gate input's value before and after."""
        changes = service.require_reason(contact, data)
        contact = await service.update(
            db_session,
            contact=contact,
            data=data,
            cipher=cipher,
            user_id=_principal(request).user_id,
            request_id=request_id,
        )
        trail.annotate(
            db_session,
            reason=data.reason,
            **{
                f"{name}_{when}": value
                for name, values in changes.items()
                for when, value in zip(("before", "after"), values, strict=True)
            },
        )
        return await service.to_read(db_session, contact, cipher, identity_code=_sees_code(request))

    @post(
        "/{contact_id:int}/identity-code/reveal",
        guards=[requires(Permission.CONTACTS_READ_IDENTITY_CODE)],
        status_code=200,
        opt={"audit": "identity_code.reveal"},
    )
    async def reveal_identity_code(
        self,
        db_session: Session,
        cipher: Cipher,
        contact_id: FromPath[int],
        data: JSONBody[IdentityCodeReveal],
    ) -> Response[RevealedIdentityCode]:
        """The identity code unmasked: the one route that shows it. Needs a reason
        (5-500 characters), which the audit trail keeps with who asked and when.
        A POST, so the code never sits in a URL, and never cached. 404 when the
        contact has no identity code."""
        contact = await service.get(db_session, contact_id)
        code = service.reveal_identity_code(contact, cipher)
        if code is None:
            raise NotFound(f"contact {contact_id} has no identity code")
        trail.annotate(db_session, reason=data.reason)
        return Response(
            RevealedIdentityCode(personal_identity_code=code),
            headers={"Cache-Control": "no-store"},
        )
