"""The consent ledger and bans: record, lift, read, and ask the gate.

This is the ledger's one writer. An event is appended and the current state
(``consent_states``) moved to it in the same transaction, whoever records it:
a request (``record_consent``), an import's chunk (``record_many``), or a
restore putting back a withdrawal an older copy lacks (``replay_withdrawal``).
A withdrawal of ``profiling_report`` also ends the profiles made under it, in
that same transaction (``consent.profiling``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service import rules
from service.consent import profiling
from service.consent.queries import Gate, GateContext, reasons_of_contact
from service.consent.schemas import (
    BanCreate,
    BanRead,
    ConsentCreate,
    ConsentEventRead,
    ConsentLedger,
    ConsentStateRead,
    Eligibility,
)
from service.db import insert_returning_ids, run, upsert, upsert_many
from service.errors import Conflict, InvalidInput, NotFound
from service.labels import N_
from service.models import Ban, ConsentEvent, ConsentState, Contact, DataSubjectRequest, SignupForm
from service.models.base import utcnow
from service.models.enums import (
    Actor,
    BanChannel,
    BanKind,
    Channel,
    ConsentAction,
    Purpose,
    Reason,
    RequestStatus,
)

EVENTS: Any = ConsentEvent.__table__  # type: ignore[attr-defined]
STATES: Any = ConsentState.__table__  # type: ignore[attr-defined]
STATE_KEY = ["contact_id", "channel", "purpose"]


async def lock_person(session: AsyncSession, contact_id: int) -> bool:
    """Take the contact's row lock for the rest of the transaction; False if
    there is no such contact.

    A choice made through a public link is recorded only if it changes the
    current state, and the same link may be posted several times at once (a
    mail provider's retry overlapping the person's click). Reading the state
    and writing the change must not interleave, so the transaction writes
    first: an UPDATE that changes nothing locks the row on PostgreSQL and
    takes SQLite's write lock, and whoever comes second reads the first
    one's result.
    """
    result = await run(
        session,
        update(Contact).where(col(Contact.id) == contact_id).values(id=col(Contact.id)),
    )
    return bool(result.rowcount)


@dataclass(frozen=True, slots=True)
class Collected:
    """How Consentry itself collected a choice: the archived text shown
    (``consent_texts``), its language, and for a signup form the form, its
    version, and when and from which network it was submitted (a double
    opt-in grant's own time and IP are those of the confirmation)."""

    text_id: int | None = None
    language: str | None = None
    form_id: int | None = None
    form_version: int | None = None
    submitted_at: datetime | None = None
    submission_ip: str | None = None


async def record_consent(
    session: AsyncSession,
    *,
    contact: Contact,
    data: ConsentCreate,
    actor: Actor,
    user_id: int | None,
    campaign_id: int | None = None,
    collected: Collected | None = None,
) -> ConsentEvent:
    """Append a grant or withdrawal and move the current state to it, in one transaction."""
    assert contact.id is not None
    evidence = data.evidence
    collected = collected or Collected()
    event = ConsentEvent(
        contact_id=contact.id,
        channel=data.channel,
        purpose=data.purpose,
        action=data.action,
        source=data.source,
        method=data.method,
        evidence_text=evidence.text if evidence else None,
        notice_version=evidence.notice_version if evidence else None,
        evidence_ip=evidence.ip if evidence else None,
        campaign_id=campaign_id,
        actor=actor,
        recorded_by_user_id=user_id,
        text_id=collected.text_id,
        language=collected.language,
        form_id=collected.form_id,
        form_version=collected.form_version,
        submitted_at=collected.submitted_at,
        submission_ip=collected.submission_ip,
    )
    session.add(event)
    await session.flush()
    await session.exec(
        upsert(
            session,
            ConsentState.__table__,  # type: ignore[attr-defined]
            keys=["contact_id", "channel", "purpose"],
            values={
                "contact_id": contact.id,
                "channel": data.channel.value,
                "purpose": data.purpose.value,
                "action": data.action.value,
                "event_id": event.id,
                "updated_at": event.occurred_at,
            },
        )
    )
    if profiling.is_profiling_withdrawal(data.purpose, data.action):
        await profiling.end_profiles(session, [contact.id], withdrawn_at=event.occurred_at)
    return event


async def record_many(session: AsyncSession, events: list[dict[str, Any]]) -> list[int]:
    """Append many events at once (an import's chunk) and move each state to
    its event: two statements, whatever the count. Each dict holds a
    ``consent_events`` row's columns; on SQLite the caller holds the write
    lock (service.db.insert_returning_ids). Returns the new events' ids."""
    if not events:
        return []
    ids = await insert_returning_ids(session, EVENTS, events)
    states = [
        {
            "contact_id": event["contact_id"],
            "channel": str(event["channel"]),
            "purpose": str(event["purpose"]),
            "action": str(event["action"]),
            "event_id": event_id,
            "updated_at": event["occurred_at"],
        }
        for event, event_id in zip(events, ids, strict=True)
    ]
    statement = upsert_many(
        session, STATES, keys=STATE_KEY, update=["action", "event_id", "updated_at"]
    )
    await run(session, statement, states)
    ended: dict[datetime, list[int]] = {}
    for event in events:
        if profiling.is_profiling_withdrawal(event["purpose"], event["action"]):
            ended.setdefault(event["occurred_at"], []).append(event["contact_id"])
    for withdrawn_at, contact_ids in ended.items():
        await profiling.end_profiles(session, contact_ids, withdrawn_at=withdrawn_at)
    return ids


async def replay_withdrawal(session: AsyncSession, event: dict[str, Any]) -> int:
    """Put back a withdrawal a restored copy lacks, as it was recorded (its
    time and who recorded it). It becomes the current state unless the copy
    knows of a later choice. Returns the event's id."""
    event_id: int = (
        await run(session, insert(EVENTS).values(**event).returning(EVENTS.c.id))
    ).scalar_one()
    # Whatever the copy knows of later: the profiles made before this
    # withdrawal were to be destroyed, and were, in the register replaced.
    if profiling.is_profiling_withdrawal(event["purpose"], event["action"]):
        await profiling.end_profiles(
            session, [event["contact_id"]], withdrawn_at=event["occurred_at"]
        )
    latest = await session.scalar(
        select(EVENTS.c.occurred_at)
        .select_from(STATES.join(EVENTS, EVENTS.c.id == STATES.c.event_id))
        .where(
            STATES.c.contact_id == event["contact_id"],
            STATES.c.channel == event["channel"],
            STATES.c.purpose == event["purpose"],
        )
    )
    if latest is not None and latest >= event["occurred_at"]:
        return event_id
    await run(
        session,
        upsert(
            session,
            STATES,
            keys=STATE_KEY,
            values={
                "contact_id": event["contact_id"],
                "channel": event["channel"],
                "purpose": event["purpose"],
                "action": ConsentAction.WITHDRAW.value,
                "event_id": event_id,
                "updated_at": event["occurred_at"],
            },
        ),
    )
    return event_id


async def granted(session: AsyncSession, *, contact_id: int, purpose: Purpose) -> bool:
    """Whether the person's current consent for ``purpose`` is a grant on any
    channel (a profiling report needs one, whatever the channel)."""
    rows = await session.exec(
        select(ConsentState.contact_id).where(
            ConsentState.contact_id == contact_id,
            ConsentState.purpose == purpose,
            ConsentState.action == ConsentAction.GRANT,
        )
    )
    return rows.first() is not None


# Purposes a direct-marketing ban closes: tracking is only of marketing email.
_MARKETING = frozenset({Purpose.DIRECT_MARKETING, Purpose.EMAIL_TRACKING})
_ADDRESS_OF = {Channel.EMAIL: "email", Channel.SMS: "phone", Channel.PHONE: "phone"}


def grant_refused(
    contact: Contact,
    channel: Channel,
    purpose: Purpose,
    *,
    current: ConsentAction | None,
    bans: Collection[BanChannel],
    suppressed: Collection[str],
) -> tuple[Reason, str] | None:
    """Why a grant from a bulk source (an import) may not be recorded, or None:
    only the person can renew a withdrawal or overrule their own objection, ban
    or suppression. The caller has read, for many contacts at once, the
    current state, the direct-marketing bans in force and the suppressed
    address hashes; the reasons are the gate's."""
    if current is ConsentAction.WITHDRAW:
        return (
            Reason.CONSENT_WITHDRAWN,
            "the person has withdrawn this consent; an import cannot renew it",
        )
    if contact.objected_at is not None:
        return Reason.OBJECTED, "the person has objected to direct marketing"
    if purpose in _MARKETING:
        if BanChannel.ALL in bans:
            return Reason.DIRECT_MARKETING_BAN, "the person has banned direct marketing"
        if BanChannel(channel.value) in bans:
            return Reason.CHANNEL_BAN, f"the person has banned direct marketing by {channel.value}"
    address = _ADDRESS_OF.get(channel)
    if address is not None and getattr(contact, f"{address}_hash") in suppressed:
        return Reason.SUPPRESSED, f"the contact's {address} is on the suppression list"
    return None


async def ledger(session: AsyncSession, *, contact: Contact) -> ConsentLedger:
    """The current state per pair and every event, oldest first; an event
    collected on a signup form names the form by its slug (one join)."""
    events = (
        await session.exec(
            select(ConsentEvent, SignupForm.slug)
            .outerjoin(SignupForm, col(SignupForm.id) == col(ConsentEvent.form_id))
            .where(ConsentEvent.contact_id == contact.id)
            .order_by(col(ConsentEvent.id))
        )
    ).all()
    states = (
        await session.exec(
            select(ConsentState)
            .where(ConsentState.contact_id == contact.id)
            .order_by(col(ConsentState.channel), col(ConsentState.purpose))
        )
    ).all()
    return ConsentLedger(
        current=[
            ConsentStateRead(
                channel=s.channel,
                purpose=s.purpose,
                state=s.action,
                event_id=s.event_id,
                since=s.updated_at,
            )
            for s in states
        ],
        history=[
            ConsentEventRead.model_validate({**event.model_dump(), "form": slug})
            for event, slug in events
        ],
    )


async def record_ban(
    session: AsyncSession,
    *,
    contact: Contact,
    data: BanCreate,
    actor: Actor,
    user_id: int | None,
    campaign_id: int | None = None,
) -> Ban:
    assert contact.id is not None
    active = await session.exec(
        select(Ban.id).where(
            Ban.contact_id == contact.id,
            Ban.kind == data.kind,
            Ban.channel == data.channel,
            col(Ban.lifted_at).is_(None),
        )
    )
    if (existing := active.first()) is not None:
        raise Conflict(
            f"ban {existing} of this kind and channel is already in force", reason="already_banned"
        )
    ban = Ban(
        contact_id=contact.id,
        kind=data.kind,
        channel=data.channel,
        source=data.source,
        method=data.method,
        note=data.note,
        campaign_id=campaign_id,
        actor=actor,
        recorded_by_user_id=user_id,
    )
    session.add(ban)
    await session.flush()
    return ban


async def get_ban(session: AsyncSession, *, contact: Contact, ban_id: int) -> Ban:
    ban = await session.get(Ban, ban_id)
    if ban is None or ban.contact_id != contact.id:
        raise NotFound(f"contact {contact.id} has no ban with id {ban_id}")
    return ban


@dataclass(frozen=True, slots=True)
class LiftEvidence:
    """The person's own new act a direct-marketing ban is lifted on: a grant
    they gave after the ban (``consent_event_id``) or their request in the
    register (``request_id``); and why, in staff's words (``reason``)."""

    reason: str | None = None
    consent_event_id: int | None = None
    request_id: int | None = None


# Who can have written a grant that is the person's own act: the person
# through a signed link or a form (public_link), or staff and imports
# recording it with its evidence (the words shown, a signed paper form …).
# The system (a bounce, retention) never grants.
_PERSONS_ACT_ACTORS = frozenset({Actor.PUBLIC_LINK, Actor.STAFF, Actor.IMPORT})


async def _persons_grant(
    session: AsyncSession, *, contact: Contact, ban: Ban, event_id: int
) -> str | None:
    """Why the ledger event cannot lift the ban, or None when it can."""
    event = await session.get(ConsentEvent, event_id)
    if event is None or event.contact_id != contact.id:
        return f"contact {contact.id} has no consent event with id {event_id}"
    if event.action is not ConsentAction.GRANT or event.purpose is not Purpose.DIRECT_MARKETING:
        return "the consent event must be a grant of direct marketing"
    if ban.channel is not BanChannel.ALL and event.channel.value != ban.channel.value:
        return f"the grant must be for the banned channel ({ban.channel.value})"
    if _naive(event.occurred_at) <= _naive(ban.recorded_at):
        return "the grant must have been given after the ban"
    if event.actor not in _PERSONS_ACT_ACTORS:
        return "the consent event is not the person's own act"
    has_evidence = any(
        value is not None for value in (event.evidence_text, event.notice_version, event.text_id)
    )
    if event.actor is not Actor.PUBLIC_LINK and not has_evidence:
        return (
            "a grant recorded by staff or an import needs its evidence (what the person was shown)"
        )
    return None


def _naive(moment: datetime) -> datetime:
    # SQLite hands stored UTC moments back without their zone.
    return moment.replace(tzinfo=None) if moment.utcoffset() is not None else moment


async def _persons_request(
    session: AsyncSession, *, contact: Contact, ban: Ban, request_id: int
) -> str | None:
    """Why the request cannot lift the ban, or None when it can."""
    request = await session.get(DataSubjectRequest, request_id)
    if request is None or request.contact_id != contact.id:
        return f"contact {contact.id} has no request with id {request_id}"
    if request.status is RequestStatus.REFUSED:
        return "the request was refused"
    # received_on is a Helsinki day; so is the ban's, not its UTC date.
    if request.received_on < rules.local_date(_naive(ban.recorded_at).replace(tzinfo=UTC)):
        return "the request must have been received after the ban"
    return None


async def lift_ban(
    session: AsyncSession,
    *,
    contact: Contact,
    ban_id: int,
    user_id: int | None,
    note: str | None,
    evidence: LiftEvidence | None = None,
) -> Ban:
    """Lift a ban; it stays on record with who lifted it, when and why.

    A direct-marketing ban is the person's own word, so only their own new
    act lifts it: ``evidence`` names a grant they gave after it or their
    request (422 without one, 409 when the one named does not qualify), and
    the staff member's reason. The caller checks the role
    (contacts:write_gate_inputs). A purchase-registration ban keeps its rule:
    a note, no evidence needed."""
    ban = await get_ban(session, contact=contact, ban_id=ban_id)
    if ban.lifted_at is not None:
        raise Conflict(f"ban {ban_id} was already lifted", reason="already_lifted")
    evidence = evidence or LiftEvidence()
    if ban.kind is BanKind.DIRECT_MARKETING:
        await _check_lift_evidence(session, contact=contact, ban=ban, evidence=evidence)
        note = evidence.reason or note
        ban.lift_consent_event_id = evidence.consent_event_id
        ban.lift_request_id = evidence.request_id
    ban.lifted_at = utcnow()
    ban.lifted_by_user_id = user_id
    ban.lift_note = note
    session.add(ban)
    await session.flush()
    return ban


async def _check_lift_evidence(
    session: AsyncSession, *, contact: Contact, ban: Ban, evidence: LiftEvidence
) -> None:
    missing: dict[str, str] = {}
    if evidence.consent_event_id is None and evidence.request_id is None:
        message = "the person's own new act: a consent event or a request of theirs"
        missing |= {"consent_event_id": message, "request_id": message}
    if not evidence.reason:
        missing["reason"] = "required to lift a direct-marketing ban"
    if missing:
        raise InvalidInput(
            N_("lifting a direct-marketing ban needs the person's own new act and a reason"),
            fields=missing,
        )
    problems: dict[str, str] = {}
    if evidence.consent_event_id is not None:
        found = await _persons_grant(
            session, contact=contact, ban=ban, event_id=evidence.consent_event_id
        )
        if found:
            problems["consent_event_id"] = found
    if evidence.request_id is not None:
        found = await _persons_request(
            session, contact=contact, ban=ban, request_id=evidence.request_id
        )
        if found:
            problems["request_id"] = found
    if problems:
        raise Conflict(
            N_("the evidence named does not show the person's own new act"),
            reason="no_persons_act",
            fields=problems,
        )


async def list_bans(session: AsyncSession, *, contact: Contact) -> Sequence[Ban]:
    rows = await session.exec(select(Ban).where(Ban.contact_id == contact.id).order_by(col(Ban.id)))
    return rows.all()


async def has_active_ban(
    session: AsyncSession, *, contact_id: int, kind: BanKind, channel: BanChannel = BanChannel.ALL
) -> bool:
    rows = await session.exec(
        select(Ban.id).where(
            Ban.contact_id == contact_id,
            Ban.kind == kind,
            Ban.channel == channel,
            col(Ban.lifted_at).is_(None),
        )
    )
    return rows.first() is not None


def ban_read(ban: Ban) -> BanRead:
    return BanRead.model_validate(
        {**ban.model_dump(), "active": ban.lifted_at is None}, from_attributes=False
    )


async def eligibility(
    session: AsyncSession, *, contact: Contact, context: GateContext
) -> Eligibility:
    assert contact.id is not None
    flags = (await session.exec(reasons_of_contact(Gate(context), contact.id))).one()
    reasons = [Reason(name) for name, flagged in flags._mapping.items() if flagged]
    return Eligibility(eligible=not reasons, reasons=reasons)
