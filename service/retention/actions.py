"""Carrying out one item of the plan, inside the caller's transaction.

Each action first asks the rule's own query again, for this one row, whether
the item is still due and not skipped: the plan may be minutes old, another
run may have done it, a hold may have been placed. Then it makes its change
and adds the ``RetentionAction`` that records it, so both commit together or
not at all. Nothing here commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock, rules
from service.audit import cut as cuts
from service.crypto import DataCipher
from service.db import run
from service.delivery.messenger import Outcome as SmtpOutcome
from service.delivery.smtp import SmtpPool
from service.models import (
    CallList,
    CallListEntry,
    Contact,
    DataSubjectRequest,
    Disclosure,
    EngagementEvent,
    Profile,
    RetentionAction,
    Signup,
    SiteConsentEvent,
)
from service.models.enums import (
    CallListStatus,
    DisclosureRecipient,
    ProfileState,
    SuppressionReason,
)
from service.profiles.service import open_sealed
from service.retention import notice, packages, queries
from service.retention.plan import (
    call_list_reference,
    contact_item,
    counted,
    no_account_item,
    signup_item,
    vendor_profile_item,
    withdrawn_item,
)
from service.retention.schemas import Action, Outcome, PlanItem
from service.rights.erasure import erase_contact
from service.rules import Rule
from service.settings import Settings
from service.settings_vendor import handover_refused
from service.suppressions import service as suppressions
from service.tokens import TokenSigner


@dataclass(frozen=True, slots=True)
class Tools:
    """What a run needs besides the database: built once by the worker or the CLI."""

    settings: Settings
    cipher: DataCipher
    signer: TokenSigner
    smtp: SmtpPool | None  # None: no relay configured, so no notice can go out


@dataclass(frozen=True, slots=True)
class Result:
    outcome: Outcome
    detail: str | None = None
    # For the bulk rules: the rows actually deleted, in words.
    reference: str | None = None


NO_LONGER_DUE = Result(Outcome.NO_LONGER_DUE)
# What a hand-over discloses, and why, as the disclosures log records it.
HANDED_OVER = ("profile", "full_name", "email")
HANDOVER_PURPOSE = (
    "Behavioural profile {profile_id} handed over for storage at the person's account at "
    "the profile service (retention rule profile_transfer_2_years), as an age-encrypted "
    "package to the vendor's key"
)


def _record(session: AsyncSession, item: PlanItem, reference: str | None = None) -> None:
    session.add(
        RetentionAction(
            rule=item.rule.value,
            action=item.action.value,
            reference=reference or item.reference,
            deadline=item.deadline,
            done_at=clock.now(),
        )
    )


def _still(current: PlanItem | None, item: PlanItem) -> Result | None:
    """None if ``current`` (the item as it reads now) is still the planned one
    and not skipped; otherwise why nothing is done."""
    if current is None or (current.rule, current.action) != (item.rule, item.action):
        return NO_LONGER_DUE
    if current.skipped_because is not None:
        return Result(Outcome.SKIPPED, current.skipped_because.value)
    return None


async def carry_out(session: AsyncSession, item: PlanItem, *, today: date, tools: Tools) -> Result:
    """Do one item of today's plan, if it is still due; say what happened."""
    if item.rule is Rule.CONTACT_5_YEARS:
        return await _erase_contact(session, item, today=today)
    if item.rule in (Rule.PROFILE_TRANSFER_NOTICE, Rule.PROFILE_TRANSFER_2_YEARS):
        return await _vendor_profile(session, item, today=today, tools=tools)
    if item.rule is Rule.PROFILE_NO_ACCOUNT:
        assert item.subject.id is not None
        rows = await queries.no_account_profiles_due(
            session, as_of=today, profile_id=item.subject.id
        )
        current = no_account_item(rows[0], as_of=today) if rows else None
        return _still(current, item) or await _destroy(session, item)
    if item.rule is Rule.PROFILE_CONSENT_WITHDRAWN:
        assert item.subject.id is not None
        rows = await queries.withdrawn_profiles(session, profile_id=item.subject.id)
        current = withdrawn_item(rows[0], as_of=today) if rows else None
        return _still(current, item) or await _destroy(session, item)
    if item.rule is Rule.ENGAGEMENT_EVENTS:
        return await _delete_engagement(session, item, today=today, settings=tools.settings)
    if item.rule is Rule.CALL_LISTS:
        return await _delete_call_lists(session, item, today=today)
    if item.rule is Rule.UNCONFIRMED_SIGNUPS:
        return await _delete_signup(session, item, today=today)
    if item.rule is Rule.ANONYMOUS_SITE_CONSENTS:
        return await _delete_anonymous_site_consents(
            session, item, today=today, settings=tools.settings
        )
    if item.rule is Rule.AUDIT_TRAIL:
        return await _cut_audit_trail(session, item, today=today, settings=tools.settings)
    return await _delete_closed_requests(session, item, today=today, settings=tools.settings)


