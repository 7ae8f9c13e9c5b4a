"""One-click unsubscribes (RFC 8058) written together: a group commit.

After a large campaign, mailbox providers' one-click buttons arrive in
bursts. Written one request per transaction, each spent about ten round
trips to the database and SQLite took one writer at a time, so the route
answered ~150 requests/s with a p99 of 0.4 s (BENCHMARKS.md). Here the
requests that arrive while a transaction is being written wait for it to end
and are then written together in the next one: a handful of statements for
the whole batch. No request waits for a timer; at low load a batch is one
request.

The guarantees are those of ``unsubscribe.unsubscribe``: a request is
answered only after its withdrawal is committed; the person's row is locked
before their state is read, so however many copies arrive at once (in one
batch, in batches of two API processes) one withdrawal is recorded; a
person already withdrawn gets nothing new. A batch that fails is written
again one request at a time (service.batching), so one bad request fails
alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlmodel import col

from service import clock
from service.batching import GroupWriter
from service.consent import service as consent_service
from service.db import SessionMaker, run, session_scope
from service.ip import truncate_ip
from service.models import Campaign, ConsentState, Contact
from service.models.enums import (
    Actor,
    CampaignChannel,
    CaptureMethod,
    Channel,
    ConsentAction,
    Purpose,
    Source,
)

# Enough to cover a burst from every connection of a few API clients; the
# statements' parameters stay well under SQLite's limit of 32,766.
MAX_BATCH = 500


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """One request: leave marketing on the channel of the message of
    ``campaign_id`` that carried the link (``sms``: an SMS's compact token,
    bound to SMS whatever the campaign)."""

    contact_id: int
    campaign_id: int
    sms: bool
    ip: str | None  # the caller's address; stored cut to its network


class OneClickWriter:
    """Withdrawals written in batches (service.batching); one per API process
    (``app.state.one_click``, made in the app's lifespan)."""

    def __init__(self, sessionmaker: SessionMaker) -> None:
        self._sessionmaker = sessionmaker
        self._group: GroupWriter[Withdrawal, str | None] = GroupWriter(
            self._write, max_batch=MAX_BATCH
        )

    async def withdraw(self, withdrawal: Withdrawal) -> str | None:
        """Record the withdrawal and return the person's language once it is
        committed; None when there is no such contact (erased)."""
        return await self._group.submit(withdrawal)

    async def close(self) -> None:
        """Let the batch being written, and any waiting, finish."""
        await self._group.close()

    async def _write(self, batch: list[Withdrawal]) -> list[str | None]:
        async with session_scope(self._sessionmaker) as session:
            languages = await write_batch(session, batch)
        return [languages.get(item.contact_id) for item in batch]


async def write_batch(session: Any, batch: list[Withdrawal]) -> dict[int, str]:
    """Withdraw direct-marketing consent on each withdrawal's channel, in
    one transaction: lock the people, read their states, append an event
    for each not withdrawn yet. Returns the language of each contact that
    exists."""
    people = sorted({item.contact_id for item in batch})
    languages = await _lock(session, people)
    sms_campaigns = await _sms_campaigns(session, {item.campaign_id for item in batch})
    done = {
        (contact_id, Channel(channel))
        for contact_id, channel in (
            await run(
                session,
                select(col(ConsentState.contact_id), col(ConsentState.channel)).where(
                    col(ConsentState.contact_id).in_(people),
                    col(ConsentState.purpose) == Purpose.DIRECT_MARKETING.value,
                    col(ConsentState.action) == ConsentAction.WITHDRAW.value,
                ),
            )
        ).all()
    }
    now = clock.now()
    events: list[dict[str, Any]] = []
    for item in batch:
        channel = Channel.SMS if item.sms or item.campaign_id in sms_campaigns else Channel.EMAIL
        if item.contact_id not in languages or (item.contact_id, channel) in done:
            continue
        done.add((item.contact_id, channel))  # the first copy of a request is recorded
        events.append(
            {
                "contact_id": item.contact_id,
                "channel": channel,
                "purpose": Purpose.DIRECT_MARKETING,
                "action": ConsentAction.WITHDRAW,
                "source": Source.SELF,
                "method": CaptureMethod.ONE_CLICK,
                "evidence_text": None,
                "notice_version": None,
                "evidence_ip": _network(item.ip),
                "campaign_id": item.campaign_id,
                "actor": Actor.PUBLIC_LINK,
                "recorded_by_user_id": None,
                "occurred_at": now,
            }
        )
    await consent_service.record_many(session, events)
    return languages


async def _sms_campaigns(session: Any, campaign_ids: set[int]) -> set[int]:
    """Which of the campaigns are SMS campaigns: their links withdraw SMS
    consent; any other's (or a campaign since deleted) email."""
    rows = await run(
        session,
        select(col(Campaign.id)).where(
            col(Campaign.id).in_(campaign_ids), col(Campaign.channel) == CampaignChannel.SMS.value
        ),
    )
    return set(rows.scalars().all())


async def _lock(session: Any, people: list[int]) -> dict[int, str]:
    """Lock the people's rows for the rest of the transaction, as
    ``consent_service.lock_person`` does for one, and return each existing
    one's language. PostgreSQL locks the rows in id order (two API
    processes' batches never wait on each other in a circle); SQLite has one
    writer at a time, so any write takes its lock for every row: an UPDATE
    that changes nothing, on one row, where an UPDATE of every row cost ~2.5
    ms a batch in foreign-key checks."""
    people_and_languages = select(col(Contact.id), col(Contact.language)).where(
        col(Contact.id).in_(people)
    )
    if session.get_bind().dialect.name == "postgresql":
        people_and_languages = people_and_languages.order_by(col(Contact.id)).with_for_update()
    else:
        await run(
            session,
            update(Contact).where(col(Contact.id) == people[0]).values(id=col(Contact.id)),
        )
    rows = await run(session, people_and_languages)
    return {contact_id: str(language) for contact_id, language in rows.all()}


def _network(ip: str | None) -> str | None:
    if ip is None:
        return None
    try:
        return truncate_ip(ip)
    except ValueError:
        return None
