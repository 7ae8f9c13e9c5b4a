"""The engagement write path: reduce at the edge, queue in Redis, store in batches.

An open or click must be answered at once, even in the burst right after a
campaign goes out, so the HTTP endpoint only calls ``publish``: one XADD of
already reduced fields. A worker ``drain``s the stream into the database, a
whole batch per INSERT, through a consumer group, so that:

* an entry read but not stored (the worker died) stays pending for its
  consumer, which re-reads it first on restart, and entries of a consumer that
  never comes back are claimed by another once they have been idle a while;
* an entry stored but not acknowledged (the worker died between commit and
  XACK) is read again, and the insert skips it by its stream id.

The consent check happens when the batch is stored, through the consent gate
for email tracking (a granted consent, no restriction, objection or ban), so a
withdrawal stops storage even for events already queued. The same statement
names the grant each contact passed on, and each row stores its id
(``consent_event_id``, GDPR 7(1)); a page view also names the website
analytics grant it was accepted under (``site_consent_event_id``), which the
endpoint found and queued with it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from weakref import WeakKeyDictionary, ref

from redis.asyncio import Redis
from redis.exceptions import ResponseError
from redis.typing import EncodableT, FieldT
from sqlalchemy import select
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.batching import GroupWriter
from service.consent.queries import consents_relied_on, eligible_among, tracking_context
from service.db import SessionMaker, insert_ignore_many, run, session_scope
from service.ip import DEFAULT_V4_PREFIX, DEFAULT_V6_PREFIX, truncate_ip
from service.models import Campaign, EngagementEvent
from service.models.engagement import EngagementKind
from service.tracking.useragent import describe, reduce_url

logger = logging.getLogger(__name__)

STREAM = "consentry:engagement"
GROUP = "ingest"
# A safety valve, not retention: if no worker drains for a long time, Redis
# memory stays bounded and the oldest events are lost instead of the server.
STREAM_MAXLEN = 1_000_000
# An entry pending this long belongs to a consumer that died: a live one
# stores and acknowledges a batch in well under a second.
CLAIM_IDLE_MS = 60_000
# One INSERT carries every row of a batch; ~16 bind parameters a row must stay
# under SQLite's and asyncpg's limit of 32,766.
MAX_BATCH = 2000

Entry = tuple[str, Mapping[str, str]]


# Events published at once go to the stream in one pipeline (service.batching).
_writers: WeakKeyDictionary[Redis, GroupWriter[dict[FieldT, EncodableT], None]] = (
    WeakKeyDictionary()
)


def _stream_writer(redis: Redis) -> GroupWriter[dict[FieldT, EncodableT], None]:
    writer = _writers.get(redis)
    if writer is None:
        client = ref(redis)  # the writer must not keep its client alive

        async def add(entries: list[dict[FieldT, EncodableT]]) -> list[None]:
            redis = client()
            if redis is None:
                raise ConnectionError("the Redis client was closed")
            async with redis.pipeline(transaction=False) as pipe:
                for entry in entries:
                    pipe.xadd(STREAM, entry, maxlen=STREAM_MAXLEN, approximate=True)
                await pipe.execute()
            return [None] * len(entries)

        writer = _writers[redis] = GroupWriter(add, max_batch=500)
    return writer


async def publish(
    redis: Redis,
    *,
    kind: EngagementKind,
    contact_id: int | None,
    campaign_id: int | None,
    link_index: int | None = None,
    page: str | None = None,
    referrer: str | None = None,
    next_page: str | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
    v4_prefix: int = DEFAULT_V4_PREFIX,
    v6_prefix: int = DEFAULT_V6_PREFIX,
    site_consent_event_id: int | None = None,
) -> None:
    """Queue one event, reduced before it leaves the process: the full IP
    address and the raw user agent never reach Redis. A page view carries
    the website analytics grant it was accepted under."""
    agent = describe(user_agent)
    fields: dict[str, str | int | None] = {
        "kind": EngagementKind(kind).value,
        "contact_id": contact_id,
        "campaign_id": campaign_id,
        "link_index": link_index,
        "page": reduce_url(page),
        "referrer": reduce_url(referrer),
        "next_page": reduce_url(next_page),
        "ip_network": _network(ip, v4_prefix, v6_prefix),
        "browser_family": agent.browser_family,
        "browser_major": agent.browser_major,
        "os_family": agent.os_family,
        "automated": "1" if agent.automated else "0",
        "occurred_at": clock.now().isoformat(),
        "site_consent_event_id": site_consent_event_id,
    }
    entry: dict[FieldT, EncodableT] = {
        name: str(value) for name, value in fields.items() if value is not None
    }
    await _stream_writer(redis).submit(entry)


def _network(ip: str | None, v4_prefix: int, v6_prefix: int) -> str | None:
    if not ip:
        return None
    try:
        return truncate_ip(ip, v4_prefix=v4_prefix, v6_prefix=v6_prefix)
    except ValueError:
        return None


async def ensure_group(redis: Redis) -> None:
    """Create the consumer group (and the stream) unless it exists."""
    try:
        await redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


async def drain(
    redis: Redis,
    sessionmaker: SessionMaker,
    *,
    batch: int = 1000,
    consumer: str,
    claim_idle_ms: int = CLAIM_IDLE_MS,
) -> int:
    """Store every queued event, a batch per transaction; the number stored.

    ``consumer`` must stay the same for the life of a worker process, so that
    after a restart under the same name its pending entries are its own.
    """
    count = max(1, min(batch, MAX_BATCH))
    await ensure_group(redis)
    stored = 0
    # This consumer's pending entries first: read before a crash, not acknowledged.
    cursor = "0"
    while entries := await _read(redis, consumer, cursor, count):
        stored += await _store_and_ack(redis, sessionmaker, entries)
        cursor = entries[-1][0]
    # Then entries stranded by consumers that died.
    start = "0-0"
    while True:
        start, entries = await _claim(redis, consumer, start, count, claim_idle_ms)
        if entries:
            stored += await _store_and_ack(redis, sessionmaker, entries)
        if start == "0-0":
            break
    # Then new entries, until the stream is empty.
    while entries := await _read(redis, consumer, ">", count):
        stored += await _store_and_ack(redis, sessionmaker, entries)
    return stored


async def _read(redis: Redis, consumer: str, cursor: str, count: int) -> list[Entry]:
    response = await redis.xreadgroup(GROUP, consumer, {STREAM: cursor}, count=count)
    if not response:
        return []
    [[_stream, raw]] = response
    return list(_decode(raw))


async def _claim(
    redis: Redis, consumer: str, start: str, count: int, idle_ms: int
) -> tuple[str, list[Entry]]:
    next_start, raw, *_deleted = await redis.xautoclaim(
        STREAM, GROUP, consumer, min_idle_time=idle_ms, start_id=start, count=count
    )
    return _text(next_start), list(_decode(raw))


def _decode(raw: Iterable[tuple[Any, Any]]) -> Iterable[Entry]:
    for entry_id, fields in raw:
        # Redis 6.2 reports an entry trimmed away while pending as (nil, nil)
        # from XAUTOCLAIM; nothing is left to store or to acknowledge.
        if entry_id is not None:
            yield _text(entry_id), {_text(k): _text(v) for k, v in (fields or {}).items()}


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def _store_and_ack(redis: Redis, sessionmaker: SessionMaker, entries: list[Entry]) -> int:
    async with session_scope(sessionmaker) as session:
        stored = await store(session, entries)
    # Only after the commit: a crash before this line leaves the entries
    # pending, and storing them again inserts nothing twice.
    ids = [entry_id for entry_id, _fields in entries]
    await redis.xack(STREAM, GROUP, *ids)
    # The stream has one consumer group, so an acknowledged entry is done with.
    await redis.xdel(STREAM, *ids)
    return stored


async def store(session: AsyncSession, entries: Sequence[Entry]) -> int:
    """Insert the storable events of a batch in one statement; the number inserted.

    Dropped: events of contacts the gate does not let be tracked, and
    malformed entries. Events without a contact are aggregate and always kept.
    An entry already stored is skipped by its stream id.
    """
    rows = [row for entry in entries if (row := _row(*entry)) is not None]
    contacts = {row["contact_id"] for row in rows if row["contact_id"] is not None}
    # Who may be tracked and the grant each relies on, in one read.
    consenting = await tracking_consents(session, contacts)
    rows = [row for row in rows if row["contact_id"] is None or row["contact_id"] in consenting]
    for row in rows:
        row["consent_event_id"] = consenting.get(row["contact_id"])
    if not rows:
        return 0
    # A campaign deleted after the event was queued would fail the foreign key
    # and with it the whole batch, again on every retry.
    campaigns = await _existing_campaigns(session, {row["campaign_id"] for row in rows})
    for row in rows:
        if row["campaign_id"] not in campaigns:
            row["campaign_id"] = None
    result = await run(session, _insert_ignore_many(session, rows))
    return int(result.rowcount)


def _row(entry_id: str, fields: Mapping[str, str]) -> dict[str, Any] | None:
    try:
        return {
            "stream_id": entry_id,
            "kind": EngagementKind(fields["kind"]),
            "contact_id": _int(fields.get("contact_id")),
            "campaign_id": _int(fields.get("campaign_id")),
            "link_index": _int(fields.get("link_index")),
            "page": fields.get("page"),
            "referrer": fields.get("referrer"),
            "next_page": fields.get("next_page"),
            "ip_network": fields.get("ip_network"),
            "browser_family": fields.get("browser_family"),
            "browser_major": fields.get("browser_major"),
            "os_family": fields.get("os_family"),
            "automated": fields.get("automated") == "1",
            "occurred_at": datetime.fromisoformat(fields["occurred_at"]),
            "site_consent_event_id": _int(fields.get("site_consent_event_id")),
        }
    except (KeyError, ValueError):
        # Not written by publish(): acknowledged and dropped, or it would
        # block the stream forever.
        logger.warning("dropping malformed engagement entry %s", entry_id)
        return None


def _int(value: str | None) -> int | None:
    return None if value is None else int(value)


async def trackable(session: AsyncSession, contact_ids: set[int]) -> set[int]:
    """The contacts the consent gate lets be tracked today: a granted
    email-tracking consent and none of the gate's other reasons (a
    restriction, an objection, a ban, retention …)."""
    return await eligible_among(session, tracking_context(clock.today()), contact_ids)


async def tracking_consents(session: AsyncSession, contact_ids: set[int]) -> dict[int, int]:
    """``trackable`` with the evidence: each trackable contact's email-tracking
    grant in force (its ledger event id), from the same gate statement."""
    relied_on = await consents_relied_on(session, tracking_context(clock.today()), contact_ids)
    # Tracking needs consent whoever the contact is: the gate passes only on a grant.
    return {contact_id: event_id for contact_id, event_id in relied_on.items() if event_id}


async def _existing_campaigns(session: AsyncSession, campaign_ids: set[int | None]) -> set[int]:
    wanted = {campaign_id for campaign_id in campaign_ids if campaign_id is not None}
    if not wanted:
        return set()
    query = select(col(Campaign.id)).where(col(Campaign.id).in_(wanted))
    return set((await run(session, query)).scalars().all())


def _insert_ignore_many(session: AsyncSession, rows: list[dict[str, Any]]) -> Any:
    table = EngagementEvent.__table__  # type: ignore[attr-defined]
    return insert_ignore_many(session, table, keys=["stream_id"], rows=rows)
