"""HTTP routes for contacts: create, list, read, rectify, and the audited
reveal of the identity code. Their consent ledger, bans and eligibility are
service.consent.controllers; erasure and the other rights are
service.rights.controllers."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit import trail
from service.audit.schemas import IdentityCodeReveal, RevealedIdentityCode
from service.auth.middleware import requires
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

    @post("/", guards=[requires(Permission.CONTACTS_WRITE)], status_code=201)
    async def create_contact(
        self, db_session: Session, cipher: Cipher, data: JSONBody[ContactCreate]
    ) -> ContactRead:
        """Register a contact. 409 when the email or identity code is already
        registered, or the email or phone is on the suppression list."""
        contact = await service.create(db_session, data=data, cipher=cipher)
        trail.annotate(db_session, contact_id=contact.id)
        return await service.to_read(db_session, contact, cipher)

    @get("/", guards=[requires(Permission.CONTACTS_READ)], opt={"audit": "contact.list"})
    async def list_contacts(
        self,
        db_session: Session,
        cipher: Cipher,
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
            db_session, rows, total, limit=limit, offset=offset, cipher=cipher
        )

    @get(
        "/{contact_id:int}",
        guards=[requires(Permission.CONTACTS_READ)],
        opt={"audit": "contact.read"},
    )
    async def get_contact(
        self, db_session: Session, cipher: Cipher, contact_id: FromPath[int]
    ) -> ContactRead:
        contact = await service.get(db_session, contact_id)
        return await service.to_read(db_session, contact, cipher)

    @patch("/{contact_id:int}", guards=[requires(Permission.CONTACTS_WRITE)])
    async def update_contact(
        self,
        db_session: Session,
        cipher: Cipher,
        request: Request[Principal, Any, Any],
        contact_id: FromPath[int],
        data: JSONBody[ContactUpdate],
        request_id: RequestId = None,
    ) -> ContactRead:
        """Rectify a contact: only the fields sent change; null clears an optional one.

        The names of the changed fields (never their values) are recorded with
        who changed them and the request they answer. A restricted contact
        answers 409 ``restricted`` unless ``request_id`` names an open
        rectification request for it."""
        contact = await service.get(db_session, contact_id)
        contact = await service.update(
            db_session,
            contact=contact,
            data=data,
            cipher=cipher,
            user_id=_principal(request).user_id,
            request_id=request_id,
        )
        return await service.to_read(db_session, contact, cipher)

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
