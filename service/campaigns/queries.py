"""Set-based SQL for campaigns: audience counts, the send list, its batches.

Every query takes the consent gate (``service.consent.queries.Gate``) as it is:
the audience count, the send list and the re-check before each batch apply
the very same predicate.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Insert,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    func,
    insert,
    literal,
    select,
    text,
    true,
    update,
)
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service.consent.queries import Gate
from service.db import run
from service.models import CallListEntry, CampaignRecipient, Contact, DeliveryEventRecord
from service.models.base import utcnow
from service.models.enums import (
    CampaignChannel,
    DeliveryEventKind,
    FailureReason,
    Reason,
    RecipientStatus,
)


def audience_query(gate: Gate) -> Select[Any]:
    """The statement ``audience`` runs (the benchmark EXPLAINs it as it is).

    Each reason is evaluated once per contact, in a subquery, and only summed
    above it. Inside the aggregate, PostgreSQL evaluated the eligibility's
    copy of every reason again, and planned their EXISTS as one index probe
    per contact each: it picks between probing and hashing by the rows of
    the node that evaluates them, and an aggregate has one. OFFSET 0 keeps
    the subquery from being merged back into the aggregate."""
    flags = (
        select(*(case((e, 1), else_=0).label(r.value) for r, e in gate.reasons.items()))
        .select_from(gate.source)
        .offset(0)
        .subquery("gate_flags")
    )
    columns = [flags.c[reason.value] for reason in gate.reasons]
    counts = [func.coalesce(func.sum(c), 0).label(c.name) for c in columns]
    none = and_(*(c == 0 for c in columns)) if columns else true()
    eligible = func.coalesce(func.sum(case((none, 1), else_=0)), 0)
    return select(func.count(), eligible, *counts).select_from(flags)


async def audience(session: AsyncSession, gate: Gate) -> tuple[int, int, dict[Reason, int]]:
    """(total, eligible, excluded per reason) in one pass over the contacts.

    On PostgreSQL, planned afresh for every count: after five runs on one
    connection it may settle on a generic plan, kept until the next ANALYZE,
    and one made while campaign_recipients was empty took minutes once the
    table held lists (BENCHMARKS.md). Only around this read: for the whole
    transaction it would also re-plan each foreign-key check of a later
    INSERT, row by row (a send list's took twice as long)."""
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        await run(session, text("SET LOCAL plan_cache_mode = force_custom_plan"))
    row = (await run(session, audience_query(gate))).one()
    if postgres:
        await run(session, text("SET LOCAL plan_cache_mode TO DEFAULT"))
    total, eligible_count, *per_reason = row
    return (
        int(total),
        int(eligible_count),
        {reason: int(n) for reason, n in zip(gate.reasons, per_reason, strict=True) if n},
    )


async def audience_members(
    session: AsyncSession, gate: Gate, *, reason: Reason | None, limit: int, offset: int
) -> list[tuple[int, str]]:
    """(id, full name) of the people behind one count of ``audience``: those the
    gate leaves out for ``reason``, or the eligible ones when it is None. In id
    order, one page at a time; the same expressions as the counts, so the
    list and its count always agree."""
    if reason is None:
        where = gate.eligible()
    elif reason in gate.reasons:
        where = gate.reasons[reason]
    else:
        return []  # a reason this gate never gives (Robinson for email)
    query = (
        select(col(Contact.id), col(Contact.full_name))
        .select_from(gate.source)
        .where(where)
        .order_by(col(Contact.id))
        .limit(limit)
        .offset(offset)
    )
    return [(int(i), str(name)) for i, name in (await run(session, query)).all()]


def send_list_insert(gate: Gate, *, campaign_id: int, channel: CampaignChannel) -> Insert:
    """The statement ``build_send_list`` runs (the benchmark EXPLAINs it as it is)."""
    rows = (
        select(
            # Written into the SQL: each campaign's list is built by a statement
            # of its own, planned for the tables as they are (see ``audience``).
            literal(campaign_id, Integer, literal_execute=True),
            col(Contact.id),
            literal(channel.value),
            literal(RecipientStatus.QUEUED.value),
            literal(0, Integer),
            literal(utcnow()),
        )
        .select_from(gate.source)
        .where(gate.eligible(), *gate.within())
    )
    return insert(CampaignRecipient).from_select(
        ["campaign_id", "contact_id", "channel", "status", "attempts", "updated_at"], rows
    )


async def build_send_list(
    session: AsyncSession, *, gate: Gate, campaign_id: int, channel: CampaignChannel
) -> int:
    """Insert every eligible contact as a queued recipient, in one statement."""
    statement = send_list_insert(gate, campaign_id=campaign_id, channel=channel)
    return int((await run(session, statement)).rowcount)


async def build_call_list(session: AsyncSession, *, gate: Gate, call_list_id: int) -> int:
    rows = (
        select(literal(call_list_id, Integer, literal_execute=True), col(Contact.id))
        .select_from(gate.source)
        .where(gate.eligible(), *gate.within())
    )
    result = await session.exec(
        insert(CallListEntry).from_select(["call_list_id", "contact_id"], rows)
    )
    return int(result.rowcount)


async def pending_batches(
    session: AsyncSession, *, campaign_id: int, batch_size: int
) -> list[tuple[int, int, int]]:
    """``(index, first_id, last_id)`` of every batch that still has queued recipients.

    Batch ``i`` is the ``i``-th run of ``batch_size`` recipients in id order over
    the whole list. The list never gains or loses rows after it is built, so a
    batch always names the same recipients and its job id can be deterministic.
    """
    numbered = (
        select(
            col(CampaignRecipient.id).label("id"),
            col(CampaignRecipient.status).label("status"),
            ((func.row_number().over(order_by=col(CampaignRecipient.id)) - 1) // batch_size).label(
                "batch"
            ),
        )
        .where(col(CampaignRecipient.campaign_id) == campaign_id)
        .subquery()
    )
    queued = func.sum(case((numbered.c.status == RecipientStatus.QUEUED.value, 1), else_=0))
    query = (
        select(numbered.c.batch, func.min(numbered.c.id), func.max(numbered.c.id))
        .group_by(numbered.c.batch)
        .having(queued > 0)
        .order_by(numbered.c.batch)
    )
    return [(int(b), int(first), int(last)) for b, first, last in (await run(session, query)).all()]


async def counts(session: AsyncSession, campaign_id: int) -> dict[str, int]:
    rows = await run(
        session,
        select(col(CampaignRecipient.status), func.count())
        .where(col(CampaignRecipient.campaign_id) == campaign_id)
        .group_by(col(CampaignRecipient.status)),
    )
    return {str(status): int(n) for status, n in rows.all()}


async def complaints(session: AsyncSession, campaign_id: int) -> int:
    """Spam complaints counted against the campaign (service.inbound.complaints):
    one per message complained about, kept after the person's erasure."""
    return int(
        (
            await run(
                session,
                select(func.count()).where(
                    col(DeliveryEventRecord.campaign_id) == campaign_id,
                    col(DeliveryEventRecord.kind) == DeliveryEventKind.COMPLAINT.value,
                ),
            )
        ).scalar_one()
    )


async def bounce_classes(session: AsyncSession, campaign_id: int) -> dict[str, int]:
    """Bounces counted against the campaign by class (service.delivery.bounces):
    refusals while sending and reports alike, kept after the person's erasure."""
    rows = await run(
        session,
        select(col(DeliveryEventRecord.bounce_class), func.count())
        .where(
            col(DeliveryEventRecord.campaign_id) == campaign_id,
            col(DeliveryEventRecord.kind) == DeliveryEventKind.BOUNCE.value,
        )
        .group_by(col(DeliveryEventRecord.bounce_class)),
    )
    return {str(bounce_class): int(n) for bounce_class, n in rows.all() if bounce_class}


async def failures(session: AsyncSession, campaign_id: int) -> dict[str, int]:
    """Failed recipients by reason (service.models.enums.FailureReason).

    Rows failed before reasons were recorded were all refused by the relay."""
    reason = func.coalesce(col(CampaignRecipient.reason), FailureReason.REJECTED.value)
    rows = await run(
        session,
        select(reason, func.count())
        .where(
            col(CampaignRecipient.campaign_id) == campaign_id,
            col(CampaignRecipient.status) == RecipientStatus.FAILED.value,
        )
        .group_by(reason),
    )
    return {str(why): int(n) for why, n in rows.all()}


async def excluded_in_range(
    session: AsyncSession, *, gate: Gate, campaign_id: int, first_id: int, last_id: int
) -> list[tuple[int, list[str]]]:
    """Queued recipients of a batch the gate now refuses, with their reasons:
    the re-check right before sending."""
    recipient = col(CampaignRecipient.id)
    batch = select(col(CampaignRecipient.contact_id)).where(
        col(CampaignRecipient.campaign_id) == campaign_id, recipient.between(first_id, last_id)
    )
    # The same rules, with the frequency cap counted for this batch's people
    # only: a chunk of 250 must not read every message of the last 30 days.
    gate = Gate(gate.context, among=batch)
    query = (
        select(recipient, *gate.flags())
        .select_from(gate.source)
        .join(CampaignRecipient, col(CampaignRecipient.contact_id) == col(Contact.id))
        .where(
            col(CampaignRecipient.campaign_id) == campaign_id,
            recipient.between(first_id, last_id),
            col(CampaignRecipient.status) == RecipientStatus.QUEUED.value,
            gate.excluded(),
        )
    )
    rows = (await session.exec(query)).all()  # type: ignore[call-overload]
    return [
        (
            int(row[0]),
            [reason.value for reason, flag in zip(gate.reasons, row[1:], strict=True) if flag],
        )
        for row in rows
    ]


RECIPIENTS = CampaignRecipient.__table__  # type: ignore[attr-defined]


async def mark_skipped(session: AsyncSession, skips: list[tuple[int, list[str]]]) -> None:
    """Record each refused recipient with every reason the gate gave."""
    if not skips:
        return
    statement = (
        update(RECIPIENTS)
        .where(RECIPIENTS.c.id == bindparam("rid"))
        .values(status=RecipientStatus.SKIPPED.value, reason=bindparam("why"), updated_at=utcnow())
    )
    await session.exec(
        statement, params=[{"rid": rid, "why": ",".join(reasons)} for rid, reasons in skips]
    )


async def skip_erased(
    session: AsyncSession, *, campaign_id: int, first_id: int, last_id: int
) -> None:
    """Recipients whose contact was erased since the list was built."""
    await session.exec(
        update(RECIPIENTS)
        .where(
            RECIPIENTS.c.campaign_id == campaign_id,
            RECIPIENTS.c.id.between(first_id, last_id),
            RECIPIENTS.c.status == RecipientStatus.QUEUED.value,
            RECIPIENTS.c.contact_id.is_(None),
        )
        .values(status=RecipientStatus.SKIPPED.value, reason="erased", updated_at=utcnow())
    )


async def phones_of(session: AsyncSession, contact_ids: set[int]) -> dict[int, str | None]:
    """The phone numbers of these contacts (an SMS chunk's), in one query."""
    if not contact_ids:
        return {}
    rows = await run(
        session, select(col(Contact.id), col(Contact.phone)).where(col(Contact.id).in_(contact_ids))
    )
    return {int(contact_id): phone for contact_id, phone in rows.all()}
