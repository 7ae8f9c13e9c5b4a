"""Sending an email campaign: the work the queue jobs do.

``start`` builds the send list once (one ``INSERT … SELECT`` through the
consent gate) and queues one job per batch, each with a deterministic id.
``send_batch`` walks its batch by keyset, in chunks: it re-applies the gate to
the chunk right before SMTP (whoever was banned, unsubscribed or restricted
since the list was built is skipped with the reason), renders, sends over the
worker's pool of SMTP connections and records what happened.

Exactly once. A recipient's row is the truth about them, but a worker can be
killed between the relay's "250 accepted" and the row's update. So the moment
a 250 arrives, before anything else is awaited, the recipient's id goes into
a Redis hash, the *journal*; the rows follow in one write per chunk, after
which their journal entries are dropped. A batch that starts (or starts
again, after a crash) first moves every journalled recipient to ``sent``, then
sends only to rows still ``queued``. What remains is the window between the
relay writing its 250 and that journal write reaching Redis: the read of the
reply and one Redis round trip (measured about 0.3 ms at the median under full load; see the
README). A worker killed inside that window leaves a message the relay took
but the journal missed; it is sent again, with the same Message-ID, so
receivers that de-duplicate on it show it once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from arq.connections import ArqRedis
from redis.exceptions import RedisError
from sqlalchemy import select, update
from sqlmodel import col

from service import clock, queue
from service.campaigns import outcomes, queries
from service.campaigns.outcomes import Result, Row, finish_if_done, journal_key, pause
from service.campaigns.service import gate_for, renderer_for
from service.crypto import DataCipher
from service.db import SessionMaker, run, session_scope
from service.mail.message import build_message
from service.mail.render import HEADER_UNSAFE, CampaignRenderer, Links
from service.mail.smtp import Delivery, Outcome, SmtpPool
from service.mail.views import Recipient
from service.models import Campaign, CampaignRecipient, ConsentState, Contact
from service.models.enums import (
    CampaignStatus,
    Channel,
    ConsentAction,
    FailureReason,
    Purpose,
    RecipientStatus,
)
from service.queue import JobLease
from service.settings import Settings
from service.tokens import TokenSigner

logger = logging.getLogger(__name__)

CHUNK = 250
RECIPIENTS = CampaignRecipient.__table__  # type: ignore[attr-defined]


class QueueUnavailable(Exception):
    """Redis failed while the batch was sending: it stopped, and what the relay
    had accepted is recorded in the database."""


class RelayUnavailable(Exception):
    """The relay could not be reached or dropped the session: the batch stops,
    and its recipients stay queued with their tries untouched."""


class TemporaryFailures(Exception):
    """Some recipients of the batch must be tried again later."""

    def __init__(self, count: int) -> None:
        super().__init__(f"{count} recipients to try again")
        self.count = count


@dataclass
class Sender:
    """What a worker process keeps for sending: built once, shared by its jobs."""

    settings: Settings
    sessionmaker: SessionMaker
    redis: ArqRedis
    smtp: SmtpPool | None
    signer: TokenSigner
    cipher: DataCipher
    _renderers: dict[int, tuple[datetime, CampaignRenderer]] = field(default_factory=dict)

    @property
    def domain(self) -> str:
        return self.settings.mail_from_address.rpartition("@")[2]

    def renderer(self, campaign: Campaign) -> CampaignRenderer:
        assert campaign.id is not None
        cached = self._renderers.get(campaign.id)
        if cached is None or cached[0] != campaign.updated_at:
            cached = (campaign.updated_at, renderer_for(campaign, self.settings))
            self._renderers[campaign.id] = cached
        return cached[1]


# -- start ----------------------------------------------------------------------


async def start(sender: Sender, campaign_id: int) -> str:
    """Begin (or continue) a campaign: build its list once, queue its batches."""
    settings = sender.settings
    async with session_scope(sender.sessionmaker) as session:
        campaign = await session.get(Campaign, campaign_id)
        if campaign is None:
            return "no such campaign"
        now = clock.now()
        if campaign.status is CampaignStatus.SCHEDULED:
            if campaign.send_at is not None and campaign.send_at > now:
                return "not due yet"
            campaign.status = CampaignStatus.SENDING
            campaign.started_at = now
            session.add(campaign)
        if campaign.status is not CampaignStatus.SENDING:
            return f"campaign is {campaign.status.value}"
        if campaign.list_built_at is None:
            # Claim the build: of two start jobs only one sees the NULL.
            claimed = await run(
                session,
                update(Campaign)
                .where(col(Campaign.id) == campaign_id, col(Campaign.list_built_at).is_(None))
                .values(list_built_at=now, batch_size=settings.send_batch_size),
            )
            if claimed.rowcount == 1:
                gate = gate_for(campaign, settings, today=clock.today(), now=now)
                total, eligible, excluded = await queries.audience(session, gate)
                await queries.build_send_list(
                    session, gate=gate, campaign_id=campaign_id, channel=campaign.channel
                )
                await run(
                    session,
                    update(Campaign)
                    .where(col(Campaign.id) == campaign_id)
                    .values(
                        audience_at_build={
                            "total": total,
                            "eligible": eligible,
                            "excluded": {r.value: n for r, n in excluded.items()},
                        }
                    ),
                )
        batch_size = campaign.batch_size or settings.send_batch_size
    async with session_scope(sender.sessionmaker) as session:
        batches = await queries.pending_batches(
            session, campaign_id=campaign_id, batch_size=batch_size
        )
    for index, first_id, last_id in batches:
        await queue.enqueue(
            sender.redis,
            queue.SEND_BATCH,
            campaign_id,
            first_id,
            last_id,
            job_id=queue.send_batch_job_id(campaign_id, index),
        )
    if not batches:
        await finish_if_done(sender, campaign_id)
    return f"{len(batches)} batches queued"


# -- batches --------------------------------------------------------------------


async def send_batch(
    sender: Sender,
    campaign_id: int,
    first_id: int,
    last_id: int,
    *,
    lease: JobLease | None = None,
) -> str:
    """Send one batch; raises for failures of the whole batch (the caller retries).

    ``lease`` is the job's hold on its worker's lease (service.queue): no message
    goes out while it is stale, and the batch gives up (LeaseLost) once it has
    expired, since another worker may have taken the batch over.
    """
    if sender.smtp is None:
        raise RuntimeError("no SMTP relay configured (CONSENTRY_SMTP_HOST)")
    await outcomes.apply_journal(sender, campaign_id, first_id, last_id)
    cursor, sent, temporary = first_id - 1, 0, 0
    while True:
        async with session_scope(sender.sessionmaker) as session:
            campaign = await session.get(Campaign, campaign_id)
            if campaign is None or campaign.status is not CampaignStatus.SENDING:
                return f"stopped: campaign is {campaign.status.value if campaign else 'gone'}"
            try:
                renderer = sender.renderer(campaign)
            except Exception as exc:
                # Checked at save, so only a template saved by an older version
                # or written into the database by hand: no retry can help.
                await pause(sender, campaign_id, f"the template cannot be used: {exc}")
                return "paused: the template cannot be used"
            await queries.skip_erased(
                session, campaign_id=campaign_id, first_id=first_id, last_id=last_id
            )
            rows = await _next_chunk(session, campaign_id, cursor, last_id)
            if not rows:
                break
            # The gate again, for exactly these rows, right before they are sent.
            gate = gate_for(campaign, sender.settings, today=clock.today(), now=clock.now())
            skips = await queries.excluded_in_range(
                session,
                gate=gate,
                campaign_id=campaign_id,
                first_id=rows[0].id,
                last_id=rows[-1].id,
            )
            await queries.mark_skipped(session, skips)
        cursor = rows[-1].id
        skipped = {rid for rid, _ in skips}
        to_send = [row for row in rows if row.id not in skipped]
        progress = _Progress(lease)
        results = await _send_all(sender, campaign, renderer, to_send, progress)
        sent += sum(1 for r in results if r.delivery.outcome is Outcome.SENT)
        temporary += await outcomes.record(sender, campaign_id, results, progress.recorded)
        if progress.stopped is not None:
            raise progress.stopped
        if await outcomes.count_failures(sender, campaign_id, results):
            return "paused: too many failures in a row"
    if temporary:
        raise TemporaryFailures(temporary)
    await finish_if_done(sender, campaign_id)
    return f"sent {sent}"


CONTACTS = Contact.__table__  # type: ignore[attr-defined]
TRACKING = ConsentState.__table__.alias("tracking")  # type: ignore[attr-defined]


async def _next_chunk(session: Any, campaign_id: int, after: int, last_id: int) -> list[Row]:
    c = CONTACTS.c
    query = (
        select(
            RECIPIENTS.c.id,
            RECIPIENTS.c.attempts,
            c.id,
            c.email,
            c.full_name,
            c.nickname,
            c.language,
            c.gender,
            c.employer,
            c.position,
            c.city,
            TRACKING.c.action,
        )
        .join(CONTACTS, c.id == RECIPIENTS.c.contact_id)
        .outerjoin(
            TRACKING,
            (TRACKING.c.contact_id == c.id)
            & (TRACKING.c.channel == Channel.EMAIL.value)
            & (TRACKING.c.purpose == Purpose.EMAIL_TRACKING.value),
        )
        .where(
            RECIPIENTS.c.campaign_id == campaign_id,
            RECIPIENTS.c.id > after,
            RECIPIENTS.c.id <= last_id,
            RECIPIENTS.c.status == RecipientStatus.QUEUED.value,
        )
        .order_by(RECIPIENTS.c.id)
        .limit(CHUNK)
    )
    rows = (await run(session, query)).all()
    return [
        Row(
            id=row[0],
            attempts=row[1],
            contact_id=row[2],
            email=row[3],
            recipient=Recipient(
                full_name=row[4],
                nickname=row[5],
                language=str(row[6]),
                gender=str(row[7]),
                employer=row[8],
                position=row[9],
                city=row[10],
            ),
            tracking=row[11] == ConsentAction.GRANT,
        )
        for row in rows
    ]


@dataclass(slots=True)
class _Progress:
    """What the connections of one chunk share."""

    lease: JobLease | None
    # Rows already written to the database as sent (the journal was down).
    recorded: set[int] = field(default_factory=set)
    # Set when the chunk must stop before its next message.
    stopped: Exception | None = None


async def _send_all(
    sender: Sender,
    campaign: Campaign,
    renderer: CampaignRenderer,
    rows: list[Row],
    progress: _Progress,
) -> list[Result]:
    """Send over as many connections as the pool has, one message each at a time.

    Each connection renders its next message only when it is free. Rendering
    the whole chunk up front would keep the event loop busy for milliseconds,
    and a relay's 250 that arrives meanwhile waits unread: that wait is the
    window in which a crash leaves a delivered message out of the journal.
    """
    pending = deque(rows)
    results: list[Result] = []

    async def connection() -> None:
        # A failure of the whole batch on one connection stops the others
        # before their next message; what was sent is recorded all the same.
        try:
            while pending and progress.stopped is None:
                results.append(
                    await _send_one(sender, campaign, renderer, pending.popleft(), progress)
                )
        except Exception as exc:
            if progress.stopped is None:
                progress.stopped = exc

    await asyncio.gather(
        *(connection() for _ in range(min(len(rows), sender.settings.send_connections)))
    )
    return results


def _failed(row: Row, reason: FailureReason, exc: BaseException) -> Result:
    """A recipient whose message could not be made: recorded as failed, the batch goes on.

    The log line names the row and the kind of error, never its text: that
    may quote the person's data."""
    logger.warning("recipient %s failed: %s (%s)", row.id, reason.value, type(exc).__name__)
    detail = f"{reason.value}: {type(exc).__name__}: {exc}"[:500]
    return Result(row, Delivery(Outcome.PERMANENT, None, detail, False), reason)


