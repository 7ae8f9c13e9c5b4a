"""``/app/contacts/{id}``: one contact's page: its fields, the consent and ban
timeline, the eligibility per channel with its reasons, the purchases with
soft opt-in's evidence, messages received, engagement. Everything is read
through the services the JSON API calls (service.contacts, service.consent,
service.rights); the list is in service.web.contacts, the forms that change
something in service.web.contact_actions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from litestar import Request, Response
from litestar.di import NamedDependency
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock, i18n
from service.audit import trail
from service.auth.service import Principal
from service.consent import receipts
from service.consent import service as consent_service
from service.consent.queries import GateContext
from service.contacts import service as contacts_service
from service.crypto import DataCipher
from service.errors import NotFound
from service.i18n import _
from service.models import Contact
from service.models.enums import (
    BanChannel,
    BanKind,
    CaptureMethod,
    Channel,
    ContactType,
    Gender,
    IdentityCodeBasis,
    InteractionKind,
    Language,
    LegalBasis,
    ObjectionDecision,
    ObjectionScope,
    Purpose,
    Source,
)
from service.rights import export
from service.rights.schemas import AccessExport
from service.settings import Settings
from service.validation import mask_identity_code
from service.web.render import page

Session = NamedDependency[AsyncSession]
Cipher = NamedDependency[DataCipher]
StaffRequest = Request[Principal, Any, Any]
BASE = "/app/contacts"
# The choices of the forms' <select>s: the codes, shown by their labels.
OPTIONS: dict[str, list[StrEnum]] = {
    name: list(enum)
    for name, enum in {
        "language": Language,
        "gender": Gender,
        "contact_type": ContactType,
        "legal_basis": LegalBasis,
        "source": Source,
        "channel": Channel,
        "ban_channel": BanChannel,
        "ban_kind": BanKind,
        "purpose": Purpose,
        "method": CaptureMethod,
        "identity_code_basis": IdentityCodeBasis,
        "objection_scope": ObjectionScope,
    }.items()
}


def local_time(moment: datetime | None) -> str:
    """A stored moment as staff read it: Helsinki time, to the minute, the
    way of the language of the moment (service.i18n.format_datetime)."""
    if moment is None:
        return ""
    return i18n.format_datetime(_aware(moment))


def _aware(moment: datetime) -> datetime:
    # SQLite hands back the stored UTC moments without their zone.
    return moment if moment.utcoffset() is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of the consent and ban timeline."""

    at: datetime
    kind: str  # grant, withdraw, ban, restriction, objection, hold, lifted
    title: str
    facts: list[tuple[str, str]]
    lift: str | None = None  # the path of the form that lifts it, while it is in force
    receipt: str | None = None  # a ledger event's receipt page
    # A direct-marketing ban: lifted only by contacts:write_gate_inputs, on
    # the person's own new act (a consent event or a request of theirs).
    needs_persons_act: bool = False

    @property
    def when(self) -> str:
        return local_time(self.at)


def _entry(
    at: datetime,
    kind: str,
    title: str,
    facts: list[tuple[str, object]],
    lift: str | None = None,
    receipt: str | None = None,
) -> Entry:
    """An entry; a code is shown by its label, what a person wrote as written."""
    shown = [
        (name, i18n.label(type(v), v) if isinstance(v, StrEnum) else str(v))
        for name, v in facts
        if v is not None and v != ""
    ]
    return Entry(_aware(at), kind, title, shown, lift, receipt)


def _consent_title(action: str, channel: StrEnum, purpose: StrEnum) -> str:
    words = {"channel": i18n.label(Channel, channel), "purpose": i18n.label(Purpose, purpose)}
    if action == "grant":
        return _("Consent granted: %(channel)s, %(purpose)s") % words
    return _("Consent withdrawn: %(channel)s, %(purpose)s") % words


def _timeline(record: AccessExport, contact_id: int) -> list[Entry]:
    """Ledger events, bans, restrictions, objections and legal holds, newest
    first, each with its source and proof."""
    here = f"{BASE}/{contact_id}"
    source, method, note, reason = _("Source"), _("Method"), _("Note"), _("Reason")
    entries = [
        _entry(
            e.occurred_at,
            e.action.value,
            _consent_title(e.action.value, e.channel, e.purpose),
            [
                (source, e.source),
                (method, e.method),
                (_("Form"), e.form),
                (_("Evidence"), e.evidence_text),
                (_("Notice version"), e.notice_version),
                (_("From network"), e.evidence_ip),
                (_("Campaign"), e.campaign_id),
                (_("Recorded by"), e.actor),
            ],
            receipt=f"{here}/consents/{e.id}/receipt",
        )
        for e in record.consents.history
    ]
    for ban in record.bans:
        words = {
            "kind": i18n.label(BanKind, ban.kind),
            "channel": i18n.label(BanChannel, ban.channel),
        }
        lift = f"{here}/bans/{ban.id}/lift" if ban.active else None
        entry = _entry(
            ban.recorded_at,
            "ban",
            _("%(kind)s, %(channel)s") % words,
            [
                (source, ban.source),
                (method, ban.method),
                (_("Proof"), ban.note),
                (_("Campaign"), ban.campaign_id),
                (_("Recorded by"), ban.actor),
            ],
            lift,
        )
        entries.append(replace(entry, needs_persons_act=ban.kind is BanKind.DIRECT_MARKETING))
        if ban.lifted_at is not None:
            title = _("Lifted: %(kind)s, %(channel)s") % words
            entries.append(_entry(ban.lifted_at, "lifted", title, [(note, ban.lift_note)]))
    for r in record.restrictions:
        lift = f"{here}/restriction/lift" if r.lifted_at is None else None
        title = _("Processing restricted")
        entries.append(_entry(r.placed_at, "restriction", title, [(reason, r.reason)], lift))
        if r.lifted_at is not None:
            entries.append(
                _entry(r.lifted_at, "lifted", _("Restriction lifted"), [(note, r.lift_note)])
            )
    for o in record.objections:
        title = _("Objection to %(scope)s: %(decision)s") % {
            "scope": i18n.label(ObjectionScope, o.scope),
            "decision": i18n.label(ObjectionDecision, o.decision),
        }
        facts: list[tuple[str, object]] = [
            (_("Grounds"), o.grounds),
            (_("Decision"), o.decision_note),
        ]
        entries.append(_entry(o.recorded_at, "objection", title, facts))
    for hold in record.legal_holds:
        lift = f"{here}/legal-holds/{hold.id}/lift" if hold.active else None
        entries.append(
            _entry(hold.placed_at, "hold", _("Legal hold placed"), [(reason, hold.reason)], lift)
        )
        if hold.lifted_at is not None:
            entries.append(
                _entry(hold.lifted_at, "lifted", _("Legal hold lifted"), [(note, hold.lift_note)])
            )
    return sorted(entries, key=lambda entry: entry.at, reverse=True)


