"""The retention rules as named, set-based queries: one statement per rule,
over the whole table, never one per contact (STYLE.md principle 7).

The plan runs each once for a date; the run runs the same statement again for
one row (``…_id=``) inside the item's own transaction, so that an item is
carried out only if it is still due at that moment.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, not_, or_, select
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service import rules
from service.consent.profiling import withdrawn_after_recording
from service.db import run
from service.models import (
    CallList,
    CallListEntry,
    ConsentEvent,
    Contact,
    DataSubjectRequest,
    EngagementEvent,
    LegalHold,
    Profile,
    Signup,
    SiteConsentEvent,
)
from service.models.enums import CallListStatus, ConsentAction, ProfileState, Purpose
from service.suppressions import service as suppressions


def _held(contact_id: Any) -> ColumnElement[bool]:
    """An active legal hold on the contact (GDPR 17(3)(e))."""
    return exists().where(
        col(LegalHold.contact_id) == contact_id, col(LegalHold.lifted_at).is_(None)
    )


def _restricted() -> ColumnElement[bool]:
    return col(Contact.restricted_at).is_not(None)


def _reachable_email() -> ColumnElement[bool]:
    """The contact has an email address that has not bounced."""
    # Only the reasons that say mail does not arrive: an objection does not
    # stop a notice the law requires.
    bounced = suppressions.listed(col(Contact.email_hash), suppressions.UNDELIVERABLE)
    return and_(col(Contact.email).is_not(None), not_(bounced))


async def contacts_past_retention(
    session: AsyncSession, *, as_of: date, contact_id: int | None = None
) -> Sequence[Any]:
    """Rule contact_5_years: contacts whose latest service contact (or, with
    none, the day they were recorded, in Helsinki) is more than five years
    before ``as_of``. The same cutoff as the consent gate's retention_expired.

    Columns: id, last_service_contact_at, recorded_at, held, restricted.
    """
    cutoff = rules.contact_retention_cutoff(as_of)
    last = col(Contact.last_service_contact_at)
    query = (
        select(
            col(Contact.id),
            last,
            col(Contact.recorded_at),
            _held(col(Contact.id)).label("held"),
            _restricted().label("restricted"),
        )
        .where(
            or_(
                and_(last.is_not(None), last < cutoff),
                and_(last.is_(None), col(Contact.recorded_at) < rules.local_midnight(cutoff)),
            )
        )
        .order_by(col(Contact.id))
    )
    if contact_id is not None:
        query = query.where(col(Contact.id) == contact_id)
    rows: Sequence[Any] = (await run(session, query)).all()
    return rows


async def vendor_profiles_near_transfer(
    session: AsyncSession, *, as_of: date, notice_days: int, profile_id: int | None = None
) -> Sequence[Any]:
    """Rules profile_transfer_notice and profile_transfer_2_years: kept
    profiles of people with a vendor account whose notice is due by
    ``as_of`` (completion + 2 years - notice days). Which of notice, transfer
    or destruction is due follows from the columns (see plan.py).

    Columns: id, contact_id, completed_on, transfer_forbidden_at,
    transfer_notice_sent_at, reachable, held, restricted.
    """
    last_completed = rules.latest_start(
        as_of + timedelta(days=notice_days), rules.PROFILE_TRANSFER_YEARS
    )
    query = (
        select(
            col(Profile.id),
            col(Profile.contact_id),
            col(Profile.completed_on),
            col(Profile.transfer_forbidden_at),
            col(Profile.transfer_notice_sent_at),
            _reachable_email().label("reachable"),
            _held(col(Profile.contact_id)).label("held"),
            _restricted().label("restricted"),
        )
        .join(Contact, col(Contact.id) == col(Profile.contact_id))
        .where(
            col(Profile.state) == ProfileState.KEPT.value,
            col(Profile.has_vendor_account).is_(True),
            col(Profile.completed_on) <= last_completed,
            # Withdrawn consent: never handed over (rule profile_consent_withdrawn).
            not_(withdrawn_after_recording()),
        )
        .order_by(col(Profile.id))
    )
    if profile_id is not None:
        query = query.where(col(Profile.id) == profile_id)
    rows: Sequence[Any] = (await run(session, query)).all()
    return rows


async def no_account_profiles_due(
    session: AsyncSession, *, as_of: date, profile_id: int | None = None
) -> Sequence[Any]:
    """Rule profile_no_account: kept profiles of people without a vendor
    account, completed in the third calendar year before ``as_of`` or earlier.

    Columns: id, completed_on, held, restricted.
    """
    query = (
        select(
            col(Profile.id),
            col(Profile.completed_on),
            _held(col(Profile.contact_id)).label("held"),
            _restricted().label("restricted"),
        )
        .join(Contact, col(Contact.id) == col(Profile.contact_id))
        .where(
            col(Profile.state) == ProfileState.KEPT.value,
            col(Profile.has_vendor_account).is_(False),
            col(Profile.completed_on) < rules.no_account_completed_before(as_of),
            not_(withdrawn_after_recording()),
        )
        .order_by(col(Profile.id))
    )
    if profile_id is not None:
        query = query.where(col(Profile.id) == profile_id)
    rows: Sequence[Any] = (await run(session, query)).all()
    return rows


async def withdrawn_profiles(
    session: AsyncSession, *, profile_id: int | None = None
) -> Sequence[Any]:
    """Rule profile_consent_withdrawn: kept profiles whose person withdrew the
    profiling_report consent after they were recorded. The ledger's writer
    destroys them at the withdrawal (consent.profiling); what is left here is
    held or restricted, or was withdrawn before that rule existed.

    Columns: id, withdrawn_at (the earliest such withdrawal), held, restricted.
    """
    withdrawn_at = (
        select(func.min(col(ConsentEvent.occurred_at)))
        .where(
            col(ConsentEvent.contact_id) == col(Profile.contact_id),
            col(ConsentEvent.purpose) == Purpose.PROFILING_REPORT.value,
            col(ConsentEvent.action) == ConsentAction.WITHDRAW.value,
            col(ConsentEvent.occurred_at) >= col(Profile.recorded_at),
        )
        .scalar_subquery()
    )
    query = (
        select(
            col(Profile.id),
            withdrawn_at.label("withdrawn_at"),
            _held(col(Profile.contact_id)).label("held"),
            _restricted().label("restricted"),
        )
        .join(Contact, col(Contact.id) == col(Profile.contact_id))
        .where(col(Profile.state) == ProfileState.KEPT.value, withdrawn_after_recording())
        .order_by(col(Profile.id))
    )
    if profile_id is not None:
        query = query.where(col(Profile.id) == profile_id)
    rows: Sequence[Any] = (await run(session, query)).all()
    return rows


async def old_engagement_events(
    session: AsyncSession, *, before: datetime
) -> tuple[int, datetime | None]:
    """Rule engagement_events: how many events occurred before ``before``, and the oldest."""
    query = select(func.count(), func.min(col(EngagementEvent.occurred_at))).where(
        col(EngagementEvent.occurred_at) < before
    )
    count, oldest = (await run(session, query)).one()
    return int(count), aware(oldest)


def anonymous_site_consents_conditions(before: datetime) -> tuple[ColumnElement[bool], ...]:
    """Cookie-banner decisions never linked to a contact, made before ``before``."""
    return (
        col(SiteConsentEvent.contact_id).is_(None),
        col(SiteConsentEvent.occurred_at) < before,
    )


async def anonymous_site_consents(
    session: AsyncSession, *, before: datetime
) -> tuple[int, datetime | None]:
    """Rule anonymous_site_consents: how many such decisions, and the oldest."""
    query = select(func.count(), func.min(col(SiteConsentEvent.occurred_at))).where(
        *anonymous_site_consents_conditions(before)
    )
    count, oldest = (await run(session, query)).one()
    return int(count), aware(oldest)


def expired_call_lists_conditions(before: datetime) -> tuple[ColumnElement[bool], ...]:
    """Ready call lists whose expiry passed before ``before``."""
    return (
        col(CallList.status) == CallListStatus.READY.value,
        col(CallList.expires_at) < before,
    )


async def expired_call_lists(
    session: AsyncSession, *, before: datetime
) -> tuple[int, int, datetime | None]:
    """Rule call_lists: entries and lists past expiry before ``before``, and
    the earliest expiry among them."""
    lists = select(col(CallList.id)).where(*expired_call_lists_conditions(before)).subquery()
    entries = (
        select(func.count())
        .select_from(CallListEntry)
        .where(col(CallListEntry.call_list_id).in_(select(lists.c.id)))
        .scalar_subquery()
    )
    query = select(entries, func.count(), func.min(col(CallList.expires_at))).where(
        col(CallList.id).in_(select(lists.c.id))
    )
    entry_count, list_count, earliest = (await run(session, query)).one()
    return int(entry_count), int(list_count), aware(earliest)


async def old_closed_requests(
    session: AsyncSession, *, before: datetime
) -> tuple[int, datetime | None]:
    """Rule closed_requests: data-subject requests closed before ``before``."""
    closed = col(DataSubjectRequest.closed_at)
    query = select(func.count(), func.min(closed)).where(closed.is_not(None), closed < before)
    count, oldest = (await run(session, query)).one()
    return int(count), aware(oldest)


def expired_signups_conditions(before: datetime) -> tuple[ColumnElement[bool], ...]:
    """Signups never confirmed whose expiry passed before ``before``."""
    return (col(Signup.confirmed_at).is_(None), col(Signup.expires_at) < before)


async def expired_signups(
    session: AsyncSession, *, before: datetime, signup_id: int | None = None
) -> Sequence[Any]:
    """Rule unconfirmed_signups: signups not confirmed whose expiry passed
    before ``before``. Columns: id, contact_id, expires_at."""
    query = select(col(Signup.id), col(Signup.contact_id), col(Signup.expires_at)).where(
        *expired_signups_conditions(before)
    )
    if signup_id is not None:
        query = query.where(col(Signup.id) == signup_id)
    rows: Sequence[Any] = (await run(session, query.order_by(col(Signup.id)))).all()
    return rows


async def contact_left_pending(session: AsyncSession, contact_id: int) -> bool:
    """The contact was made by a signup, never confirmed, has no signup left
    and no legal hold: it goes with its last expired signup."""
    query = select(col(Contact.id)).where(
        col(Contact.id) == contact_id,
        col(Contact.pending_since).is_not(None),
        ~exists().where(col(Signup.contact_id) == contact_id),
        ~_held(contact_id),
    )
    return (await run(session, query)).first() is not None


def aware(value: datetime | None) -> datetime | None:
    """An aggregate's timestamp as an aware datetime, however the driver
    hands it back (SQLite stores UTC without an offset)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