# -- contacts -----------------------------------------------------------------


async def _erase_contact(session: AsyncSession, item: PlanItem, *, today: date) -> Result:
    contact_id = item.subject.id
    assert contact_id is not None
    # Claim the row first: a no-op write that takes its lock (the database's,
    # in SQLite). A second run at the same moment waits here, then finds the
    # contact gone instead of erasing it, and recording it, twice.
    claimed = await run(
        session,
        update(Contact)
        .where(col(Contact.id) == contact_id)
        .values(updated_at=col(Contact.updated_at)),
    )
    if claimed.rowcount != 1:
        return NO_LONGER_DUE
    rows = await queries.contacts_past_retention(session, as_of=today, contact_id=contact_id)
    current = contact_item(rows[0], as_of=today) if rows else None
    if (stop := _still(current, item)) is not None:
        return stop
    await erase_contact(session, contact_id, cause=f"retention:{item.rule.value}")
    _record(session, item)
    await session.flush()
    return Result(Outcome.DONE)


# -- behavioural profiles -----------------------------------------------------


async def _vendor_profile(
    session: AsyncSession, item: PlanItem, *, today: date, tools: Tools
) -> Result:
    profile_id = item.subject.id
    assert profile_id is not None
    notice_days = tools.settings.profile_transfer_notice_days
    rows = await queries.vendor_profiles_near_transfer(
        session, as_of=today, notice_days=notice_days, profile_id=profile_id
    )
    refused = handover_refused(tools.settings.profile_vendor, tools.settings.profile_vendor_name)
    current = (
        vendor_profile_item(rows[0], as_of=today, notice_days=notice_days, handover_refused=refused)
        if rows
        else None
    )
    if (stop := _still(current, item)) is not None:
        return stop
    if item.action is Action.SEND_TRANSFER_NOTICE:
        return await _send_notice(session, item, today=today, tools=tools)
    if item.action is Action.TRANSFER:
        return await _transfer(session, item, tools=tools)
    return await _destroy(session, item)


async def _destroy(session: AsyncSession, item: PlanItem) -> Result:
    result = await run(
        session,
        update(Profile)
        .where(col(Profile.id) == item.subject.id, col(Profile.state) == ProfileState.KEPT.value)
        .values(
            state=ProfileState.DESTROYED.value, destroyed_at=clock.now(), content_encrypted=None
        ),
    )
    if result.rowcount != 1:
        return NO_LONGER_DUE
    _record(session, item)
    await session.flush()
    return Result(Outcome.DONE)


async def _transfer(session: AsyncSession, item: PlanItem, *, tools: Tools) -> Result:
    """Hand the profile to the vendor, encrypted to its key, then destroy our copy.

    Nothing is handed over unless the recipient is fully configured (its age
    key, name, country, and outside the EU/EEA a safeguard): the plan skips
    the item then, and this refuses it again in case the plan is older.
    The row is claimed first (kept → transferred), which also takes its write
    lock: a second run at the same moment waits, then finds nothing to claim.
    The hand-over is recorded as a disclosure to the person's record. The
    package is put in place just before the commit; if the commit then fails,
    the next run writes the same package again and finishes.
    """
    settings = tools.settings
    vendor = settings.profile_vendor
    if (refused := handover_refused(vendor, settings.profile_vendor_name)) is not None:
        return Result(Outcome.SKIPPED, refused)
    assert vendor.age_recipient is not None
    assert settings.profile_vendor_name is not None
    profile_id = item.subject.id
    assert profile_id is not None
    now = clock.now()
    claimed = await run(
        session,
        update(Profile)
        .where(col(Profile.id) == profile_id, col(Profile.state) == ProfileState.KEPT.value)
        .values(state=ProfileState.TRANSFERRED.value, transferred_at=now),
    )
    if claimed.rowcount != 1:
        return NO_LONGER_DUE
    row = (
        await run(
            session,
            select(
                col(Profile.contact_id),
                col(Profile.completed_on),
                col(Profile.content_encrypted),
                col(Contact.full_name),
                col(Contact.email),
            )
            .join(Contact, col(Contact.id) == col(Profile.contact_id))
            .where(col(Profile.id) == profile_id),
        )
    ).one()
    content = (
        open_sealed(row.content_encrypted, tools.cipher)
        if row.content_encrypted is not None
        else None
    )
    staged = packages.stage_package(
        settings.profile_transfer_dir,
        profile_id=profile_id,
        payload={
            "profile_id": profile_id,
            "completed_on": row.completed_on.isoformat(),
            "content": content,
            # So that the vendor can attach the report to the person's account.
            "person": {"full_name": row.full_name, "email": row.email},
            "controller": settings.controller_name,
            "handed_over_at": now.isoformat(),
        },
        recipient=vendor.age_recipient,
    )
    try:
        await run(
            session,
            update(Profile).where(col(Profile.id) == profile_id).values(content_encrypted=None),
        )
        session.add(
            Disclosure(
                contact_id=row.contact_id,
                recipient_type=DisclosureRecipient.OTHER,
                recipient_name=settings.profile_vendor_name,
                data_categories=list(HANDED_OVER),
                purpose=HANDOVER_PURPOSE.format(profile_id=profile_id),
                disclosed_on=rules.local_date(now),
                country=vendor.country,
                outside_eea=vendor.outside_eea,
                safeguard=vendor.safeguard,
                recorded_at=now,
            )
        )
        _record(session, item)
        await session.flush()
        staged.publish()
    except BaseException:
        staged.discard()
        raise
    return Result(Outcome.DONE)


