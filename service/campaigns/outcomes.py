"""What a batch leaves behind: each recipient's outcome, the journal, the
campaign's pause or end.

``service.campaigns.sending`` sends; this records. The journal (a Redis hash
of recipients the relay accepted, written the moment a 250 arrives) bridges
the two: ``record`` writes a chunk's outcomes in one transaction and then
drops their journal entries, ``apply_journal`` moves journalled recipients to
``sent`` when a batch starts again after a crash, and ``record_sent_now``
writes a delivery at once when the journal itself (Redis) fails.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from arq.connections import ArqRedis
from redis.exceptions import RedisError
from sqlalchemy import bindparam, exists, select, update
from sqlmodel import col

from service import clock
from service.db import insert_ignore, run, session_scope
from service.mail.smtp import Delivery, Outcome
from service.mail.views import Recipient
from service.models import Campaign, CampaignRecipient, Suppression
from service.models.enums import CampaignStatus, FailureReason, RecipientStatus

if TYPE_CHECKING:
    from service.campaigns.sending import Sender

logger = logging.getLogger(__name__)

# A recipient whose relay keeps answering "try later" is given up after this
# many attempts (each a batch run, spaced by growing back-off).
MAX_TEMPORARY_ATTEMPTS = 5
RECIPIENTS = CampaignRecipient.__table__  # type: ignore[attr-defined]


async def redis_command(redis: ArqRedis, *command: Any) -> Any:
    """One Redis command (redis-py leaves ``execute_command`` untyped)."""
    return await redis.execute_command(*command)  # type: ignore[no-untyped-call]


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


@dataclass(frozen=True, slots=True)
class Result:
    """What happened to one recipient's message."""

    row: Row
    delivery: Delivery
    failure: FailureReason | None = None  # why it failed, when it did for good


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
    sender: Sender, campaign_id: int, results: Sequence[Result], recorded: set[int]
) -> int:
    """Write a chunk's outcomes in one transaction; return how many to retry.

    ``recorded``: rows already written as sent (the journal was down)."""
    now = clock.now()
    params: list[dict[str, Any]] = []
    suppress: list[str] = []
    retry = 0
    for result in results:
        row, delivery = result.row, result.delivery
        if row.id in recorded or delivery.relay_unavailable:
            continue  # written already, or untouched: the relay was not there
        status, reply, why = RecipientStatus.SENT, None, None
        if delivery.outcome is Outcome.PERMANENT:
            status, reply = RecipientStatus.FAILED, delivery.reply
            why = result.failure or FailureReason.REJECTED
            if delivery.address_rejected:
                suppress.append(sender.cipher.lookup_hash("email", row.email))
        elif delivery.outcome is Outcome.TEMPORARY:
            reply = delivery.reply
            if row.attempts + 1 >= MAX_TEMPORARY_ATTEMPTS:
                status = RecipientStatus.FAILED
                why = FailureReason.TEMPORARY_FAILURES
                reply = f"gave up after {row.attempts + 1} temporary failures: {delivery.reply}"
            else:
                status = RecipientStatus.QUEUED
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
            for value_hash in suppress:
                await run(
                    session,
                    insert_ignore(
                        session,
                        Suppression.__table__,  # type: ignore[attr-defined]
                        keys=["value_hash"],
                        values={
                            "value_hash": value_hash,
                            "kind": "email",
                            "reason": "bounce",
                            "created_at": now,
                        },
                    ),
                )
    delivered = [
        str(r.row.id)
        for r in results
        if r.delivery.outcome is Outcome.SENT and r.row.id not in recorded
    ]
    if delivered:
        # The rows say sent now; an entry left behind (Redis gone) is harmless:
        # the journal is applied only to rows still queued.
        with contextlib.suppress(RedisError, OSError):
            await redis_command(sender.redis, "HDEL", journal_key(campaign_id), *delivered)
    return retry


async def apply_journal(sender: Sender, campaign_id: int, first_id: int, last_id: int) -> None:
    """After a crash: recipients the relay accepted but whose row still says queued."""
    key = journal_key(campaign_id)
    async with session_scope(sender.sessionmaker) as session:
        queued = (
            (
                await run(
                    session,
                    select(RECIPIENTS.c.id).where(
                        RECIPIENTS.c.campaign_id == campaign_id,
                        RECIPIENTS.c.id.between(first_id, last_id),
                        RECIPIENTS.c.status == RecipientStatus.QUEUED.value,
                    ),
                )
            )
            .scalars()
            .all()
        )
        if not queued:
            return
        stamps = await redis_command(sender.redis, "HMGET", key, *queued)
        delivered = [
            {"rid": rid, "sent": datetime.fromtimestamp(float(stamp), tz=clock.now().tzinfo)}
            for rid, stamp in zip(queued, stamps, strict=True)
            if stamp is not None
        ]
        if delivered:
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
                delivered,
            )
    if delivered:
        await redis_command(sender.redis, "HDEL", key, *(d["rid"] for d in delivered))


# Failures about the message we made, not the relay's answer.
_OURS = frozenset(
    {
        FailureReason.RENDER_ERROR,
        FailureReason.ADDRESS_NOT_DELIVERABLE,
        FailureReason.UNEXPECTED_ERROR,
    }
)


async def count_failures(sender: Sender, campaign_id: int, results: Sequence[Result]) -> bool:
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
