"""The hash chain: how an audit row is appended, and what its hash covers.

Each row's ``row_hash`` is the SHA-256 of its canonical form — every column
but ``row_hash`` itself, ``prev_hash`` included, as sorted, compact JSON — and
its ``prev_hash`` is the ``row_hash`` of the row before it (``GENESIS`` for
the first). Changing a row breaks its own hash; removing one breaks the link
of the row after it.

Appends are serialised: the new row needs the previous row's hash and id,
so two transactions must not read the same "previous" row. PostgreSQL takes
a transaction-level advisory lock; SQLite's first write takes the database's
write lock for the rest of the transaction, so the append writes before it
reads (an INSERT that inserts nothing), as ``consent.service.lock_person``
does for a person's row.

The functions here are synchronous on purpose: the request's audit row is
written from a ``before_commit`` hook of the ORM session (service.audit.trail),
where only synchronous calls are possible; async callers use ``append``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import false, func, insert, select
from sqlalchemy.orm import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.models.audit import AuditActor, AuditEvent

GENESIS = "0" * 64
# Any fixed 64-bit number, the same in every process: "audit" in ASCII.
ADVISORY_LOCK_KEY = 0x6175646974
TABLE = AuditEvent.__table__  # type: ignore[attr-defined]
HASHED = (
    "id",
    "occurred_at",
    "actor",
    "actor_user_id",
    "action",
    "method",
    "route",
    "contact_id",
    "details",
    "ip_network",
    "reason",
    "status_code",
    "prev_hash",
)


@dataclass(slots=True)
class Event:
    """What an audit row says, before the chain gives it an id and hashes."""

    actor: AuditActor
    action: str
    method: str
    route: str
    status_code: int
    actor_user_id: int | None = None
    contact_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)
    ip_network: str | None = None
    reason: str | None = None
    # None: now. Set only when an event recorded elsewhere is carried into
    # this trail with its original time (service.backup.carry).
    occurred_at: datetime | None = None


def _timestamp(value: datetime) -> str:
    # Stored and read back through UTCDateTime: aware UTC, microseconds on
    # both databases. A naive value is UTC (SQLite keeps no offset).
    aware = value.replace(tzinfo=UTC) if value.utcoffset() is None else value.astimezone(UTC)
    return aware.isoformat(timespec="microseconds")


def canonical(row: Mapping[str, Any]) -> bytes:
    """The bytes a row's hash covers: the same for the row written and the row read back."""
    values = {name: row[name] for name in HASHED}
    values["occurred_at"] = _timestamp(values["occurred_at"])
    values["actor"] = str(values["actor"])
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def row_hash(row: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(row)).hexdigest()


def take_turn(session: Session) -> None:
    """Hold the chain for the rest of the transaction."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(ADVISORY_LOCK_KEY)))
    else:
        session.execute(insert(TABLE).from_select(["id"], select(TABLE.c.id).where(false())))


def append_sync(session: Session, event: Event) -> int:
    """Append ``event`` as the chain's next row in the session's transaction; its id."""
    take_turn(session)
    last = session.execute(
        select(TABLE.c.id, TABLE.c.row_hash).order_by(TABLE.c.id.desc()).limit(1)
    ).first()
    values: dict[str, Any] = {
        "id": last.id + 1 if last else 1,
        "occurred_at": event.occurred_at or clock.now(),
        "actor": event.actor,
        "actor_user_id": event.actor_user_id,
        "action": event.action,
        "method": event.method,
        "route": event.route,
        "contact_id": event.contact_id,
        "details": event.details,
        "ip_network": event.ip_network,
        "reason": event.reason,
        "status_code": event.status_code,
        "prev_hash": last.row_hash if last else GENESIS,
    }
    values["row_hash"] = row_hash(values)
    session.execute(insert(TABLE).values(**values))
    new_id: int = values["id"]
    return new_id


async def append(session: AsyncSession, event: Event) -> int:
    """``append_sync`` for async callers; the caller commits."""
    return await session.run_sync(append_sync, event)
