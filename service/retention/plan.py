"""The retention plan: every action the rules call for on a date, with the
rule, the day it fell due and its deadline. Pure reads: making a plan
changes nothing, so it can be shown for any date (``consentry retention
plan``, ``GET /api/v1/retention/plan``) and carried out by ``run``.

How the rules read (the notice §6, decided where the notice is silent):

* contact_5_years: kept through the latest service contact or contact
  initiative + 5 years (with none, the day the contact was recorded); erased
  the day after.
* profile_transfer_notice / profile_transfer_2_years: a profile of a person
  with a vendor account is handed over on completion + 2 years, after a
  notice sent ``profile_transfer_notice_days`` before. A late notice moves
  the transfer to notice + that many days. If the person forbade the
  transfer, the profile is destroyed on the transfer day instead. If no
  notice can reach the person (no email address, or it bounced), they could
  not forbid it: the profile is destroyed, never handed over.
* profile_no_account: no vendor account: due on 1 January of the third year
  after completion, deadline 30 June of that year.
* profile_consent_withdrawn: the person withdrew the profiling_report
  consent after the profile was recorded: destroyed, never handed over. The
  ledger's writer does it at the withdrawal itself (consent.profiling); the
  plan lists what is left: profiles held or restricted then (skipped until
  that ends), or withdrawn before the rule existed. Such a profile is in no
  other profile rule, so it is never planned for a transfer.
* engagement_events, closed_requests: rows older than their configured days.
* anonymous_site_consents: cookie-banner decisions never linked to a contact,
  older than the consent cookie's lifetime (``CONSENTRY_VISIT_COOKIE_DAYS``)
  plus ``rules.SITE_CONSENT_MARGIN_DAYS``.
* audit_trail: the trail's oldest rows past ``CONSENTRY_AUDIT_RETENTION_DAYS``
  (none when 0), a prefix of the chain cut with a recorded anchor
  (service.audit.cut).
* call_lists: entries of lists whose expiry passed on an earlier day.
* unconfirmed_signups: a signup never confirmed, whose link expired
  (``CONSENTRY_DOI_EXPIRY_DAYS`` after it was sent) on an earlier day, is
  deleted with the contact it made if that contact is still pending and has
  no other signup (never a contact that existed before, or that confirmed).
  The link stops working the moment it expires; the row waits at most for
  the next night's run.

Contacts under a legal hold or a restriction are listed, with the action
they would otherwise be due for, but skipped (rules 1-3).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from service import rules
from service.audit import cut as cuts
from service.errors import InvalidInput
from service.labels import N_
from service.retention import queries
from service.retention.schemas import (
    Action,
    Plan,
    PlanItem,
    PlanSummary,
    SkipReason,
    Subject,
)
from service.rules import Rule
from service.settings import Settings
from service.settings_vendor import handover_refused

RULE_ORDER = {rule: index for index, rule in enumerate(Rule)}


def _skip(row: Any) -> SkipReason | None:
    if row.held:
        return SkipReason.LEGAL_HOLD
    if row.restricted:
        return SkipReason.RESTRICTED
    return None


def _item(
    *,
    rule: Rule,
    action: Action,
    subject: Subject,
    reference: str,
    due_on: date,
    deadline: date,
    as_of: date,
    skipped_because: SkipReason | None = None,
    note: str | None = None,
) -> PlanItem:
    return PlanItem(
        rule=rule,
        action=action,
        subject=subject,
        reference=reference,
        due_on=due_on,
        deadline=deadline,
        overdue=as_of > deadline,
        skipped_because=skipped_because,
        note=note,
    )


def counted(count: int, singular: str, plural: str) -> str:
    """``1 engagement event``, ``240 engagement events``."""
    return f"{count} {singular if count == 1 else plural}"


def contact_item(row: Any, *, as_of: date) -> PlanItem:
    """The erasure a row of ``queries.contacts_past_retention`` is due for."""
    if row.last_service_contact_at is not None:
        base, note = row.last_service_contact_at, None
    else:
        base = rules.local_date(row.recorded_at)
        note = "no service contact recorded: counted from the day the contact was recorded"
    due_on = rules.contact_due_on(base)
    return _item(
        rule=Rule.CONTACT_5_YEARS,
        action=Action.ERASE,
        subject=Subject(kind="contact", id=row.id),
        reference=f"contact {row.id}",
        due_on=due_on,
        deadline=due_on,
        as_of=as_of,
        skipped_because=_skip(row),
        note=note,
    )


def vendor_profile_item(
    row: Any, *, as_of: date, notice_days: int, handover_refused: str | None = None
) -> PlanItem | None:
    """What a row of ``queries.vendor_profiles_near_transfer`` is due for on
    ``as_of``: the notice, the transfer, or destruction; None if nothing yet.
    ``handover_refused``: why no hand-over may happen now (settings_vendor);
    a transfer is then listed, skipped, with that reason."""
    transfer_on = rules.profile_transfer_on(row.completed_on)
    notice_on = rules.transfer_notice_on(row.completed_on, notice_days)
    skip = _skip(row)

    def item(rule: Rule, action: Action, due_on: date, **extra: Any) -> PlanItem:
        return _item(
            rule=rule,
            action=action,
            subject=Subject(kind="profile", id=row.id),
            reference=f"profile {row.id}",
            due_on=due_on,
            deadline=due_on,
            as_of=as_of,
            **extra,
        )

    if row.transfer_forbidden_at is not None:
        if as_of < transfer_on:
            return None
        return item(
            Rule.PROFILE_TRANSFER_2_YEARS,
            Action.DESTROY,
            transfer_on,
            skipped_because=skip,
            note=N_("the person forbade the transfer: destroyed, not handed over"),
        )
    if row.transfer_notice_sent_at is not None:
        sent_on = rules.local_date(row.transfer_notice_sent_at)
        due_on = rules.transfer_due_on(row.completed_on, sent_on, notice_days)
        if as_of < due_on:
            return None
        late = due_on > transfer_on
        note = (
            f"the notice went out on {sent_on}, late: the transfer waits {notice_days} days from it"
            if late
            else None
        )
        if skip is None and handover_refused is not None:
            skip, note = SkipReason.HANDOVER_NOT_CONFIGURED, handover_refused
        return item(
            Rule.PROFILE_TRANSFER_2_YEARS, Action.TRANSFER, due_on, skipped_because=skip, note=note
        )
    if not row.reachable:
        if as_of < transfer_on:
            return item(
                Rule.PROFILE_TRANSFER_NOTICE,
                Action.SEND_TRANSFER_NOTICE,
                notice_on,
                skipped_because=skip or SkipReason.NO_REACHABLE_EMAIL,
                note=(
                    "no notice is possible (no email address, or it bounced): on "
                    f"{transfer_on} the profile is destroyed, not handed over"
                ),
            )
        return item(
            Rule.PROFILE_TRANSFER_2_YEARS,
            Action.DESTROY,
            transfer_on,
            skipped_because=skip,
            note=N_(
                "no transfer notice was possible (no email address, or it bounced), "
                "so the person could not forbid it: destroyed, not handed over"
            ),
        )
    late_note = None
    if as_of >= transfer_on:
        late_note = (
            f"the notice is late: the transfer waits until {notice_days} days after it goes out"
        )
    return item(
        Rule.PROFILE_TRANSFER_NOTICE,
        Action.SEND_TRANSFER_NOTICE,
        notice_on,
        skipped_because=skip,
        note=late_note,
    )


def no_account_item(row: Any, *, as_of: date) -> PlanItem:
    return _item(
        rule=Rule.PROFILE_NO_ACCOUNT,
        action=Action.DESTROY,
        subject=Subject(kind="profile", id=row.id),
        reference=f"profile {row.id}",
        due_on=rules.no_account_due_on(row.completed_on),
        deadline=rules.no_account_deadline(row.completed_on),
        as_of=as_of,
        skipped_because=_skip(row),
    )


def withdrawn_item(row: Any, *, as_of: date) -> PlanItem:
    """The destruction a row of ``queries.withdrawn_profiles`` is due for."""
    withdrawn_at = queries.aware(row.withdrawn_at)
    assert withdrawn_at is not None  # the query lists only withdrawn profiles
    due_on = rules.local_date(withdrawn_at)
    return _item(
        rule=Rule.PROFILE_CONSENT_WITHDRAWN,
        action=Action.DESTROY,
        subject=Subject(kind="profile", id=row.id),
        reference=f"profile {row.id}",
        due_on=due_on,
        deadline=due_on,
        as_of=as_of,
        skipped_because=_skip(row),
        note=N_("the person withdrew their consent to profiling: destroyed, never handed over"),
    )


async def _bulk_items(session: AsyncSession, *, as_of: date, settings: Settings) -> list[PlanItem]:
    items = []
    days = settings.engagement_retention_days
    count, oldest = await queries.old_engagement_events(
        session, before=rules.age_cutoff(as_of, days)
    )
    if count and oldest is not None:
        due_on = rules.age_due_on(oldest, days)
        items.append(
            _item(
                rule=Rule.ENGAGEMENT_EVENTS,
                action=Action.DELETE,
                subject=Subject(kind="engagement_events", count=count),
                reference=counted(count, "engagement event", "engagement events"),
                due_on=due_on,
                deadline=due_on,
                as_of=as_of,
            )
        )
    entries, lists, earliest = await queries.expired_call_lists(
        session, before=rules.local_midnight(as_of)
    )
    if lists and earliest is not None:
        due_on = rules.local_date(earliest) + timedelta(days=1)
        items.append(
            _item(
                rule=Rule.CALL_LISTS,
                action=Action.DELETE,
                subject=Subject(kind="call_list_entries", count=entries),
                reference=call_list_reference(entries, lists),
                due_on=due_on,
                deadline=due_on,
                as_of=as_of,
            )
        )
    days = settings.request_retention_days
    count, oldest = await queries.old_closed_requests(session, before=rules.age_cutoff(as_of, days))
    if count and oldest is not None:
        due_on = rules.age_due_on(oldest, days)
        items.append(
            _item(
                rule=Rule.CLOSED_REQUESTS,
                action=Action.DELETE,
                subject=Subject(kind="data_subject_requests", count=count),
                reference=counted(count, "closed request", "closed requests"),
                due_on=due_on,
                deadline=due_on,
                as_of=as_of,
            )
        )
    days = settings.visit_cookie_days + rules.SITE_CONSENT_MARGIN_DAYS
    count, oldest = await queries.anonymous_site_consents(
        session, before=rules.age_cutoff(as_of, days)
    )
    if count and oldest is not None:
        due_on = rules.age_due_on(oldest, days)
        items.append(
            _item(
                rule=Rule.ANONYMOUS_SITE_CONSENTS,
                action=Action.DELETE,
                subject=Subject(kind="site_consent_events", count=count),
                reference=counted(count, "anonymous cookie decision", "anonymous cookie decisions"),
                due_on=due_on,
                deadline=due_on,
                as_of=as_of,
            )
        )
    days = settings.audit_retention_days
    if days:
        found = await cuts.due(session, before=rules.age_cutoff(as_of, days))
        if found.count and found.oldest_at is not None:
            due_on = rules.age_due_on(found.oldest_at, days)
            items.append(
                _item(
                    rule=Rule.AUDIT_TRAIL,
                    action=Action.DELETE,
                    subject=Subject(kind="audit_events", count=found.count),
                    reference=counted(found.count, "audit event", "audit events"),
                    due_on=due_on,
                    deadline=due_on,
                    as_of=as_of,
                    note=N_(
                        "the oldest events, cut with a recorded anchor (consentry audit verify)"
                    ),
                )
            )
    return items


def signup_item(row: Any, *, as_of: date) -> PlanItem:
    """The deletion a row of ``queries.expired_signups`` is due for."""
    due_on = rules.local_date(row.expires_at) + timedelta(days=1)
    return _item(
        rule=Rule.UNCONFIRMED_SIGNUPS,
        action=Action.DELETE,
        subject=Subject(kind="signup", id=row.id),
        reference=f"signup {row.id}",
        due_on=due_on,
        deadline=due_on,
        as_of=as_of,
    )


def call_list_reference(entries: int, lists: int) -> str:
    return (
        f"{counted(entries, 'call-list entry', 'call-list entries')} of "
        f"{counted(lists, 'expired call list', 'expired call lists')}"
    )


async def plan(session: AsyncSession, *, as_of: date, settings: Settings) -> Plan:
    """Every action due on ``as_of`` (due on that day or earlier and not yet
    done), as the data stands now. One query per rule; changes nothing."""
    if not rules.EARLIEST_AS_OF <= as_of <= rules.LATEST_AS_OF:
        message = f"must be a date from {rules.EARLIEST_AS_OF} to {rules.LATEST_AS_OF}"
        raise InvalidInput(f"as_of: {message}", fields={"as_of": message})
    items = [
        contact_item(row, as_of=as_of)
        for row in await queries.contacts_past_retention(session, as_of=as_of)
    ]
    notice_days = settings.profile_transfer_notice_days
    refused = handover_refused(settings.profile_vendor, settings.profile_vendor_name)
    for row in await queries.vendor_profiles_near_transfer(
        session, as_of=as_of, notice_days=notice_days
    ):
        item = vendor_profile_item(
            row, as_of=as_of, notice_days=notice_days, handover_refused=refused
        )
        if item is not None:
            items.append(item)
    withdrawn = await queries.withdrawn_profiles(session)
    items += [
        item for row in withdrawn if (item := withdrawn_item(row, as_of=as_of)).due_on <= as_of
    ]
    items += [
        no_account_item(row, as_of=as_of)
        for row in await queries.no_account_profiles_due(session, as_of=as_of)
    ]
    items += [
        signup_item(row, as_of=as_of)
        for row in await queries.expired_signups(session, before=rules.local_midnight(as_of))
    ]
    items += await _bulk_items(session, as_of=as_of, settings=settings)
    items.sort(key=lambda item: (RULE_ORDER[item.rule], item.due_on, item.subject.id or 0))
    skipped = sum(item.skipped_because is not None for item in items)
    return Plan(
        as_of=as_of,
        items=items,
        summary=PlanSummary(
            due=len(items) - skipped,
            skipped=skipped,
            overdue=sum(item.overdue for item in items),
        ),
    )
