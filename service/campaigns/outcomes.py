"""What a campaign's batch leaves behind: each recipient's outcome, the
campaign's pause or end.

The delivery loop (service.delivery.batch) sends; this records, in the
campaign's tables. The journal (service.delivery.journal) bridges the two:
``record`` writes a chunk's outcomes in one transaction and then drops their
journal entries, ``mark_delivered`` moves journalled recipients to ``sent``
when a batch starts again after a crash, and ``record_sent_now`` writes a
delivery at once when the journal itself (Redis) fails.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError
from sqlalchemy import bindparam, exists, select, update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.db import run, session_scope
from service.delivery.batch import Result, status_after
from service.delivery.bounce_effects import (
    count_against_address,
    pause_on_policy_spike,
    write_event,
)
from service.delivery.bounces import classify, status_of
from service.delivery.journal import Journal, redis_command
from service.delivery.messenger import Delivery, Outcome
from service.delivery.throttle import receiving_domain
from service.mail.views import Recipient
from service.models import Campaign, CampaignRecipient
from service.models.enums import (
    BounceClass,
    CampaignStatus,
    DeliveryEventKind,
    FailureReason,
    RecipientStatus,
)

if TYPE_CHECKING:
    from service.campaigns.sending import Sender

logger = logging.getLogger(__name__)

RECIPIENTS = CampaignRecipient.__table__  # type: ignore[attr-defined]


def journal_key(campaign_id: int) -> str:
    return f"consentry:campaign:{campaign_id}:delivered"


def failures_key(campaign_id: int) -> str:
    return f"consentry:campaign:{campaign_id}:failures-in-a-row"


@dataclass(frozen=True, slots=True)
class Row:
    """A queued recipient and what its message needs: plain columns, not an
    ORM object (building thousands of those is a measurable share of a batch)."""

    id: int
    attempts: int
    contact_id: int
    email: str
    recipient: Recipient
    tracking: bool  # the contact allows open and click tracking now
    phone: str | None = None  # loaded for SMS campaigns only

    @property
    def domain(self) -> str | None:
        """The receiving domain, for throttling (service.delivery.throttle)."""
        return receiving_domain(self.email)


async def record_sent_now(sender: Sender, recipient_id: int) -> None:
    """The journal is down: write one delivery to the database at once.

    If this fails too, the message was accepted and is recorded nowhere; the
    error says so and the batch stops."""
    now = clock.now()
    async with session_scope(sender.sessionmaker) as session:
        await run(
            session,
            update(RECIPIENTS)
            .where(RECIPIENTS.c.id == recipient_id)
            .values(
                status=RecipientStatus.SENT.value,
                attempts=RECIPIENTS.c.attempts + 1,
                smtp_code=250,
                sent_at=now,
                updated_at=now,
            ),
        )


async def record(
    sender: Sender, campaign_id: int, results: Sequence[Result[Row]], recorded: set[int]
) -> int:
    """Write a chunk's outcomes in one transaction; return how many to retry.

    ``recorded``: rows already written as sent (the journal was down)."""
    now = clock.now()
    params: list[dict[str, Any]] = []
    refused: list[tuple[str, Row, BounceClass, str]] = []
    retry = 0
    for result in results:
        row, delivery = result.row, result.delivery
        if row.id in recorded or delivery.relay_unavailable:
            continue  # written already, or untouched: the relay was not there
        status, why, reply = status_after(result)
        # A permanent refusal is a bounce under the one rule; a "try later"
        # is retried by the loop and counts only once the loop gives up.
        if delivery.outcome is Outcome.PERMANENT and delivery.bounce_class is not None:
            value_hash = sender.cipher.lookup_hash("email", row.email)
            code = status_of(delivery.reply) or f"{delivery.code or 5}"[:1] + ".0.0"
            refused.append((value_hash, row, delivery.bounce_class, code))
        elif why is FailureReason.TEMPORARY_FAILURES and (given_up := _given_up(delivery)):
            refused.append((sender.cipher.lookup_hash("email", row.email), row, *given_up))
        if status is RecipientStatus.QUEUED:
            retry += 1
        params.append(
            {
                "rid": row.id,
                "st": status.value,
                "code": delivery.code,
                "reply": reply[:500] if reply else None,
                "sent": now if status is RecipientStatus.SENT else None,
                "why": why.value if why is not None else None,
            }
        )
    if params:
        async with session_scope(sender.sessionmaker) as session:
            await run(
                session,
                update(RECIPIENTS)
                .where(RECIPIENTS.c.id == bindparam("rid"))
                .values(
                    status=bindparam("st"),
                    attempts=RECIPIENTS.c.attempts + 1,
                    smtp_code=bindparam("code"),
                    smtp_reply=bindparam("reply"),
                    sent_at=bindparam("sent"),
                    reason=bindparam("why"),
                    updated_at=now,
                ),
                params,
            )
            await record_refusals(sender, session, campaign_id, refused)
    delivered = [
        r.row.id for r in results if r.delivery.outcome is Outcome.SENT and r.row.id not in recorded
    ]
    # The rows say sent now; an entry left behind (Redis gone) is harmless:
    # the journal is applied only to rows still queued.
    with contextlib.suppress(RedisError, OSError):
        await Journal(sender.redis, journal_key(campaign_id)).forget(delivered)
    return retry


def _given_up(delivery: Delivery) -> tuple[BounceClass, str] | None:
    """The class and status of a recipient given up after its temporary tries,
    read from the relay's last reply by the one rule: a full mailbox is soft
    (counted against the address), a reputation deferral (4.7.x) policy
    (counted against the campaign). None when the relay said nothing about
    the message (no 4xx reply: an out-of-step session, an SMS gateway)."""
    if delivery.bounce_class is None or delivery.code is None or not 400 <= delivery.code < 500:
        return None
    text = f"{delivery.code} {delivery.reply}"
    return classify(None, text, permanent=False), status_of(delivery.reply) or "4.0.0"


async def record_refusals(
    sender: Sender,
    session: AsyncSession,
    campaign_id: int,
    refused: Sequence[tuple[str, Row, BounceClass, str]],
) -> None:
    """The relay's permanent refusals, and the last answer to a recipient
    given up after its temporary tries, as the one bounce rule says: a bad
    address is suppressed, a soft bounce counted against it, a policy block
    counted against the campaign only (which a spike of them pauses).

    In hash order, so two batches refusing the same addresses at once lock
    their counter rows in the same order."""
    settings = sender.settings
    for value_hash, row, bounce_class, code in sorted(refused, key=lambda r: (r[0], r[1].id)):
        await count_against_address(
            session,
            value_hash=value_hash,
            bounce_class=bounce_class,
            status=code,
            soft_limit=settings.soft_bounce_limit,
        )
        await write_event(
            session,
            kind=DeliveryEventKind.BOUNCE,
            source="smtp",
            value_hash=value_hash,
            bounce_class=bounce_class,
            status=code,
            campaign_id=campaign_id,
            recipient_id=row.id,
        )
    if any(bounce_class is BounceClass.POLICY for _, _, bounce_class, _ in refused):
        await pause_on_policy_spike(
            session, campaign_id=campaign_id, pause_after=settings.policy_pause_after
        )


async def queued(sender: Sender, campaign_id: int, first_id: int, last_id: int) -> list[int]:
    """The batch's recipients still queued (the journal is matched against them)."""
    async with session_scope(sender.sessionmaker) as session:
        result = await run(
            session,
            select(RECIPIENTS.c.id).where(
                RECIPIENTS.c.campaign_id == campaign_id,
                RECIPIENTS.c.id.between(first_id, last_id),
                RECIPIENTS.c.status == RecipientStatus.QUEUED.value,
            ),
        )
        return list(result.scalars().all())


