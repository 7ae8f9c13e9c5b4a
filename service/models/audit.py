"""The audit trail: who read or changed what, when, from where and why.

Rows are only ever inserted (the migration adds triggers refusing UPDATE and
DELETE), and each carries the SHA-256 of its own content and of the row
before it, so a changed or removed row breaks the chain that
``consentry audit verify`` walks (service.audit.chain).

The trail is an accountability record (GDPR 5(2), 30, 32): it holds ids,
never names or other values, and it outlives the people it mentions —
``contact_id`` is a plain integer with no foreign key, so erasing a contact
neither cascades into the trail nor is blocked by it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import JSON
from sqlmodel import Field, SQLModel

from service.models.base import enum_field


class AuditActor(StrEnum):
    """Who acted: an authenticated staff member, an unauthenticated caller
    (a refused token), or the system itself."""

    STAFF = "staff"
    PUBLIC = "public"
    SYSTEM = "system"


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_events"
    # The reveal reason is written by staff and may name the person; the IP
    # network is the staff member's (or an unknown caller's). Both stay after
    # the person is erased: clearing them would break the chain, and the
    # trail is the proof of who saw what (documented in docs/audit.md).
    __pii_columns__: ClassVar[tuple[str, ...]] = ("reason", "ip_network")

    # Assigned by the chain (the previous id + 1, under the chain's lock), so
    # ids have no gaps and are part of what each row's hash covers.
    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    occurred_at: datetime = Field(index=True)
    actor: AuditActor = enum_field(AuditActor)
    actor_user_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    # A short dotted verb: contact.read, identity_code.reveal, permission.denied …
    action: str = Field(max_length=64, index=True)
    method: str = Field(max_length=10)
    # The route template, never the path itself: /api/v1/contacts/{contact_id}
    route: str = Field(max_length=200)
    contact_id: int | None = Field(default=None, index=True)
    # Other ids and counts: {"campaign_id": 3, "entries": 120}; never free text.
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    ip_network: str | None = Field(default=None, max_length=64)
    reason: str | None = Field(default=None, max_length=500)
    status_code: int
    prev_hash: str = Field(max_length=64)
    row_hash: str = Field(max_length=64, unique=True)


class AuditCut(SQLModel, table=True):
    """The record that the trail's oldest rows were removed by its retention
    setting. ``anchor_hash`` is the ``row_hash`` of the last row removed:
    the first row kept names it as its ``prev_hash``, so the kept part still
    verifies from this anchor, and the cut itself is provable."""

    __tablename__ = "audit_cuts"
    __pii_columns__: ClassVar[tuple[str, ...]] = ()

    id: int | None = Field(default=None, primary_key=True)
    # Rows with id ≤ this were removed (ids are gap-free).
    removed_through_id: int
    removed_count: int
    anchor_hash: str = Field(max_length=64)
    oldest_removed_at: datetime | None = Field(default=None)
    newest_removed_at: datetime | None = Field(default=None)
    retention_days: int
    cut_at: datetime
