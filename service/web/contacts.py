"""``/app/contacts``: the list (filters, a name or email search, pages of 50)
and one contact's page: its fields, the consent and ban timeline, the
eligibility per channel with its reasons, messages received, engagement.

Everything is read through the services the JSON API calls (service.contacts,
service.consent, service.rights); the forms that change something are in
service.web.contact_actions. Filters that say nothing about a person (tag,
language, consent state, reason, page) travel in the query string; a name or
email typed into the search goes in a POST body and its answer is rendered
directly, so the text never lands in a URL, a log or the browser's history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy import ColumnElement, func, not_, or_, select
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.audit import trail
from service.auth.middleware import requires
from service.auth.permissions import Permission
from service.auth.service import Principal
from service.consent import service as consent_service
from service.consent.queries import Gate, GateContext, Segment
from service.contacts import service as contacts_service
from service.crypto import DataCipher
from service.db import run
from service.errors import NotFound
from service.models import Contact
from service.models.enums import (
    BanChannel,
    BanKind,
    CaptureMethod,
    Channel,
    ContactType,
    Gender,
    Language,
    LegalBasis,
    Purpose,
    Reason,
    Source,
)
from service.rights import export
from service.rights.schemas import AccessExport
from service.settings import Settings
from service.web.render import page
from service.web.session import verified_form

Session = NamedDependency[AsyncSession]
Cipher = NamedDependency[DataCipher]
StaffRequest = Request[Principal, Any, Any]
BASE = "/app/contacts"
PAGE_SIZE = 50
_MAX_TEXT = 200
ELIGIBLE = "eligible"
# The choices of the forms' <select>s; the templates hold the words.
OPTIONS: dict[str, list[str]] = {
    name: [member.value for member in enum]
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
    }.items()
}


class ConsentFilter(StrEnum):
    GRANTED = "granted"
    WITHDRAWN = "withdrawn"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Filters:
    """The list's filters; none of them names a person. ``reason`` is a gate
    reason code or "eligible", judged for ``channel`` like ``consent``."""

    tag: str | None = None
    language: Language | None = None
    channel: Channel = Channel.EMAIL
    consent: ConsentFilter | None = None
    reason: str | None = None
    page: int = 1

    def params(self, **changes: Any) -> dict[str, str]:
        """The filters as query parameters, defaults left out."""
        chosen = replace(self, **changes)
        pairs = {
            "tag": chosen.tag,
            "language": chosen.language,
            "channel": chosen.channel if chosen.channel is not Channel.EMAIL else None,
            "consent": chosen.consent,
            "reason": chosen.reason,
            "page": chosen.page if chosen.page != 1 else None,
        }
        return {name: str(value) for name, value in pairs.items() if value is not None}

    def link(self, **changes: Any) -> str:
        params = self.params(**changes)
        return f"{BASE}?{urlencode(params)}" if params else BASE

    def used(self) -> list[str]:
        return [name for name in self.params() if name != "page"]


def parse_filters(values: Mapping[str, Any]) -> tuple[Filters, list[str]]:
    """The filters of a query string or a search form, and what was wrong with
    them: a bad value is dropped and named, rather than failing the page."""
    problems: list[str] = []

    def text(name: str) -> str | None:
        value = values.get(name)
        return (value.strip()[:_MAX_TEXT] or None) if isinstance(value, str) else None

    def choice(name: str, allowed: set[str]) -> str | None:
        value = text(name)
        if value is not None and value not in allowed:
            problems.append(f"The {name} filter {value!r} is unknown; it was left out.")
            return None
        return value

    language = choice("language", set(Language))
    consent = choice("consent", set(ConsentFilter))
    page_number = text("page") or "1"
    filters = Filters(
        tag=(text("tag") or "").lower() or None,
        language=Language(language) if language else None,
        channel=Channel(choice("channel", set(Channel)) or Channel.EMAIL),
        consent=ConsentFilter(consent) if consent else None,
        reason=choice("reason", {ELIGIBLE, *Reason}),
        page=int(page_number) if page_number.isdigit() and len(page_number) < 7 else 1,
    )
    return replace(filters, page=max(filters.page, 1)), problems


def _matching(q: str) -> ColumnElement[bool]:
    """A fragment of name, nickname, email or customer number, matched as the
    API's ``GET /contacts?q=`` matches it (service.contacts.service.list_)."""
    pattern = "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    columns = (Contact.full_name, Contact.nickname, Contact.email, Contact.customer_number)
    return or_(*(func.lower(col(c)).like(pattern, escape="\\") for c in columns))