async def mark_delivered(sender: Sender, delivered: dict[int, datetime]) -> None:
    """After a crash: recipients the journal says the relay accepted, as sent."""
    async with session_scope(sender.sessionmaker) as session:
        await run(
            session,
            update(RECIPIENTS)
            .where(RECIPIENTS.c.id == bindparam("rid"))
            .values(
                status=RecipientStatus.SENT.value,
                sent_at=bindparam("sent"),
                attempts=RECIPIENTS.c.attempts + 1,
                updated_at=clock.now(),
            ),
            [{"rid": rid, "sent": sent} for rid, sent in delivered.items()],
        )


# Failures about the message we made, not the relay's answer.
_OURS = frozenset(
    {
        FailureReason.RENDER_ERROR,
        FailureReason.ADDRESS_NOT_DELIVERABLE,
        FailureReason.UNEXPECTED_ERROR,
    }
)


async def count_failures(sender: Sender, campaign_id: int, results: Sequence[Result[Row]]) -> bool:
    """Track the relay's failures in a row across batches; pause the campaign at
    the limit. Messages we could not make (a poison row) are the recipient's
    own matter and neither count nor break a run."""
    key = failures_key(campaign_id)
    results = [r for r in results if r.failure not in _OURS]
    trailing = 0
    for result in results:
        trailing = 0 if result.delivery.outcome is Outcome.SENT else trailing + 1
    if any(r.delivery.outcome is Outcome.SENT for r in results):
        in_a_row = trailing
        await sender.redis.set(key, in_a_row)
    elif trailing:
        in_a_row = int(await redis_command(sender.redis, "INCRBY", key, trailing))
    else:
        return False
    limit = sender.settings.send_pause_after_failures
    if in_a_row < limit:
        return False
    last = results[-1].delivery
    await pause(
        sender,
        campaign_id,
        f"paused after {in_a_row} failed deliveries in a row; "
        f"last answer: {last.code or ''} {last.reply}",
    )
    await sender.redis.delete(key)
    return True