@dataclass(frozen=True, slots=True)
class ChannelEligibility:
    channel: str
    eligible: bool
    reasons: list[str]
    # An existing customer's answer for offers of the company's own similar
    # products (soft opt-in), when it differs from the plain one, and why not.
    similar_products: bool | None = None
    similar_reasons: list[str] | None = None


async def _eligibility(db_session: AsyncSession, contact: Contact) -> list[ChannelEligibility]:
    """THE consent gate, asked once per channel as ``GET …/eligibility`` asks it."""
    rows = []
    for channel in Channel:
        context = GateContext(
            channel=channel, purpose=Purpose.DIRECT_MARKETING, today=clock.today()
        )
        answer = await consent_service.eligibility(db_session, contact=contact, context=context)
        soft, soft_reasons = None, None
        if contact.is_customer:
            offer = await consent_service.eligibility(
                db_session, contact=contact, context=replace(context, similar_products=True)
            )
            if offer.reasons != answer.reasons:
                soft = offer.eligible
                soft_reasons = [reason.value for reason in offer.reasons]
        reasons = [reason.value for reason in answer.reasons]
        rows.append(ChannelEligibility(channel.value, answer.eligible, reasons, soft, soft_reasons))
    return rows


async def contact_page(
    request: StaffRequest,
    db_session: AsyncSession,
    cipher: DataCipher,
    contact_id: int,
    *,
    status: int = 200,
    errors: dict[str, dict[str, str]] | None = None,
    values: dict[str, dict[str, str]] | None = None,
) -> Response[str]:
    """The contact's page; after a refused action, with that form's errors."""
    try:
        contact = await contacts_service.get(db_session, contact_id)
    except NotFound:
        return page(request, "contacts/missing", title=_("No such contact"), status=404)
    settings: Settings = request.app.state.settings
    # Everything held about the person, gathered as the access export gathers it.
    record = await export.gather(
        db_session, contact=contact, cipher=cipher, settings=settings, lang="en"
    )
    trail.note(db_session, request, action="contact.read", status_code=status)
    code = record.contact.personal_identity_code
    return page(
        request,
        "contacts/contact",
        title=_("Contact %(id)s") % {"id": contact_id},
        status=status,
        # The export carries the person's own code whole; staff see it masked here.
        contact=record.contact.model_copy(
            update={"personal_identity_code": mask_identity_code(code) if code else None}
        ),
        current=record.consents.current,
        timeline=_timeline(record, contact_id),
        eligibility=await _eligibility(db_session, contact),
        # Soft opt-in rests on these (the gate's no_purchase_record, no_refusal_notice).
        purchases=sorted(
            (i for i in record.interactions if i.kind is InteractionKind.PURCHASE),
            key=lambda i: (i.occurred_on, i.id),
            reverse=True,
        ),
        messages=record.messages,
        pending_objections=[
            o for o in record.objections if o.decision is ObjectionDecision.PENDING
        ],
        engagement=record.engagement,
        campaigns={m.campaign_id: m.campaign_name for m in record.messages},
        local_time=local_time,
        done=request.query_params.get("done", ""),
        errors=errors or {},
        values=values or {},
        options=OPTIONS,
    )


async def receipt_page(
    request: StaffRequest,
    db_session: AsyncSession,
    cipher: DataCipher,
    contact_id: int,
    event_id: int,
) -> Response[str]:
    """One ledger event's consent receipt, as ``GET …/consents/{id}/receipt`` returns it."""
    try:
        contact = await contacts_service.get(db_session, contact_id)
        receipt = await receipts.for_event(
            db_session,
            contact=contact,
            event_id=event_id,
            settings=request.app.state.settings,
            cipher=cipher,
        )
    except NotFound:
        return page(request, "contacts/missing", title=_("No such consent event"), status=404)
    trail.note(db_session, request, action="consent_receipt.read", status_code=200)
    body = receipt.model_dump(mode="json")
    return page(
        request,
        "contacts/receipt",
        title=_("Consent receipt, contact %(id)s") % {"id": contact_id},
        contact_id=contact_id,
        receipt=receipt,
        local_time=local_time,
        json=json.dumps(body, ensure_ascii=False, indent=2),
    )