def _conditions(gate: Gate, filters: Filters, q: str | None) -> list[ColumnElement[bool]]:
    """The filters as conditions on the gate's FROM clause: its own expressions
    for the segment, the consent state and the reasons, so this list and a
    campaign's audience always agree."""
    found: list[ColumnElement[bool]] = []
    if filters.language or filters.tag:
        segment = Segment(
            languages=(filters.language.value,) if filters.language else (),
            tags=(filters.tag,) if filters.tag else (),
        )
        probe = Gate(replace(gate.context, segment=segment))
        found.append(not_(probe.reasons[Reason.OUTSIDE_SEGMENT]))
    consent = col(gate.consent.action)
    match filters.consent:
        case ConsentFilter.GRANTED:
            found.append(consent == "grant")
        case ConsentFilter.WITHDRAWN:
            found.append(consent == "withdraw")
        case ConsentFilter.NONE:
            found.append(consent.is_(None))
    if filters.reason == ELIGIBLE:
        found.append(gate.eligible())
    elif filters.reason is not None:
        found.append(gate.reasons[Reason(filters.reason)])
    if q:
        found.append(_matching(q))
    return found


async def _list_page(
    request: StaffRequest,
    db_session: AsyncSession,
    cipher: DataCipher,
    values: Mapping[str, Any],
    *,
    q: str | None = None,
) -> Response[str]:
    filters, problems = parse_filters(values)
    today = clock.today()
    gate = Gate(GateContext(channel=filters.channel, purpose=Purpose.DIRECT_MARKETING, today=today))
    if filters.reason not in (None, ELIGIBLE) and Reason(str(filters.reason)) not in gate.reasons:
        problems.append(f"The reason {filters.reason} never applies to {filters.channel}.")
        filters = replace(filters, reason=None)
    conditions = _conditions(gate, filters, q)
    count = select(func.count()).select_from(gate.source).where(*conditions)
    total = int((await run(db_session, count)).scalar_one())
    filters = replace(filters, page=min(filters.page, max((total - 1) // PAGE_SIZE + 1, 1)))
    offset = (filters.page - 1) * PAGE_SIZE
    query = select(Contact).select_from(gate.source).where(*conditions)
    query = query.order_by(col(Contact.id)).limit(PAGE_SIZE).offset(offset)
    rows = (await run(db_session, query)).scalars().all()
    found = await contacts_service.page(
        db_session, rows, total, limit=PAGE_SIZE, offset=offset, cipher=cipher
    )
    # The shape of the search, never its text; a page of one is a read of that person.
    trail.note(db_session, request, action="contact.list", status_code=200)
    trail.annotate(
        db_session,
        contact_id=found.items[0].id if len(found.items) == 1 else None,
        filters=filters.used() + (["q"] if q else []),
        page=filters.page,
        returned=len(found.items),
    )
    return page(
        request,
        "contacts/list",
        title="Contacts",
        found=found,
        filters=filters,
        q=q or "",
        reasons=[reason.value for reason in gate.reasons],
        problems=problems,
        pages=(total - 1) // PAGE_SIZE + 1 if total else 1,
        options=OPTIONS,
    )


# -- one contact -----------------------------------------------------------------


def local_time(moment: datetime | None) -> str:
    """A stored moment as staff read it: Helsinki time, to the minute."""
    if moment is None:
        return ""
    return _aware(moment).astimezone(clock.LOCAL_ZONE).strftime("%Y-%m-%d %H:%M")


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

    @property
    def when(self) -> str:
        return local_time(self.at)


def _entry(at: datetime, kind: str, title: str, lift: str | None = None, **facts: Any) -> Entry:
    """An entry; a vocabulary word is shown in words, what a person wrote as written."""
    shown = [
        (name.replace("_", " "), v.replace("_", " ") if isinstance(v, StrEnum) else str(v))
        for name, v in facts.items()
        if v is not None and v != ""
    ]
    return Entry(_aware(at), kind, title, shown, lift)


def _timeline(record: AccessExport, contact_id: int) -> list[Entry]:
    """Ledger events, bans, restrictions, objections and legal holds, newest
    first, each with its source and proof."""
    here = f"{BASE}/{contact_id}"
    entries = [
        _entry(
            e.occurred_at,
            e.action.value,
            f"Consent {'granted' if e.action == 'grant' else 'withdrawn'}: "
            f"{e.channel.value}, {e.purpose.value.replace('_', ' ')}",
            Source=e.source,
            Method=e.method,
            Evidence=e.evidence_text,
            Notice_version=e.notice_version,
            From_network=e.evidence_ip,
            Campaign=e.campaign_id,
            Recorded_by=e.actor,
        )
        for e in record.consents.history
    ]
    for ban in record.bans:
        what = f"{ban.kind.value.replace('_', ' ')} ban, channel {ban.channel.value}"
        lift = f"{here}/bans/{ban.id}/lift" if ban.active else None
        entries.append(
            _entry(
                ban.recorded_at,
                "ban",
                f"Ban: {what}",
                lift,
                Source=ban.source,
                Method=ban.method,
                Proof=ban.note,
                Campaign=ban.campaign_id,
                Recorded_by=ban.actor,
            )
        )
        if ban.lifted_at is not None:
            entries.append(
                _entry(ban.lifted_at, "lifted", f"Ban lifted: {what}", Note=ban.lift_note)
            )
    for r in record.restrictions:
        lift = f"{here}/restriction/lift" if r.lifted_at is None else None
        entries.append(
            _entry(r.placed_at, "restriction", "Processing restricted", lift, Reason=r.reason)
        )
        if r.lifted_at is not None:
            entries.append(_entry(r.lifted_at, "lifted", "Restriction lifted", Note=r.lift_note))
    for o in record.objections:
        title = f"Objection to {o.scope.value.replace('_', ' ')}: {o.decision.value}"
        entries.append(
            _entry(o.recorded_at, "objection", title, Grounds=o.grounds, Decision=o.decision_note)
        )
    for hold in record.legal_holds:
        lift = f"{here}/legal-holds/{hold.id}/lift" if hold.active else None
        entries.append(
            _entry(hold.placed_at, "hold", "Legal hold placed", lift, Reason=hold.reason)
        )
        if hold.lifted_at is not None:
            entries.append(
                _entry(hold.lifted_at, "lifted", "Legal hold lifted", Note=hold.lift_note)
            )
    return sorted(entries, key=lambda entry: entry.at, reverse=True)


@dataclass(frozen=True, slots=True)
class ChannelEligibility:
    channel: str
    eligible: bool
    reasons: list[str]
    # An existing customer's answer for offers of the company's own similar
    # products (soft opt-in), when it differs from the plain one.
    similar_products: bool | None = None


async def _eligibility(db_session: AsyncSession, contact: Contact) -> list[ChannelEligibility]:
    """THE consent gate, asked once per channel as ``GET …/eligibility`` asks it."""
    rows = []
    for channel in Channel:
        context = GateContext(
            channel=channel, purpose=Purpose.DIRECT_MARKETING, today=clock.today()
        )
        answer = await consent_service.eligibility(db_session, contact=contact, context=context)
        soft = None
        if contact.is_customer:
            offer = await consent_service.eligibility(
                db_session, contact=contact, context=replace(context, similar_products=True)
            )
            soft = offer.eligible if offer.eligible != answer.eligible else None
        reasons = [reason.value for reason in answer.reasons]
        rows.append(ChannelEligibility(channel.value, answer.eligible, reasons, soft))
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
        return page(request, "contacts/missing", title="No such contact", status=404)
    settings: Settings = request.app.state.settings
    # Everything held about the person, gathered as the access export gathers it.
    record = await export.gather(
        db_session, contact=contact, cipher=cipher, settings=settings, lang="en"
    )
    trail.note(db_session, request, action="contact.read", status_code=status)
    return page(
        request,
        "contacts/contact",
        title=f"Contact {contact_id}",
        status=status,
        contact=record.contact,
        current=record.consents.current,
        timeline=_timeline(record, contact_id),
        eligibility=await _eligibility(db_session, contact),
        messages=record.messages,
        engagement=record.engagement,
        campaigns={m.campaign_id: m.campaign_name for m in record.messages},
        local_time=local_time,
        done=request.query_params.get("done", ""),
        errors=errors or {},
        values=values or {},
        options=OPTIONS,
    )


class ContactPagesController(Controller):
    path = BASE
    include_in_schema = False
    guards = [requires(Permission.CONTACTS_READ)]

    @get("/")
    async def list_contacts(
        self, request: StaffRequest, db_session: Session, cipher: Cipher
    ) -> Response[str]:
        return await _list_page(request, db_session, cipher, request.query_params)

    @post("/search", status_code=200)
    async def search(
        self, request: StaffRequest, db_session: Session, cipher: Cipher
    ) -> Response[str]:
        """A name or email fragment, with the filters of the page it came from;
        answered directly, so the text stays out of every URL."""
        form = await verified_form(request)
        q = form.get("q")
        q = q.strip()[:_MAX_TEXT] if isinstance(q, str) else ""
        return await _list_page(request, db_session, cipher, form, q=q or None)

    @get("/{contact_id:int}")
    async def show(
        self, request: StaffRequest, db_session: Session, cipher: Cipher, contact_id: FromPath[int]
    ) -> Response[str]:
        return await contact_page(request, db_session, cipher, contact_id)