async def _send_notice(
    session: AsyncSession, item: PlanItem, *, today: date, tools: Tools
) -> Result:
    """Send the transfer notice; record it only once the relay accepted it.

    Nothing is written before the message is out, so no lock is held while
    the relay answers. An address the relay refuses for good is suppressed
    (as a campaign bounce would be): from then on the plan knows no notice
    can reach the person, and destroys the profile instead of handing it over.
    """
    if tools.smtp is None:
        return Result(Outcome.FAILED, "no SMTP relay is configured (CONSENTRY_SMTP_HOST)")
    settings = tools.settings
    row: Any = (
        await run(
            session,
            select(
                col(Profile.contact_id),
                col(Profile.completed_on),
                col(Contact.email),
                col(Contact.full_name),
                col(Contact.nickname),
                col(Contact.language),
            )
            .join(Contact, col(Contact.id) == col(Profile.contact_id))
            .where(col(Profile.id) == item.subject.id),
        )
    ).one()
    transfer_on = max(
        rules.profile_transfer_on(row.completed_on),
        today + timedelta(days=settings.profile_transfer_notice_days),
    )
    assert item.subject.id is not None
    delivery = await notice.send_notice(
        tools.smtp,
        notice.TransferNotice(
            profile_id=item.subject.id,
            email=row.email,
            name=row.nickname or row.full_name,
            language=str(row.language),
            completed_on=row.completed_on,
            transfer_on=transfer_on,
        ),
        settings=settings,
        signer=tools.signer,
    )
    if delivery.outcome is SmtpOutcome.SENT:
        await run(
            session,
            update(Profile)
            .where(col(Profile.id) == item.subject.id)
            .values(transfer_notice_sent_at=clock.now()),
        )
        _record(session, item)
        await session.flush()
        return Result(Outcome.DONE)
    # The reply text is not repeated: a refusal often quotes the address.
    if delivery.address_rejected:
        contact = await session.get(Contact, row.contact_id)
        assert contact is not None
        await suppressions.record_contact(
            session, contact, reason=SuppressionReason.BOUNCE, phone=False
        )
        return Result(
            Outcome.FAILED,
            f"the relay refused the address for good ({delivery.code}): no notice is "
            "possible, so the profile will be destroyed, not handed over",
        )
    return Result(
        Outcome.FAILED,
        f"the relay did not accept the notice ({delivery.outcome.value}, "
        f"{delivery.code or 'no reply code'}); the next run tries again",
    )


# -- unconfirmed signups ----------------------------------------------------------


