"""HTTP routes for a contact's consent ledger, bans and eligibility. The
ledger is written by service.consent.service and judged by the gate
(service.consent.queries); these routes only read and append through them."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.audit import trail
from service.auth.middleware import demand, requires
from service.auth.permissions import Permission
from service.auth.service import Principal
from service.consent import receipts, service
from service.consent.queries import GateContext
from service.consent.schemas import (
    BanCreate,
    BanLift,
    BanRead,
    ConsentCreate,
    ConsentLedger,
    Eligibility,
    Receipt,
)
from service.crypto import DataCipher
from service.db import get_or_404
from service.errors import InvalidInput
from service.models import Ban, Contact
from service.models.enums import Actor, BanKind, Channel, ConsentAction, Purpose
from service.requests import linking

Session = NamedDependency[AsyncSession]
Cipher = NamedDependency[DataCipher]
StaffRequest = Request[Principal, Any, Any]
RequestId = Annotated[
    int | None,
    QueryParameter(ge=1, description="The data-subject request this answers (must be open)."),
]


async def _contact(session: AsyncSession, contact_id: int) -> Contact:
    return await get_or_404(session, Contact, contact_id, what="contact")


async def provide_liftable_ban(
    request: StaffRequest, db_session: Session, contact_id: FromPath[int], ban_id: FromPath[int]
) -> Ban:
    """The ban to lift, once the role may lift it: a direct-marketing ban
    needs contacts:write_gate_inputs, checked before anything the request
    sends is validated (403 whatever it holds)."""
    contact = await _contact(db_session, contact_id)
    ban = await service.get_ban(db_session, contact=contact, ban_id=ban_id)
    if ban.kind is BanKind.DIRECT_MARKETING:
        await demand(request, Permission.GATE_INPUTS_WRITE)
    return ban


def _lift_of(values: dict[str, Any]) -> BanLift:
    try:
        return BanLift.model_validate(values)
    except ValidationError as exc:
        fields = {
            str(error["loc"][0]) if error["loc"] else "query": str(error["msg"]).removeprefix(
                "Value error, "
            )
            for error in exc.errors(include_input=False, include_url=False)
        }
        raise InvalidInput("the request is not valid", fields=fields) from None


async def _lift(
    request: StaffRequest, db_session: AsyncSession, ban: Ban, data: BanLift
) -> BanRead:
    contact = await _contact(db_session, ban.contact_id)
    lifted = await service.lift_ban(
        db_session,
        contact=contact,
        ban_id=ban.id or 0,
        user_id=request.user.user_id,
        note=data.note or data.reason,
        evidence=service.LiftEvidence(
            reason=data.reason or data.note,
            consent_event_id=data.consent_event_id,
            request_id=data.request_id,
        ),
    )
    trail.annotate(
        db_session,
        reason=data.reason,
        consent_event_id=lifted.lift_consent_event_id,
        request_id=lifted.lift_request_id,
        ban_kind=lifted.kind.value,
    )
    return service.ban_read(lifted)


class ConsentController(Controller):
    path = "/contacts"
    tags = ["consent"]

    @get(
        "/{contact_id:int}/consents",
        guards=[requires(Permission.CONTACTS_READ)],
        opt={"audit": "consent.read"},
    )
    async def get_consents(self, db_session: Session, contact_id: FromPath[int]) -> ConsentLedger:
        """The current state per channel and purpose, and the full history, oldest first."""
        contact = await _contact(db_session, contact_id)
        return await service.ledger(db_session, contact=contact)

    @get(
        "/{contact_id:int}/consents/{event_id:int}/receipt",
        guards=[requires(Permission.CONTACTS_READ)],
        opt={"audit": "consent_receipt.read"},
    )
    async def get_receipt(
        self,
        request: StaffRequest,
        db_session: Session,
        cipher: Cipher,
        contact_id: FromPath[int],
        event_id: FromPath[int],
    ) -> Receipt:
        """The consent receipt of one ledger event (ISO/IEC TS 27560 fields; see
        docs/receipts.md): 404 unless the event is this contact's."""
        contact = await _contact(db_session, contact_id)
        return await receipts.for_event(
            db_session,
            contact=contact,
            event_id=event_id,
            settings=request.app.state.settings,
            cipher=cipher,
        )

    @post(
        "/{contact_id:int}/consents",
        guards=[requires(Permission.CONSENTS_WRITE)],
        status_code=201,
        opt={"audit": "consent.record"},
    )
    async def record_consent(
        self,
        request: StaffRequest,
        db_session: Session,
        contact_id: FromPath[int],
        data: JSONBody[ConsentCreate],
        request_id: RequestId = None,
    ) -> ConsentLedger:
        """Append a grant or withdrawal to the ledger; answers with the new ledger.
        A withdrawal may name the request it answers (``request_id``)."""
        contact = await _contact(db_session, contact_id)
        if request_id is not None and data.action is not ConsentAction.WITHDRAW:
            message = "only a withdrawal answers a data-subject request"
            raise InvalidInput(message, fields={linking.FIELD: message})
        user_id = request.user.user_id
        await linking.link(
            db_session,
            request_id=request_id,
            contact_id=contact_id,
            action=linking.Action.WITHDRAWAL,
            user_id=user_id,
        )
        await service.record_consent(
            db_session, contact=contact, data=data, actor=Actor.STAFF, user_id=user_id
        )
        return await service.ledger(db_session, contact=contact)

    @get(
        "/{contact_id:int}/bans",
        guards=[requires(Permission.CONTACTS_READ)],
        opt={"audit": "ban.read"},
    )
    async def list_bans(self, db_session: Session, contact_id: FromPath[int]) -> list[BanRead]:
        """Every ban, in force or lifted, oldest first."""
        contact = await _contact(db_session, contact_id)
        bans = await service.list_bans(db_session, contact=contact)
        return [service.ban_read(ban) for ban in bans]

    @post(
        "/{contact_id:int}/bans",
        guards=[requires(Permission.CONSENTS_WRITE)],
        status_code=201,
        opt={"audit": "ban.record"},
    )
    async def record_ban(
        self,
        request: StaffRequest,
        db_session: Session,
        contact_id: FromPath[int],
        data: JSONBody[BanCreate],
    ) -> BanRead:
        """Record a direct-marketing or purchase-registration ban (409 if the same
        ban is already in force)."""
        contact = await _contact(db_session, contact_id)
        ban = await service.record_ban(
            db_session,
            contact=contact,
            data=data,
            actor=Actor.STAFF,
            user_id=request.user.user_id,
        )
        return service.ban_read(ban)

    @delete(
        "/{contact_id:int}/bans/{ban_id:int}",
        guards=[requires(Permission.CONSENTS_WRITE)],
        status_code=200,
        opt={"audit": "ban.lift"},
        dependencies={"ban": Provide(provide_liftable_ban)},
    )
    async def lift_ban(
        self,
        request: StaffRequest,
        db_session: Session,
        contact_id: FromPath[int],
        ban_id: FromPath[int],
        ban: NamedDependency[Ban],
        reason: FromQuery[str | None] = None,
        note: FromQuery[str | None] = None,
        consent_event_id: FromQuery[str | None] = None,
        request_id: FromQuery[str | None] = None,
    ) -> BanRead:
        """Lift a ban. The ban stays in the record with who lifted it, when and why.

        A direct-marketing ban needs contacts:write_gate_inputs (403 for any
        other role, checked first) and the person's own new act:
        ``consent_event_id`` (a direct-marketing grant of theirs recorded after
        the ban: given through a link or form, or recorded with its evidence)
        or ``request_id`` (their request in the register, open or done,
        received after the ban), and a ``reason`` (``note`` is its older name).
        422 without them, 409 when the one named does not qualify. Also
        ``POST …/bans/{ban_id}/lift`` with the same fields as a JSON body."""
        given = {
            "reason": reason,
            "note": note,
            "consent_event_id": consent_event_id,
            "request_id": request_id,
        }
        data = _lift_of({k: v for k, v in given.items() if v is not None})
        return await _lift(request, db_session, ban, data)

    @post(
        "/{contact_id:int}/bans/{ban_id:int}/lift",
        guards=[requires(Permission.CONSENTS_WRITE)],
        status_code=200,
        opt={"audit": "ban.lift"},
        dependencies={"ban": Provide(provide_liftable_ban)},
    )
    async def lift_ban_with_body(
        self,
        request: StaffRequest,
        db_session: Session,
        contact_id: FromPath[int],
        ban_id: FromPath[int],
        ban: NamedDependency[Ban],
        data: JSONBody[BanLift],
    ) -> BanRead:
        """Lift a ban, as ``DELETE …/bans/{ban_id}`` does, with its fields in a JSON body."""
        return await _lift(request, db_session, ban, data)

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
        contact = await _contact(db_session, contact_id)
        context = GateContext(
            channel=channel,
            purpose=purpose,
            today=clock.today(),
            similar_products=similar_products,
        )
        return await service.eligibility(db_session, contact=contact, context=context)
