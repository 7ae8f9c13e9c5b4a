"""Sending a campaign: the work the queue jobs do.

``start`` builds the send list once (one ``INSERT … SELECT`` through the
consent gate) and queues one job per batch, each with a deterministic id.
``send_batch`` runs one batch through the delivery layer's loop
(service.delivery.batch): ``CampaignBatch`` is the campaign's side of it. It
hands over the batch's queued recipients chunk by chunk, re-applying the gate
to each chunk right before sending (whoever was banned, unsubscribed or
restricted since the list was built is skipped with the reason), makes each
recipient's message, and records what happened (service.campaigns.outcomes).

Exactly once: the moment a relay accepts a message, before anything else is
awaited, the recipient goes into the journal (service.delivery.journal). What
remains is the window between the relay writing its 250 and that journal
write reaching Redis: the read of the reply and one Redis round trip
(measured about 0.3 ms at the median under full load; see the README). A
worker killed inside that window leaves a message the relay took but the
journal missed; it is sent again, with the same Message-ID, so receivers that
de-duplicate on it show it once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from arq.connections import ArqRedis
from sqlalchemy import select, update
from sqlmodel import col

from service import clock, queue
from service.campaigns import email, outcomes, queries, sms
from service.campaigns.outcomes import Row, finish_if_done, journal_key, pause
from service.campaigns.service import gate_for, renderer_for
from service.consent.queries import eligible_among, tracking_context
from service.crypto import DataCipher
from service.db import SessionMaker, run, session_scope
from service.delivery import batch, dkim
from service.delivery.batch import Chunk, Result, Stopped
from service.delivery.email import EmailMessenger
from service.delivery.journal import Journal
from service.delivery.messenger import Messenger, Outgoing
from service.delivery.sms import SmsMessenger
from service.delivery.smtp import SmtpPool
from service.delivery.throttle import DomainThrottle
from service.labels import N_
from service.mail.render import CampaignRenderer
from service.mail.sms import SmsRenderer
from service.mail.views import Recipient
from service.models import Campaign, CampaignRecipient, Contact
from service.models.enums import (
    CampaignChannel,
    CampaignStatus,
    RecipientStatus,
)
from service.queue import JobLease
from service.settings import Settings
from service.tokens import TokenSigner

logger = logging.getLogger(__name__)

CHUNK = 250
RECIPIENTS = CampaignRecipient.__table__  # type: ignore[attr-defined]


@dataclass
class Sender:
    """What a worker process keeps for sending: built once, shared by its jobs."""

    settings: Settings
    sessionmaker: SessionMaker
    redis: ArqRedis
    smtp: SmtpPool | None
    signer: TokenSigner
    cipher: DataCipher
    # Per receiving domain limits, shared by the worker's jobs (None: none).
    throttle: DomainThrottle | None = None
    # The SMS gateway's messenger (service.delivery.sms); None: not configured.
    sms: SmsMessenger | None = None
    _renderers: dict[int, tuple[datetime, CampaignRenderer | SmsRenderer]] = field(
        default_factory=dict
    )

    @property
    def domain(self) -> str:
        return self.settings.mail_from_address.rpartition("@")[2]

    @property
    def messenger(self) -> EmailMessenger:
        """Campaign mail's way out; its envelope sender, where delivery
        reports go, is the inbound listener's bounce address."""
        if self.smtp is None:
            raise RuntimeError(N_("no SMTP relay configured (CONSENTRY_SMTP_HOST)"))
        return EmailMessenger(
            self.smtp,
            envelope_from=self.settings.bounce_address,
            signer=dkim.signer_from_settings(self.settings),
        )

    def messenger_for(self, channel: CampaignChannel) -> Messenger:
        """The way out of a campaign's channel: the SMTP pool or the SMS gateway."""
        if channel is not CampaignChannel.SMS:
            return self.messenger
        if self.sms is None:
            raise RuntimeError(N_("no SMS gateway configured (CONSENTRY_SMS_GATEWAY_URL)"))
        return self.sms

    def renderer(self, campaign: Campaign) -> CampaignRenderer | SmsRenderer:
        assert campaign.id is not None
        cached = self._renderers.get(campaign.id)
        if cached is None or cached[0] != campaign.updated_at:
            make = sms.renderer_for if campaign.channel is CampaignChannel.SMS else renderer_for
            cached = (campaign.updated_at, make(campaign, self.settings))
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
    async with session_scope(sender.sessionmaker) as session:
        campaign = await session.get(Campaign, campaign_id)
        channel = campaign.channel if campaign is not None else CampaignChannel.EMAIL
    messenger = sender.messenger_for(channel)
    send_list = CampaignBatch(sender, campaign_id, first_id, last_id)
    # Receiving domains are an email matter; the SMS gateway has its own concurrency.
    throttle = sender.throttle if channel is not CampaignChannel.SMS else None
    return await batch.run(send_list, messenger, first_id=first_id, lease=lease, throttle=throttle)