async def _delete_signup(session: AsyncSession, item: PlanItem, *, today: date) -> Result:
    """Delete an expired, unconfirmed signup, and the contact it made if
    that is still pending and has no signup left. Recorded by ids only."""
    signup_id = item.subject.id
    assert signup_id is not None
    rows = await queries.expired_signups(
        session, before=rules.local_midnight(today), signup_id=signup_id
    )
    current = signup_item(rows[0], as_of=today) if rows else None
    if (stop := _still(current, item)) is not None:
        return stop
    contact_id = rows[0].contact_id
    # The delete's own conditions decide: a confirmation at this moment
    # either comes first (nothing deleted) or finds the link gone.
    deleted = await run(
        session,
        delete(Signup).where(
            col(Signup.id) == signup_id,
            *queries.expired_signups_conditions(rules.local_midnight(today)),
        ),
    )
    if deleted.rowcount != 1:
        return NO_LONGER_DUE
    reference = item.reference
    if await queries.contact_left_pending(session, contact_id):
        await run(session, delete(Contact).where(col(Contact.id) == contact_id))
        reference = f"{item.reference} and contact {contact_id}, which it made"
    _record(session, item, reference)
    await session.flush()
    return Result(Outcome.DONE, reference=reference)


# -- rows kept for a number of days ---------------------------------------------


async def _delete_engagement(
    session: AsyncSession, item: PlanItem, *, today: date, settings: Settings
) -> Result:
    before = rules.age_cutoff(today, settings.engagement_retention_days)
    deleted = (
        await run(session, delete(EngagementEvent).where(col(EngagementEvent.occurred_at) < before))
    ).rowcount
    if not deleted:
        return NO_LONGER_DUE
    reference = counted(deleted, "engagement event", "engagement events")
    _record(session, item, reference)
    await session.flush()
    return Result(Outcome.DONE, reference=reference)


async def _delete_call_lists(session: AsyncSession, item: PlanItem, *, today: date) -> Result:
    """Delete the entries of lists whose expiry passed before today; keep each
    list's record (who built it, how many it held), marked expired."""
    # Marked expired first, in one statement whose conditions are on the rows
    # it updates: a run at the same moment waits for their locks, then finds
    # them expired already, and does not record the same lists twice.
    expired = (
        (
            await run(
                session,
                update(CallList)
                .where(*queries.expired_call_lists_conditions(rules.local_midnight(today)))
                .values(status=CallListStatus.EXPIRED.value)
                .returning(col(CallList.id)),
            )
        )
        .scalars()
        .all()
    )
    if not expired:
        return NO_LONGER_DUE
    deleted = (
        await run(
            session, delete(CallListEntry).where(col(CallListEntry.call_list_id).in_(expired))
        )
    ).rowcount
    reference = call_list_reference(deleted, len(expired))
    _record(session, item, reference)
    await session.flush()
    return Result(Outcome.DONE, reference=reference)


async def _delete_closed_requests(
    session: AsyncSession, item: PlanItem, *, today: date, settings: Settings
) -> Result:
    """Their linked actions go with them (foreign keys cascade); objections
    and rectifications that named them keep their own rows."""
    before = rules.age_cutoff(today, settings.request_retention_days)
    closed = col(DataSubjectRequest.closed_at)
    deleted = (
        await run(session, delete(DataSubjectRequest).where(closed.is_not(None), closed < before))
    ).rowcount
    if not deleted:
        return NO_LONGER_DUE
    reference = counted(deleted, "closed request", "closed requests")
    _record(session, item, reference)
    await session.flush()
    return Result(Outcome.DONE, reference=reference)


async def _delete_anonymous_site_consents(
    session: AsyncSession, item: PlanItem, *, today: date, settings: Settings
) -> Result:
    """Decisions of browsers whose consent cookie has expired and that were
    never linked to a contact (a linked one goes with the person's data)."""
    days = settings.visit_cookie_days + rules.SITE_CONSENT_MARGIN_DAYS
    before = rules.age_cutoff(today, days)
    deleted = (
        await run(
            session,
            delete(SiteConsentEvent).where(*queries.anonymous_site_consents_conditions(before)),
        )
    ).rowcount
    if not deleted:
        return NO_LONGER_DUE
    reference = counted(deleted, "anonymous cookie decision", "anonymous cookie decisions")
    _record(session, item, reference)
    await session.flush()
    return Result(Outcome.DONE, reference=reference)


async def _cut_audit_trail(
    session: AsyncSession, item: PlanItem, *, today: date, settings: Settings
) -> Result:
    days = settings.audit_retention_days
    if not days:
        return NO_LONGER_DUE
    made = await cuts.cut(session, before=rules.age_cutoff(today, days), retention_days=days)
    if made is None:
        return NO_LONGER_DUE
    reference = (
        f"{counted(made.removed_count, 'audit event', 'audit events')} "
        f"through #{made.removed_through_id}"
    )
    _record(session, item, reference)
    await session.flush()
    return Result(Outcome.DONE, reference=reference)