# An address in a relay's reply or an error message: kept out of pause reasons,
# which outlive the people they would name.
_ADDRESS = re.compile(r"[^\s<>\"'()\[\],;:]+@[^\s<>\"'()\[\],;]+")


async def pause(sender: Sender, campaign_id: int, reason: str) -> bool:
    """Pause a sending campaign with a reason staff can read; False if it was not sending.

    Email addresses in ``reason`` (a relay's reply often quotes the recipient)
    become ``<address>``."""
    reason = _ADDRESS.sub("<address>", reason)
    async with session_scope(sender.sessionmaker) as session:
        result = await run(
            session,
            update(Campaign)
            .where(col(Campaign.id) == campaign_id, col(Campaign.status) == CampaignStatus.SENDING)
            .values(
                status=CampaignStatus.PAUSED.value,
                pause_reason=reason.strip()[:500],
                updated_at=clock.now(),
            ),
        )
    if result.rowcount:
        logger.warning("campaign %s paused: %s", campaign_id, reason.split(":", 1)[0])
    return bool(result.rowcount)


async def finish_if_done(sender: Sender, campaign_id: int) -> bool:
    """Mark the campaign done once no recipient is left queued."""
    pending = exists(
        select(RECIPIENTS.c.id).where(
            RECIPIENTS.c.campaign_id == campaign_id,
            RECIPIENTS.c.status == RecipientStatus.QUEUED.value,
        )
    )
    async with session_scope(sender.sessionmaker) as session:
        result = await run(
            session,
            update(Campaign)
            .where(
                col(Campaign.id) == campaign_id,
                col(Campaign.status) == CampaignStatus.SENDING,
                ~pending,
            )
            .values(status=CampaignStatus.DONE.value, finished_at=clock.now()),
        )
    if result.rowcount:
        await sender.redis.delete(journal_key(campaign_id), failures_key(campaign_id))
    return bool(result.rowcount)
