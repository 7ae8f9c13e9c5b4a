"""What a classified bounce does, written once for every way it arrives.

Both the campaign's send loop (a refusal while sending: service.campaigns.
outcomes) and the recording of reports and provider events
(service.inbound.events.record) call these, so an SMTP-time answer and a
report about the same failure do the same thing:

* ``count_against_address``: a bad address is suppressed now; a soft bounce
  is counted and suppresses at the soft limit; a policy block changes
  nothing about the address.
* ``write_event``: the ``delivery_events`` row a campaign's counts and rates
  are read from, once per provider event.
* ``pause_on_policy_spike``: a campaign whose recent messages are refused by
  policy pauses with the reason, since every further message would only
  harm the sending IP's or domain's standing more.

Like every service these never commit.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from sqlalchemy import func, select, update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.db import insert_ignore, run
from service.models import BounceCounter, Campaign, CampaignRecipient
from service.models.bounces import DeliveryEventRecord
from service.models.enums import (
    BounceClass,
    CampaignStatus,
    DeliveryEventKind,
    RecipientStatus,
    SuppressionKind,
    SuppressionReason,
)
from service.suppressions import service as suppressions

logger = logging.getLogger(__name__)

COUNTERS: Any = BounceCounter.__table__  # type: ignore[attr-defined]
EVENTS: Any = DeliveryEventRecord.__table__  # type: ignore[attr-defined]
RECIPIENTS: Any = CampaignRecipient.__table__  # type: ignore[attr-defined]

# A campaign pauses when CONSENTRY_POLICY_PAUSE_AFTER of its last
# POLICY_WINDOW messages were refused by policy: 10 of 200 (5 %) by default.
# A receiver that blocks our IP refuses nearly everything at once, so the
# threshold is reached within the first few dozen messages to it; a handful
# of corporate content filters stays well below 5 %.
POLICY_WINDOW: Final = 200


async def count_against_address(
    session: AsyncSession,
    *,
    value_hash: str,
    bounce_class: BounceClass,
    status: str,
    soft_limit: int,
) -> SuppressionReason | None:
    """Count one bounce against an address (its keyed hash) and suppress it
    when the rule says so; return the suppression's reason, or None.

    A policy block is not counted here at all: it is about us. No bounce
    ever makes an address mailable again."""
    if bounce_class is BounceClass.POLICY:
        return None
    hard = bounce_class is BounceClass.BAD_ADDRESS
    now = clock.now()
    await run(
        session,
        insert_ignore(
            session,
            COUNTERS,
            keys=["value_hash"],
            values={
                "value_hash": value_hash,
                "soft_count": 0,
                "hard_count": 0,
                "last_status": status[:16],
                "last_at": now,
            },
        ),
    )
    # Incremented in the database, so two reports for one address that
    # arrive at once both count.
    soft_count = (
        await run(
            session,
            update(COUNTERS)
            .where(COUNTERS.c.value_hash == value_hash)
            .values(
                soft_count=COUNTERS.c.soft_count + (0 if hard else 1),
                hard_count=COUNTERS.c.hard_count + (1 if hard else 0),
                last_status=status[:16],
                last_at=now,
            )
            .returning(COUNTERS.c.soft_count),
        )
    ).scalar_one()
    if not hard and soft_count < soft_limit:
        return None
    reason = SuppressionReason.BOUNCE if hard else SuppressionReason.SOFT_BOUNCE
    await suppressions.record(
        session, value_hash=value_hash, kind=SuppressionKind.EMAIL, reason=reason
    )
    return reason


async def write_event(
    session: AsyncSession,
    *,
    kind: DeliveryEventKind,
    source: str,
    value_hash: str,
    bounce_class: BounceClass | None = None,
    status: str | None = None,
    campaign_id: int | None = None,
    recipient_id: int | None = None,
    provider_event_id: str | None = None,
) -> bool:
    """One ``delivery_events`` row; False when the provider's event id was
    recorded before from the same source (a webhook sent again)."""
    result = await run(
        session,
        insert_ignore(
            session,
            EVENTS,
            keys=["source", "provider_event_id"],
            values={
                "received_at": clock.now(),
                "kind": kind.value,
                "source": source,
                "bounce_class": None if bounce_class is None else bounce_class.value,
                "status": None if status is None else status[:16],
                "value_hash": value_hash,
                "campaign_id": campaign_id,
                "recipient_id": recipient_id,
                "provider_event_id": None if provider_event_id is None else provider_event_id[:200],
            },
        ),
    )
    return bool(result.rowcount)


async def policy_refusals(session: AsyncSession, campaign_id: int) -> tuple[int, int]:
    """(refused by policy, messages) among the campaign's last POLICY_WINDOW
    messages that have an outcome (sent or failed), newest row ids first."""
    recent = (
        select(RECIPIENTS.c.id)
        .where(
            RECIPIENTS.c.campaign_id == campaign_id,
            RECIPIENTS.c.status.in_([RecipientStatus.SENT.value, RecipientStatus.FAILED.value]),
        )
        .order_by(RECIPIENTS.c.id.desc())
        .limit(POLICY_WINDOW)
        .subquery()
    )
    messages = (await run(session, select(func.count()).select_from(recent))).scalar_one()
    refused = (
        await run(
            session,
            select(func.count(func.distinct(EVENTS.c.recipient_id))).where(
                EVENTS.c.campaign_id == campaign_id,
                EVENTS.c.kind == DeliveryEventKind.BOUNCE.value,
                EVENTS.c.bounce_class == BounceClass.POLICY.value,
                EVENTS.c.recipient_id.in_(select(recent.c.id)),
            ),
        )
    ).scalar_one()
    return int(refused), int(messages)


async def pause_on_policy_spike(
    session: AsyncSession, *, campaign_id: int, pause_after: int
) -> str | None:
    """Pause a sending campaign when ``pause_after`` of its last
    POLICY_WINDOW messages were refused by policy; the reason, when it did."""
    refused, messages = await policy_refusals(session, campaign_id)
    if refused < pause_after:
        return None
    reason = (
        f"paused: {refused} of the last {messages} messages were refused by policy (5.7.x)"
        " — the sending IP or content is blocked"
    )
    result = await run(
        session,
        update(Campaign)
        .where(col(Campaign.id) == campaign_id, col(Campaign.status) == CampaignStatus.SENDING)
        .values(status=CampaignStatus.PAUSED.value, pause_reason=reason, updated_at=clock.now()),
    )
    if not result.rowcount:
        return None
    logger.warning("campaign %s paused: refused by policy", campaign_id)
    return reason