def _links(sender: Sender, campaign_id: int, row: Row) -> tuple[Links, str]:
    """The recipient's signed links, and the unsubscribe token."""
    public = sender.settings.public_url
    unsubscribe = sender.signer.sign("unsubscribe", row.contact_id, campaign_id)
    signer = sender.signer
    # Clicks of people who did not allow tracking are counted, not attributed:
    # their links carry no contact (0), and they get no open pixel.
    owner = row.contact_id if row.tracking else 0

    def click_url(index: int) -> str:
        return f"{public}/t/c/{signer.sign('click', owner, campaign_id, index)}"

    links = Links(
        unsubscribe_url=f"{public}/u/{unsubscribe}",
        preferences_url=f"{public}/p/{signer.sign('preferences', row.contact_id)}",
        click_url=click_url,
        open_pixel_url=(
            f"{public}/t/o/{signer.sign('open', row.contact_id, campaign_id)}.gif"
            if row.tracking
            else None
        ),
        stop_tracking_url=f"{public}/u/{unsubscribe}?only=tracking" if row.tracking else None,
    )
    return links, unsubscribe


async def _send_one(
    sender: Sender,
    campaign: Campaign,
    renderer: CampaignRenderer,
    row: Row,
    progress: _Progress,
) -> Result:
    assert sender.smtp is not None
    assert campaign.id is not None
    campaign_id = campaign.id
    # One person's data must not stop the others: whatever goes wrong making
    # this message is this recipient's outcome.
    try:
        links, unsubscribe = _links(sender, campaign_id, row)
    except Exception as exc:
        return _failed(row, FailureReason.UNEXPECTED_ERROR, exc)
    try:
        rendered = renderer.render(row.recipient, links)
    except Exception as exc:
        return _failed(row, FailureReason.RENDER_ERROR, exc)
    try:
        message = build_message(
            rendered,
            mail_from=sender.settings.mail_from,
            to=row.email,
            message_id=(
                f"<c{campaign_id}.r{row.id}."
                f"{sender.signer.message_tag(campaign_id, row.id, campaign.message_key)}"
                f"@{sender.domain}>"
            ),
            list_id=f"<campaign-{campaign_id}.{sender.domain}>",
            unsubscribe_url=links.unsubscribe_url,
            unsubscribe_mailto=(
                f"mailto:{sender.settings.unsubscribe_address}?subject=unsubscribe%20{unsubscribe}"
            ),
        )
    except Exception as exc:
        reason = (
            FailureReason.ADDRESS_NOT_DELIVERABLE
            if not deliverable(row.email)
            else FailureReason.RENDER_ERROR
        )
        return _failed(row, reason, exc)
    lease = progress.lease
    if lease is not None and not lease.fresh():
        # Stalled past FRESH_SECONDS: wait for a renewal, or give up the batch
        # (LeaseLost) if another worker may have taken it meanwhile.
        await lease.confirm()
    # The envelope sender is where delivery reports go: the inbound listener.
    # (The pool returns every outcome about the recipient; what it raises is
    # about our side, the sender address or the pool, and stops the batch.)
    delivery = await sender.smtp.send(
        sender=sender.settings.bounce_address, recipient=row.email, message=message
    )
    if delivery.outcome is Outcome.SENT:
        # The journal write comes first, before any other await: it is what
        # keeps a crash from mailing this person twice.
        try:
            await outcomes.redis_command(
                sender.redis, "HSET", journal_key(campaign_id), row.id, time.time()
            )
        except (RedisError, OSError) as exc:
            await outcomes.record_sent_now(sender, row.id)
            progress.recorded.add(row.id)
            if progress.stopped is None:
                logger.error("Redis failed after a delivery; recorded it and stopped the batch")
                progress.stopped = QueueUnavailable(f"Redis failed: {type(exc).__name__}")
        return Result(row, delivery)
    if delivery.relay_unavailable:
        # Not this recipient's fault: stop the batch and keep them queued, so
        # that a relay outage costs nobody their tries.
        if progress.stopped is None:
            progress.stopped = RelayUnavailable(f"the relay is unavailable: {delivery.reply}")
        return Result(row, delivery)
    if delivery.outcome is Outcome.PERMANENT:
        # No reply code: refused before the relay said anything about it, as a
        # non-ASCII address is by a relay without SMTPUTF8.
        failure = (
            FailureReason.ADDRESS_NOT_DELIVERABLE
            if delivery.code is None
            else FailureReason.REJECTED
        )
        return Result(row, delivery, failure)
    return Result(row, delivery)


def deliverable(address: str) -> bool:
    """Whether an address can be put on an SMTP command line at all."""
    return bool(address) and not HEADER_UNSAFE.search(address) and "@" in address