class CampaignBatch:
    """One batch of a campaign's recipients, as the delivery loop sees it
    (service.delivery.batch.SendList)."""

    def __init__(self, sender: Sender, campaign_id: int, first_id: int, last_id: int) -> None:
        self.sender = sender
        self.campaign_id = campaign_id
        self.first_id = first_id
        self.last_id = last_id
        self.journal = Journal(sender.redis, journal_key(campaign_id))
        self._campaign: Campaign | None = None
        self._renderer: CampaignRenderer | SmsRenderer | None = None

    async def queued(self) -> list[int]:
        return await outcomes.queued(self.sender, self.campaign_id, self.first_id, self.last_id)

    async def mark_delivered(self, delivered: dict[int, datetime]) -> None:
        await outcomes.mark_delivered(self.sender, delivered)

    async def next_chunk(self, after: int) -> Chunk[Row] | None:
        sender, campaign_id = self.sender, self.campaign_id
        async with session_scope(sender.sessionmaker) as session:
            campaign = await session.get(Campaign, campaign_id)
            if campaign is None or campaign.status is not CampaignStatus.SENDING:
                raise Stopped(
                    f"stopped: campaign is {campaign.status.value if campaign else 'gone'}"
                )
            try:
                renderer = sender.renderer(campaign)
            except Exception as exc:
                # Checked at save, so only a template saved by an older version
                # or written into the database by hand: no retry can help.
                await pause(sender, campaign_id, f"the template cannot be used: {exc}")
                raise Stopped("paused: the template cannot be used") from None
            await queries.skip_erased(
                session, campaign_id=campaign_id, first_id=self.first_id, last_id=self.last_id
            )
            rows = await _next_chunk(session, campaign_id, after, self.last_id, clock.today())
            if not rows:
                return None
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
            if campaign.channel is CampaignChannel.SMS:
                rows = await sms.with_phones(session, rows)
        self._campaign, self._renderer = campaign, renderer
        skipped = {rid for rid, _ in skips}
        return Chunk([row for row in rows if row.id not in skipped], rows[-1].id)

    def prepare(self, row: Row) -> Outgoing:
        assert self._campaign is not None
        assert self._renderer is not None
        if isinstance(self._renderer, SmsRenderer):
            return sms.prepare(self.sender, self._campaign, self._renderer, row)
        return email.prepare(self.sender, self._campaign, self._renderer, row)

    async def record(self, results: Sequence[Result[Row]], recorded: set[int]) -> int:
        results = sms.as_recorded(self._campaign, results)
        return await outcomes.record(self.sender, self.campaign_id, results, recorded)

    async def record_sent_now(self, row_id: int) -> None:
        await outcomes.record_sent_now(self.sender, row_id)

    async def after_chunk(self, results: Sequence[Result[Row]]) -> str | None:
        results = sms.as_recorded(self._campaign, results)
        if await outcomes.count_failures(self.sender, self.campaign_id, results):
            return "paused: too many failures in a row"
        return None

    async def finish(self) -> None:
        await finish_if_done(self.sender, self.campaign_id)


CONTACTS = Contact.__table__  # type: ignore[attr-defined]


async def _next_chunk(
    session: Any, campaign_id: int, after: int, last_id: int, today: date
) -> list[Row]:
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
        )
        .join(CONTACTS, c.id == RECIPIENTS.c.contact_id)
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
    # Opens and clicks are tied to the person only where the gate allows tracking.
    tracked = await eligible_among(session, tracking_context(today), {row[2] for row in rows})
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
            tracking=row[2] in tracked,
        )
        for row in rows
    ]
