"""A deterministic, realistic contact register for the benchmarks, written in bulk.

Every contact is drawn from ``random.Random(seed)``, so two runs with the same
N and seed hold the same data. The mix (shares of N, drawn independently, so a
few contacts are in more than one group):

* email direct-marketing consent: ~60 % granted, ~10 % granted then withdrawn
  (both as consent_events with the consent_states row pointing at the latest),
  the rest of the people none; some SMS and email-tracking consents beside;
* ~5 % an active direct-marketing ban (channel ``all`` or ``email``), plus
  lifted bans and purchase-registration bans that must not count;
* ~2 % restricted, ~1 % objected;
* ~5 % beyond retention (last service contact 6-8 years ago); a few with no
  service contact yet, recorded recently;
* ~3 % business contacts, without consent;
* ~25 % customers (``is_customer``: soft opt-in), ~2 % without an email
  address, ~0.5 % of the email addresses on the suppression list;
* languages ~85 % fi, ~10 % sv, ~5 % en; zero to three ordinary tags each.

A fixed subset, every k-th contact, is tagged ``bench`` (at most
``send_contacts`` of them) and every tenth of those also ``bench-small``:
the send runs use them as their segment, so a run stays short when N is large.

Rows go in chunks, one transaction a chunk, with explicit ids (PostgreSQL's
sequences are moved past them after): on PostgreSQL by ``COPY`` (asyncpg's
``copy_records_to_table``), on SQLite with SQLAlchemy Core ``executemany``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from service import clock
from service.crypto import DataCipher
from service.models import Ban, ConsentEvent, ConsentState, Contact, ContactTag, Suppression

CHUNK = 20_000
BENCH_TAG = "bench"
SMALL_TAG = "bench-small"
TAGS = ("newsletter", "events", "webinar", "vip", "b2b", "retail", "spring-2026", "loyalty")

FIRST_NAMES = {
    "fi": (
        "Aino", "Eino", "Helmi", "Väinö", "Matti", "Maija", "Juha", "Sanna", "Mikko", "Laura",
        "Jussi", "Anna", "Timo", "Kaisa", "Pekka", "Riikka", "Ville", "Elina", "Antti", "Satu",
    ),
    "sv": ("Erik", "Karin", "Lars", "Ingrid", "Johan", "Astrid", "Nils", "Sofia"),
    "en": ("John", "Emma", "Oliver", "Grace", "Daniel", "Chloe"),
}  # fmt: skip
LAST_NAMES = (
    "Virtanen", "Korhonen", "Mäkinen", "Nieminen", "Mäkelä", "Hämäläinen", "Laine", "Heikkinen",
    "Koskinen", "Järvinen", "Lindqvist", "Nyström", "Lehtonen", "Saarinen", "Salminen", "Smith",
)  # fmt: skip
CITIES = (("Helsinki", "00100"), ("Espoo", "02100"), ("Tampere", "33100"), ("Turku", "20100"),
          ("Oulu", "90100"), ("Vaasa", "65100"), ("Porvoo", "06100"))  # fmt: skip
_ASCII = str.maketrans({"ä": "a", "ö": "o", "å": "a", "Ä": "A", "Ö": "O", "Å": "A"})


@dataclass
class SeedStats:
    contacts: int = 0
    consent_events: int = 0
    consent_states: int = 0
    bans: int = 0
    tags: int = 0
    suppressions: int = 0
    bench_tagged: int = 0
    small_tagged: int = 0
    seconds: float = 0.0
    groups: dict[str, int] = field(default_factory=dict)

    def count(self, group: str) -> None:
        self.groups[group] = self.groups.get(group, 0) + 1


@dataclass
class _Chunk:
    contacts: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    states: list[dict[str, Any]] = field(default_factory=list)
    bans: list[dict[str, Any]] = field(default_factory=list)
    tags: list[dict[str, Any]] = field(default_factory=list)
    suppressions: list[dict[str, Any]] = field(default_factory=list)


class Generator:
    """Draws the register contact by contact; ids are explicit and dense."""

    def __init__(
        self, n: int, *, seed: int, data_key: str, send_contacts: int, small_contacts: int
    ) -> None:
        self.n = n
        self.rng = random.Random(seed)
        self.cipher = DataCipher(data_key)
        self.now = clock.now()
        self.today = clock.today()
        self.event_id = 0
        self.ban_id = 0
        self.suppression_id = 0
        self.stats = SeedStats()
        # Every k-th contact is in the send segment, at most send_contacts of them.
        self.bench_limit = min(send_contacts, n) if send_contacts > 0 else 0
        self.stride = max(1, n // self.bench_limit) if self.bench_limit else 0
        self.small_limit = min(small_contacts, self.bench_limit)
        self.small_every = max(1, self.bench_limit // self.small_limit) if self.small_limit else 0

    def chunks(self, size: int = CHUNK) -> Iterator[_Chunk]:
        chunk = _Chunk()
        for contact_id in range(1, self.n + 1):
            self._contact(contact_id, chunk)
            if len(chunk.contacts) >= size:
                yield chunk
                chunk = _Chunk()
        if chunk.contacts:
            yield chunk

    def _days_ago(self, low: int, high: int) -> date:
        return self.today - timedelta(days=self.rng.randint(low, high))

    def _moment(self, days_back: int) -> datetime:
        return self.now - timedelta(seconds=self.rng.randint(0, days_back * 86_400))

    def _contact(self, cid: int, chunk: _Chunk) -> None:
        rng, stats = self.rng, self.stats
        u = rng.random()
        language = "fi" if u < 0.85 else "sv" if u < 0.95 else "en"
        first = rng.choice(FIRST_NAMES[language])
        last = rng.choice(LAST_NAMES)
        business = rng.random() < 0.03
        customer = rng.random() < 0.25
        email: str | None = f"{first}.{last}.{cid}@example.fi".translate(_ASCII).lower()
        if rng.random() < 0.02:
            email = None
            stats.count("no_email")
        phone = f"+35840{rng.randrange(10**7):07d}" if rng.random() < 0.7 else None
        city, postal = rng.choice(CITIES)
        u = rng.random()
        last_contact: date | None
        if u < 0.05:
            last_contact = self._days_ago(6 * 365, 8 * 365)  # beyond the 5-year retention
            recorded = self.now - timedelta(days=9 * 365)
            stats.count("beyond_retention")
        elif u < 0.08:
            last_contact = None  # nothing yet: the day of recording starts the clock
            recorded = self._moment(3 * 365)
        else:
            last_contact = self._days_ago(0, 4 * 365)
            recorded = self._moment(10 * 365)
        restricted = self._moment(200) if rng.random() < 0.02 else None
        objected = self._moment(200) if rng.random() < 0.01 else None
        for group, member in (
            ("restricted", restricted),
            ("objected", objected),
            ("business", business),
            ("customer", customer),
        ):
            if member:
                stats.count(group)
        chunk.contacts.append(
            {
                "id": cid,
                "full_name": f"{first} {last}",
                "nickname": first[:3] if rng.random() < 0.1 else None,
                "email": email,
                "email_hash": self.cipher.lookup_hash("email", email) if email else None,
                "phone": phone,
                "phone_hash": self.cipher.lookup_hash("phone", phone) if phone else None,
                "customer_number": f"C{cid:08d}" if customer else None,
                "employer": f"Yritys {cid % 997} Oy" if business else None,
                "position": "Hankintapäällikkö" if business else None,
                "street_address": f"Katu {cid % 200 + 1}" if rng.random() < 0.6 else None,
                "postal_code": postal,
                "city": city,
                "country": "FI",
                "language": language,
                "gender": rng.choice(("female", "male", "other", "unspecified")),
                "contact_type": "business" if business else "person",
                "legal_basis": "customer_relationship" if customer else "consent",
                "source": rng.choice(("self", "self", "import", "activity")),
                "is_customer": customer,
                "last_service_contact_at": last_contact,
                "restricted_at": restricted,
                "objected_at": objected,
                "recorded_at": recorded,
                "updated_at": self.now,
            }
        )
        stats.contacts += 1
        self._consents(cid, business, chunk)
        self._bans(cid, chunk)
        self._tags(cid, chunk)
        if email and rng.random() < 0.005:
            self.suppression_id += 1
            chunk.suppressions.append(
                {
                    "id": self.suppression_id,
                    "value_hash": self.cipher.lookup_hash("email", email),
                    "kind": "email",
                    "reason": rng.choice(("bounce", "unsubscribe")),
                    "created_at": self._moment(365),
                }
            )
            stats.count("suppressed")

    def _consents(self, cid: int, business: bool, chunk: _Chunk) -> None:
        rng = self.rng
        u = rng.random()
        # Email direct marketing: ~60 % granted, ~10 % withdrawn; business contacts none.
        email_dm = None if business else "grant" if u < 0.6 else "withdraw" if u < 0.7 else None
        if email_dm:
            self.stats.count(f"email_{email_dm}")
        wanted = [("email", "direct_marketing", email_dm)]
        if rng.random() < 0.2:
            wanted.append(("sms", "direct_marketing", "grant"))
        if email_dm == "grant" and rng.random() < 0.25:
            wanted.append(("email", "email_tracking", "grant"))
        for channel, purpose, final in wanted:
            if final is None:
                continue
            actions = ["grant"] if final == "grant" else ["grant", "withdraw"]
            when = self._moment(3 * 365)
            for action in actions:
                self.event_id += 1
                chunk.events.append(
                    {
                        "id": self.event_id,
                        "contact_id": cid,
                        "channel": channel,
                        "purpose": purpose,
                        "action": action,
                        "source": "self",
                        "method": "web_form" if action == "grant" else "one_click",
                        "evidence_text": "Haluan tarjouksia sähköpostitse"
                        if action == "grant"
                        else None,
                        "notice_version": "2026-01",
                        "evidence_ip": "203.0.113.0/24",
                        "actor": "public_link" if action == "withdraw" else "staff",
                        "occurred_at": when,
                    }
                )
                when = min(self.now, when + timedelta(days=rng.randint(1, 300)))
            chunk.states.append(
                {
                    "contact_id": cid,
                    "channel": channel,
                    "purpose": purpose,
                    "action": final,
                    "event_id": self.event_id,
                    "updated_at": when,
                }
            )
            self.stats.consent_states += 1
        self.stats.consent_events = self.event_id

    def _bans(self, cid: int, chunk: _Chunk) -> None:
        rng = self.rng
        u = rng.random()
        bans: list[tuple[str, str, bool]] = []  # (kind, channel, lifted)
        if u < 0.05:
            channel = "all" if rng.random() < 0.6 else "email"
            bans.append(("direct_marketing", channel, False))
            self.stats.count(f"ban_{channel}")
        elif u < 0.06:
            bans.append(("direct_marketing", "all", True))  # lifted: must not count
        elif u < 0.07:
            bans.append(("purchase_registration", "all", False))  # not a marketing ban
        elif u < 0.08:
            bans.append(("direct_marketing", "phone", False))  # another channel
        for kind, channel, lifted in bans:
            self.ban_id += 1
            recorded = self._moment(2 * 365)
            chunk.bans.append(
                {
                    "id": self.ban_id,
                    "contact_id": cid,
                    "kind": kind,
                    "channel": channel,
                    "source": "self",
                    "method": "phone_call",
                    "note": "asked on the phone",
                    "actor": "staff",
                    "recorded_at": recorded,
                    "lifted_at": recorded + timedelta(days=30) if lifted else None,
                    "lift_note": "asked to hear from us again" if lifted else None,
                }
            )

    def _tags(self, cid: int, chunk: _Chunk) -> None:
        rng = self.rng
        tags = set(rng.sample(TAGS, rng.choice((0, 0, 1, 1, 2, 3))))
        if self.stride and cid % self.stride == 0 and self.stats.bench_tagged < self.bench_limit:
            tags.add(BENCH_TAG)
            self.stats.bench_tagged += 1
            if (
                self.small_every
                and self.stats.bench_tagged % self.small_every == 0
                and self.stats.small_tagged < self.small_limit
            ):
                tags.add(SMALL_TAG)
                self.stats.small_tagged += 1
        chunk.tags.extend({"contact_id": cid, "tag": tag} for tag in sorted(tags))


async def _copy(engine: AsyncEngine, tables: list[tuple[str, list[dict[str, Any]]]]) -> None:
    """COPY each table's rows, in one transaction: several times the rate of an
    executemany of INSERTs, which matters at a million contacts."""
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        async with driver.transaction():
            for table, rows in tables:
                columns = list(rows[0])
                await driver.copy_records_to_table(
                    table, columns=columns, records=[tuple(r[c] for c in columns) for r in rows]
                )


async def seed(
    engine: AsyncEngine,
    n: int,
    *,
    seed: int,
    data_key: str,
    send_contacts: int,
    small_contacts: int,
    progress: Any = None,
) -> SeedStats:
    """Write the register; returns what was written (``seconds`` excludes nothing)."""
    started = time.perf_counter()
    generator = Generator(
        n,
        seed=seed,
        data_key=data_key,
        send_contacts=send_contacts,
        small_contacts=small_contacts,
    )
    stats = generator.stats
    tables = (
        (Contact, "contacts"),
        (ConsentEvent, "events"),
        (ConsentState, "states"),
        (Ban, "bans"),
        (ContactTag, "tags"),
        (Suppression, "suppressions"),
    )
    for chunk in generator.chunks():
        batches = [(model, getattr(chunk, name)) for model, name in tables]
        if engine.dialect.name == "postgresql":
            await _copy(engine, [(str(m.__tablename__), rows) for m, rows in batches if rows])
        else:
            async with engine.begin() as connection:
                for model, rows in batches:
                    if rows:
                        await connection.execute(insert(model), rows)
        stats.bans += len(chunk.bans)
        stats.tags += len(chunk.tags)
        stats.suppressions += len(chunk.suppressions)
        if progress is not None:
            progress(stats.contacts, time.perf_counter() - started)
    if engine.dialect.name == "postgresql":
        async with engine.begin() as connection:
            for table in ("contacts", "consent_events", "bans", "suppressions"):
                await connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
                    )
                )
        # What autovacuum would soon do after a bulk load (statistics, and the
        # visibility map that index-only scans need); the service never runs
        # ANALYZE itself, so SQLite is left without statistics.
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("VACUUM ANALYZE"))
    stats.seconds = time.perf_counter() - started
    return stats
