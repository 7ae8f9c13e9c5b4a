"""The consent gate: ONE predicate, written once in SQL, that says whether a
contact may be contacted on a channel for a purpose and, if not, why.

Each reason code is a boolean SQL expression over ``contacts`` (outer-joined to
the contact's current consent for the channel and purpose). The same
expressions serve every caller:

* one contact's eligibility (``GET …/eligibility``): each reason as a column;
* a campaign audience: a count per reason, in one pass over the table;
* a send list and the re-check before each batch: ``WHERE NOT (r1 OR r2 …)``.

Every expression is written so it is TRUE or FALSE, never NULL: a NULL inside
``NOT (… OR …)`` would silently drop an eligible contact.

The rules (Finnish Act on Electronic Communications Services 917/2014 §200-202;
GDPR 18, 21; the privacy notice §6):

* email and SMS to a person, for direct marketing: consent, or soft opt-in
  (200 § 3 mom): a campaign for the company's own similar products, to an
  existing customer with no consent event for the pair (a withdrawal stays
  ``consent_withdrawn``), and a recorded purchase that proves it: the address
  was obtained in it (``address_collected``, with its product group) and the
  person was told then that they may refuse (``refusal_offered``, on the same
  purchase). Which part is missing is the reason: not a customer,
  ``no_consent``; no such purchase, ``no_purchase_record``; such a purchase
  but no notice of the right to refuse, ``no_refusal_notice``. Those two
  reasons exist only in the soft opt-in context;
* email and SMS to a business contact, and phone and post to anyone: allowed
  unless the person opted out (a withdrawal). A business contact counts as
  one only with its basis recorded: the employer and the position the
  address is targeted for (202 §). Without them it is treated as a person
  on email and SMS, and missing consent is ``no_business_role``, not
  ``no_consent``;
* any other purpose (tracking, profiling reports) needs consent, always;
* every channel and purpose: no direct-marketing ban for the channel or for
  all channels, no objection, no restriction, within retention, not on the
  suppression list, an address for the channel;
* every channel and purpose: not a contact a signup form made and the
  person has not confirmed yet (double opt-in);
* phone calls for direct marketing: the number is not in the loaded Robinson
  extract (ASML's do-not-call register; docs/robinson.md), whatever the
  person's consent or customer status.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    Subquery,
    and_,
    case,
    exists,
    false,
    func,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.orm import aliased
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import run
from service.models import (
    Ban,
    CampaignRecipient,
    ConsentState,
    Contact,
    ContactTag,
    Interaction,
    RobinsonNumber,
)
from service.models.enums import (
    BanChannel,
    BanKind,
    Channel,
    ConsentAction,
    ContactType,
    InteractionKind,
    Purpose,
    Reason,
    RecipientStatus,
    SuppressionReason,
)
from service.rules import contact_retention_cutoff, local_midnight
from service.suppressions import service as suppressions

# Channels where a person must have opted in (SVPL 200 § 1 mom); on the others
# marketing is allowed until they opt out (200 § 2 mom).
OPT_IN_CHANNELS = frozenset({Channel.EMAIL, Channel.SMS})


def treated_as_person(contact: Contact) -> bool:
    """Whether the opt-in rules of a natural person apply to this contact:
    a person, or a business contact without the employer and position that
    make it one (the gate's ``_as_person``, for one loaded contact)."""
    if contact.contact_type is not ContactType.BUSINESS:
        return True
    return not (contact.employer and contact.position)


def needs_consent(channel: Channel, purpose: Purpose, *, person: bool) -> bool:
    """Whether contacting needs a granted consent, rather than no opt-out,
    before soft opt-in (which only a campaign for similar products brings).
    The gate's rule, also the default a preference page shows."""
    if purpose is not Purpose.DIRECT_MARKETING:
        return True  # tracking and profiling always need consent
    return person and channel in OPT_IN_CHANNELS


@dataclass(frozen=True, slots=True)
class Segment:
    """A campaign's filters; an empty tuple means any value."""

    languages: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    contact_types: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FrequencyCap:
    """At most ``limit`` messages on the channel since ``since``."""

    limit: int
    since: datetime


@dataclass(frozen=True, slots=True)
class GateContext:
    channel: Channel
    purpose: Purpose
    today: date
    similar_products: bool = False
    segment: Segment | None = None
    frequency_cap: FrequencyCap | None = None


def tracking_context(today: date) -> GateContext:
    """Whether an email's opens and clicks may be tied to the person: a
    granted email-tracking consent and none of the other reasons."""
    return GateContext(channel=Channel.EMAIL, purpose=Purpose.EMAIL_TRACKING, today=today)


class Gate:
    """The predicate for one context. ``source`` is the FROM clause every
    expression needs; ``reasons`` maps each reason code to its expression."""

    def __init__(self, context: GateContext, *, among: Select[Any] | None = None) -> None:
        """``among``: the ids of the only contacts the statement tests, when
        the caller knows them (a batch right before sending). The reasons
        computed as a set (the frequency cap) then read only their rows, not
        every message of the window."""
        self.context = context
        self.among = among
        self.consent = aliased(ConsentState, name="gate_consent")
        self.source: FromClause = Contact.__table__.outerjoin(  # type: ignore[attr-defined]
            self.consent,
            and_(
                col(self.consent.contact_id) == col(Contact.id),
                col(self.consent.channel) == context.channel.value,
                col(self.consent.purpose) == context.purpose.value,
            ),
        )
        self.reasons: dict[Reason, ColumnElement[bool]] = {Reason.NO_CONSENT: self._no_consent()}
        if self.business_role_matters:
            self.reasons[Reason.NO_BUSINESS_ROLE] = self._no_business_role()
        if self.soft_opt_in:
            # Which part of soft opt-in's evidence is missing; elsewhere they
            # never apply, and other audiences keep their columns.
            self.reasons[Reason.NO_PURCHASE_RECORD] = self._no_purchase_record()
            self.reasons[Reason.NO_REFUSAL_NOTICE] = self._no_refusal_notice()
        self.reasons |= {
            Reason.CONSENT_WITHDRAWN: self._withdrawn(),
            Reason.DIRECT_MARKETING_BAN: self._banned(BanChannel.ALL),
            Reason.CHANNEL_BAN: self._banned(BanChannel(context.channel.value)),
            Reason.RESTRICTED: col(Contact.restricted_at).is_not(None),
            Reason.OBJECTED: col(Contact.objected_at).is_not(None),
            Reason.RETENTION_EXPIRED: self._retention_expired(),
            Reason.SUPPRESSED: self._suppressed(),
            Reason.NO_ADDRESS: self._no_address(),
            # A signup not confirmed yet: nothing it brought may be used.
            Reason.UNCONFIRMED: col(Contact.pending_since).is_not(None),
        }
        if context.channel is Channel.PHONE and context.purpose is Purpose.DIRECT_MARKETING:
            self.reasons[Reason.ROBINSON_LISTED] = self._robinson_listed()
        if context.frequency_cap is not None:
            capped = self._capped(context.frequency_cap)
            self.source = self.source.outerjoin(capped, capped.c.contact_id == col(Contact.id))
            self.reasons[Reason.FREQUENCY_CAP] = capped.c.contact_id.is_not(None)
        if context.segment is not None:
            self.reasons[Reason.OUTSIDE_SEGMENT] = self._outside_segment(context.segment)

    def excluded(self) -> ColumnElement[bool]:
        return or_(*self.reasons.values())

    def eligible(self) -> ColumnElement[bool]:
        return not_(self.excluded())

    def within(self) -> list[ColumnElement[bool]]:
        """The segment's own conditions, which ``eligible`` implies, to add as
        top-level conditions where a statement selects the eligible. Inside
        ``NOT (… OR …)`` PostgreSQL tests the tag for every contact; at the
        top it starts from the tag's index (a million contacts, a segment of
        ten thousand: the send list in a fraction of the time)."""
        segment = self.context.segment
        return self._inside_segment(segment) if segment is not None else []

    def flags(self) -> list[ColumnElement[bool]]:
        """One labelled 0/1 column per reason, for selecting why a contact is out."""
        return [
            case((expression, True), else_=False).label(reason.value)
            for reason, expression in self.reasons.items()
        ]

    # -- the rules --------------------------------------------------------

    @property
    def soft_opt_in(self) -> bool:
        """Whether soft opt-in (SVPL 200 § 3 mom) can apply here: a campaign
        for the company's own similar products, direct marketing by email or
        SMS, where a person otherwise needs consent."""
        context = self.context
        return (
            context.similar_products
            and context.purpose is Purpose.DIRECT_MARKETING
            and context.channel in OPT_IN_CHANNELS
        )

    @property
    def business_role_matters(self) -> bool:
        """Whether a business contact's recorded role changes the answer here:
        where a person needs consent and a business contact does not
        (direct marketing by email or SMS)."""
        channel, purpose = self.context.channel, self.context.purpose
        return not needs_consent(channel, purpose, person=False) and needs_consent(
            channel, purpose, person=True
        )

    def _unbacked_business(self) -> ColumnElement[bool]:
        """A business contact without the employer or position it is targeted for."""
        return and_(
            col(Contact.contact_type) == ContactType.BUSINESS.value,
            or_(
                col(Contact.employer).is_(None),
                col(Contact.employer) == "",
                col(Contact.position).is_(None),
                col(Contact.position) == "",
            ),
        )

    def _as_person(self) -> ColumnElement[bool]:
        """The opt-in rules of a natural person apply: a person, or a business
        contact without its basis (``treated_as_person``)."""
        return or_(col(Contact.contact_type) == ContactType.PERSON.value, self._unbacked_business())

    def _needs_consent(self) -> ColumnElement[bool]:
        """Whether this contact needs a granted consent (rather than no opt-out),
        whatever purchases are recorded: in the soft opt-in context a customer
        does not, and ``_no_purchase_record``/``_no_refusal_notice`` judge
        their evidence instead."""
        channel, purpose = self.context.channel, self.context.purpose
        if needs_consent(channel, purpose, person=False):
            return true()  # whoever the contact is
        if not needs_consent(channel, purpose, person=True):
            return false()
        person = self._as_person()
        if not self.soft_opt_in:
            return person
        return and_(person, not_(col(Contact.is_customer)))

    def _no_consent(self) -> ColumnElement[bool]:
        missing = and_(self._needs_consent(), col(self.consent.action).is_(None))
        if self.business_role_matters:
            return and_(missing, not_(self._unbacked_business()))
        return missing

    def _no_business_role(self) -> ColumnElement[bool]:
        """A business contact without its recorded role, and so without a
        basis to be mailed as one, and no consent either."""
        return and_(
            self._needs_consent(), col(self.consent.action).is_(None), self._unbacked_business()
        )

    def _customer_without_consent(self) -> ColumnElement[bool]:
        """A person who is a customer and has no consent event for the pair:
        the one who rests on soft opt-in, and so on its evidence."""
        return and_(
            self._as_person(),
            col(Contact.is_customer),
            col(self.consent.action).is_(None),
        )

    def _purchase(self, *, told: bool) -> ColumnElement[bool]:
        """A purchase of the contact's in which their address was obtained (with
        its product group: what "similar" is measured against) and, if
        ``told``, in which they were told they may refuse marketing. An EXISTS
        on the interactions' contact_id index: a contact has few."""
        conditions = [
            col(Interaction.contact_id) == col(Contact.id),
            col(Interaction.kind) == InteractionKind.PURCHASE.value,
            col(Interaction.address_collected).is_(True),
            col(Interaction.product_group).is_not(None),
        ]
        if told:
            conditions.append(col(Interaction.refusal_offered).is_(True))
        return exists(select(col(Interaction.id)).where(*conditions).correlate(Contact))

    def _no_purchase_record(self) -> ColumnElement[bool]:
        return and_(self._customer_without_consent(), not_(self._purchase(told=False)))

    def _no_refusal_notice(self) -> ColumnElement[bool]:
        return and_(
            self._customer_without_consent(),
            self._purchase(told=False),
            not_(self._purchase(told=True)),
        )

    def _withdrawn(self) -> ColumnElement[bool]:
        return and_(
            col(self.consent.action).is_not(None),
            col(self.consent.action) == ConsentAction.WITHDRAW.value,
        )

    def _banned(self, channel: BanChannel) -> ColumnElement[bool]:
        return exists(
            select(col(Ban.id))
            .where(
                col(Ban.contact_id) == col(Contact.id),
                col(Ban.kind) == BanKind.DIRECT_MARKETING.value,
                col(Ban.lifted_at).is_(None),
                col(Ban.channel) == channel.value,
            )
            .correlate(Contact)
        )

    def _retention_expired(self) -> ColumnElement[bool]:
        cutoff = contact_retention_cutoff(self.context.today)
        # The day turns over in Helsinki, as in the retention plan.
        cutoff_at = local_midnight(cutoff).astimezone(UTC)
        last = col(Contact.last_service_contact_at)
        # No service contact yet: the day the data was recorded starts the clock.
        return or_(
            and_(last.is_not(None), last < cutoff),
            and_(last.is_(None), col(Contact.recorded_at) < cutoff_at),
        )

    def _suppressed(self) -> ColumnElement[bool]:
        def listed(column: Any, *reasons: SuppressionReason) -> ColumnElement[bool]:
            return and_(column.is_not(None), suppressions.listed(column, reasons))

        email, phone = col(Contact.email_hash), col(Contact.phone_hash)
        match self.context.channel:
            case Channel.EMAIL:
                return listed(email)
            case Channel.SMS | Channel.PHONE:
                return listed(phone)
            case Channel.POST:
                return or_(
                    listed(email, *suppressions.PERSON),
                    listed(phone, *suppressions.PERSON),
                )

    def _robinson_listed(self) -> ColumnElement[bool]:
        # Only the newest extract's numbers are stored (service.robinson), so
        # any row with the contact's phone hash means "listed now".
        phone = col(Contact.phone_hash)
        return and_(
            phone.is_not(None),
            exists(
                select(col(RobinsonNumber.extract_id))
                .where(col(RobinsonNumber.phone_hash) == phone)
                .correlate(Contact)
            ),
        )

    def _capped(self, cap: FrequencyCap) -> Subquery:
        """The contacts at the cap, computed once per statement and joined by
        id. Neither a count per contact (PostgreSQL planned it against the
        table as it was, and a send list built into an empty table rescanned
        the growing table for each contact) nor ``id IN (…)`` (PostgreSQL
        hashes that set only while its estimate fits in work_mem; past that,
        at a register of a million mailed monthly, it compares every contact
        with every capped one): a join scales either way."""
        sent = aliased(CampaignRecipient, name="gate_sent")
        capped: Select[Any] = (
            select(col(sent.contact_id).label("contact_id"))
            .where(
                col(sent.contact_id).is_not(None),
                col(sent.channel) == self.context.channel.value,
                col(sent.status) == RecipientStatus.SENT.value,
                col(sent.sent_at) >= cap.since,
            )
            .group_by(col(sent.contact_id))
            .having(func.count() >= cap.limit)
        )
        if self.among is not None:
            capped = capped.where(col(sent.contact_id).in_(self.among))
        return capped.subquery("gate_capped")

    def _outside_segment(self, segment: Segment) -> ColumnElement[bool]:
        inside = self._inside_segment(segment)
        return not_(and_(*inside)) if inside else false()

    def _inside_segment(self, segment: Segment) -> list[ColumnElement[bool]]:
        inside: list[ColumnElement[bool]] = []
        if segment.languages:
            inside.append(col(Contact.language).in_(segment.languages))
        if segment.contact_types:
            inside.append(col(Contact.contact_type).in_(segment.contact_types))
        if segment.tags:
            inside.append(
                exists(
                    select(col(ContactTag.tag))
                    .where(
                        col(ContactTag.contact_id) == col(Contact.id),
                        col(ContactTag.tag).in_(segment.tags),
                    )
                    .correlate(Contact)
                )
            )
        return inside

    def _no_address(self) -> ColumnElement[bool]:
        match self.context.channel:
            case Channel.EMAIL:
                return col(Contact.email).is_(None)
            case Channel.SMS | Channel.PHONE:
                return col(Contact.phone).is_(None)
            case Channel.POST:
                return or_(
                    col(Contact.street_address).is_(None),
                    col(Contact.postal_code).is_(None),
                    col(Contact.city).is_(None),
                )


def reasons_of_contact(gate: Gate, contact_id: int) -> Any:
    """The reason flags of one contact, one boolean column per reason code."""
    return select(*gate.flags()).select_from(gate.source).where(col(Contact.id) == contact_id)


async def eligible_among(
    session: AsyncSession, context: GateContext, contact_ids: Collection[int]
) -> set[int]:
    """The contacts among ``contact_ids`` the gate lets be contacted in this
    context: e.g. those who may be tracked (``Purpose.EMAIL_TRACKING``)."""
    if not contact_ids:
        return set()
    gate = Gate(context)
    query = (
        select(col(Contact.id))
        .select_from(gate.source)
        .where(col(Contact.id).in_(list(contact_ids)), gate.eligible())
    )
    return set((await run(session, query)).scalars().all())


async def consents_relied_on(
    session: AsyncSession, context: GateContext, contact_ids: Collection[int]
) -> dict[int, int | None]:
    """``eligible_among`` with the evidence: for each contact the gate lets be
    contacted in this context, the id of the ledger event it relied on (the
    consent in force, which ``ConsentState`` points to; None where the gate
    passes without one, e.g. post until an opt-out). In a context that needs
    consent (tracking) that is always the grant in force. One statement, so a
    batch knows who passed and why in the same read (GDPR 7(1))."""
    if not contact_ids:
        return {}
    gate = Gate(context)
    query = (
        select(col(Contact.id), col(gate.consent.event_id))
        .select_from(gate.source)
        .where(col(Contact.id).in_(list(contact_ids)), gate.eligible())
    )
    return {int(contact_id): event_id for contact_id, event_id in (await run(session, query)).all()}


# -- a marketer's export (service.exports) ----------------------------------------

# The channels a contact export shows the gate's answer for, for direct marketing.
EXPORT_CHANNELS = (Channel.EMAIL, Channel.SMS, Channel.PHONE, Channel.POST)
# What leaves a person out of a marketer's export, whatever the channel: the
# person's own refusal of all direct marketing, in the gate's own reason
# codes: a ban on every channel, an objection (GDPR 21(3)), their address or
# number on the suppression list because they objected or were erased.
REFUSALS = (Reason.DIRECT_MARKETING_BAN, Reason.OBJECTED, Reason.SUPPRESSED)
ELIGIBLE = "eligible"


def refusals(today: date) -> dict[Reason, ColumnElement[bool]]:
    """``REFUSALS`` as the gate's expressions, over ``contacts`` alone (no
    join): for the channel-free reasons any channel's gate says the same, and
    the post channel's suppression test is the person's own (objection,
    erasure) on either the address or the number, not a bounce."""
    gate = Gate(GateContext(channel=Channel.POST, purpose=Purpose.DIRECT_MARKETING, today=today))
    return {reason: gate.reasons[reason] for reason in REFUSALS}


def first_reason(gate: Gate) -> ColumnElement[str]:
    """``eligible``, or the gate's first reason (in its own order) the contact is out."""
    return case(
        *((expression, reason.value) for reason, expression in gate.reasons.items()),
        else_=ELIGIBLE,
    )


async def states_among(
    session: AsyncSession, today: date, contact_ids: Collection[int]
) -> dict[int, dict[Channel, str]]:
    """Each contact's state for direct marketing on every export channel, as
    an ordinary campaign (not soft opt-in) would find it today: ``eligible``
    or a reason code. One statement per channel for the whole page of ids."""
    states: dict[int, dict[Channel, str]] = {contact_id: {} for contact_id in contact_ids}
    if not contact_ids:
        return states
    for channel in EXPORT_CHANNELS:
        gate = Gate(GateContext(channel=channel, purpose=Purpose.DIRECT_MARKETING, today=today))
        query = (
            select(col(Contact.id), first_reason(gate))
            .select_from(gate.source)
            .where(col(Contact.id).in_(list(contact_ids)))
        )
        for contact_id, state in (await run(session, query)).all():
            states[int(contact_id)][channel] = str(state)
    return states
