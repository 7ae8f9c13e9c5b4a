"""HTTP routes for contacts, their consent ledger, bans and eligibility, and
erasure (the other rights live in service.rights.controllers)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.audit import trail
from service.audit.schemas import IdentityCodeReveal, RevealedIdentityCode
from service.auth.middleware import requires
from service.auth.permissions import Permission
from service.auth.service import Principal
from service.consent import service as consent_service
from service.consent.queries import GateContext
from service.consent.schemas import BanCreate, BanRead, ConsentCreate, ConsentLedger, Eligibility
from service.contacts import service
from service.contacts.schemas import ContactCreate, ContactPage, ContactRead, ContactUpdate
from service.crypto import DataCipher
from service.errors import InvalidInput, NotFound
from service.models.enums import Actor, Channel, ConsentAction, Purpose
from service.rights import erasure, linking
from service.validation import InvalidValue, normalize_email

Session = NamedDependency[AsyncSession]
Cipher = NamedDependency[DataCipher]
Limit = Annotated[int, QueryParameter(ge=1, le=500)]
Offset = Annotated[int, QueryParameter(ge=0)]
RequestId = Annotated[
    int | None,
    QueryParameter(ge=1, description="The data-subject request this answers (must be open)."),
]


def _principal(request: Request[Principal, Any, Any]) -> Principal:
    return request.user


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
        q: Annotated[str | None, QueryParameter(max_length=200)] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> ContactPage:
        """Find contacts by exact email or by a text fragment of name, nickname,
        email or customer number."""
        if email is not None:
            try:
                email = normalize_email(email)
            except InvalidValue as exc:
                raise InvalidInput(str(exc), fields={"email": str(exc)}) from None
        rows, total = await service.list_(db_session, email=email, q=q, limit=limit, offset=offset)
        # The shape of the search, never its text; a page of one is a read of that person.
        trail.annotate(
            db_session,
            contact_id=rows[0].id if len(rows) == 1 else None,
            filters=[name for name, value in (("email", email), ("q", q)) if value is not None],
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

    @delete(
        "/{contact_id:int}",
        guards=[requires(Permission.RIGHTS_MANAGE)],
        status_code=204,
        opt={"audit": "contact.erase"},
    )
    async def erase_contact(
        self,
        request: Request[Principal, Any, Any],
        db_session: Session,
        contact_id: FromPath[int],
        request_id: RequestId = None,
    ) -> None:
        """Erase the person (GDPR 17): their data goes from every table; the keyed
        hashes of their email and phone stay on the suppression list, so neither
        sending nor a later import brings them back. 409 ``legal_hold`` while a
        legal hold is in force."""
        await service.get(db_session, contact_id)  # 404 before judging the request id
        user_id = _principal(request).user_id
        linked = None
        if request_id is not None:
            linked = await linking.open_request(
                db_session,
                request_id=request_id,
                contact_id=contact_id,
                action=linking.Action.ERASURE,
            )
        await erasure.erase_contact(
            db_session, contact_id, cause="request", user_id=user_id, request_id=request_id
        )
        if linked is not None:
            await linking.record(
                db_session, request=linked, action=linking.Action.ERASURE, user_id=user_id
            )

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

    @get(
        "/{contact_id:int}/consents",
        guards=[requires(Permission.CONTACTS_READ)],
        opt={"audit": "consent.read"},
    )
    async def get_consents(self, db_session: Session, contact_id: FromPath[int]) -> ConsentLedger:
        """The current state per channel and purpose, and the full history, oldest first."""
        contact = await service.get(db_session, contact_id)
        return await consent_service.ledger(db_session, contact=contact)

    @post(
        "/{contact_id:int}/consents",
        guards=[requires(Permission.CONSENTS_WRITE)],
        status_code=201,
        opt={"audit": "consent.record"},
    )
    async def record_consent(
        self,
        request: Request[Principal, Any, Any],
        db_session: Session,
        contact_id: FromPath[int],
        data: JSONBody[ConsentCreate],
        request_id: RequestId = None,
    ) -> ConsentLedger:
        """Append a grant or withdrawal to the ledger; answers with the new ledger.
        A withdrawal may name the request it answers (``request_id``)."""
        contact = await service.get(db_session, contact_id)
        if request_id is not None and data.action is not ConsentAction.WITHDRAW:
            message = "only a withdrawal answers a data-subject request"
            raise InvalidInput(message, fields={linking.FIELD: message})
        user_id = _principal(request).user_id
        await linking.link(
            db_session,
            request_id=request_id,
            contact_id=contact_id,
            action=linking.Action.WITHDRAWAL,
            user_id=user_id,
        )
        await consent_service.record_consent(
            db_session, contact=contact, data=data, actor=Actor.STAFF, user_id=user_id
        )
        return await consent_service.ledger(db_session, contact=contact)

    @get(
        "/{contact_id:int}/bans",
        guards=[requires(Permission.CONTACTS_READ)],
        opt={"audit": "ban.read"},
    )
    async def list_bans(self, db_session: Session, contact_id: FromPath[int]) -> list[BanRead]:
        """Every ban, in force or lifted, oldest first."""
        contact = await service.get(db_session, contact_id)
        bans = await consent_service.list_bans(db_session, contact=contact)
        return [consent_service.ban_read(ban) for ban in bans]

    @post(
        "/{contact_id:int}/bans",
        guards=[requires(Permission.CONSENTS_WRITE)],
        status_code=201,
        opt={"audit": "ban.record"},
    )
    async def record_ban(
        self,
        request: Request[Principal, Any, Any],
        db_session: Session,
        contact_id: FromPath[int],
        data: JSONBody[BanCreate],
    ) -> BanRead:
        """Record a direct-marketing or purchase-registration ban (409 if the same
        ban is already in force)."""
        contact = await service.get(db_session, contact_id)
        ban = await consent_service.record_ban(
            db_session,
            contact=contact,
            data=data,
            actor=Actor.STAFF,
            user_id=_principal(request).user_id,
        )
        return consent_service.ban_read(ban)

    @delete(
        "/{contact_id:int}/bans/{ban_id:int}",
        guards=[requires(Permission.CONSENTS_WRITE)],
        status_code=200,
        opt={"audit": "ban.lift"},
    )
    async def lift_ban(
        self,
        request: Request[Principal, Any, Any],
        db_session: Session,
        contact_id: FromPath[int],
        ban_id: FromPath[int],
        note: Annotated[str | None, QueryParameter(max_length=2000)] = None,
    ) -> BanRead:
        """Lift a ban. The ban stays in the record with who lifted it, when and why."""
        contact = await service.get(db_session, contact_id)
        ban = await consent_service.lift_ban(
            db_session,
            contact=contact,
            ban_id=ban_id,
            user_id=_principal(request).user_id,
            note=note,
        )
        return consent_service.ban_read(ban)

    @get(
        "/{contact_id:int}/eligibility",
        guards=[requires(Permission.CONTACTS_READ)],
        opt={"audit": "eligibility.read"},
    )
    async def get_eligibility(
        self,
        db_session: Session,
        contact_id: FromPath[int],
        channel: FromQuery[Channel] = Channel.EMAIL,
        purpose: FromQuery[Purpose] = Purpose.DIRECT_MARKETING,
        similar_products: FromQuery[bool] = False,
    ) -> Eligibility:
        """May this contact be contacted on this channel for this purpose today?
        ``similar_products=true`` evaluates it for a campaign offering the company's
        own similar products, where existing customers count as soft opt-in."""
        contact = await service.get(db_session, contact_id)
        context = GateContext(
            channel=channel,
            purpose=purpose,
            today=clock.today(),
            similar_products=similar_products,
        )
        return await consent_service.eligibility(db_session, contact=contact, context=context)
