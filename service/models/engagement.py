"""The engagement log: opens, clicks and site visits (privacy notice §5, cookie data)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from sqlalchemy import Column, ForeignKey, Index, Integer
from sqlmodel import Field, SQLModel

from service.models.base import enum_field, utcnow

# Reduced URLs (origin + path) are cut to this length before they are stored.
URL_MAX_LENGTH = 500


class EngagementKind(StrEnum):
    OPEN = "open"
    CLICK = "click"
    VISIT = "visit"


class EngagementEvent(SQLModel, table=True):
    """One open, click or visit, stored only in reduced form.

    Nothing raw reaches this table: the IP is truncated to its network, the
    user agent is reduced to browser and OS families, and URLs keep only
    origin and path (queries and fragments carry tokens and search terms).
    Events of a contact are stored only while they consent to email tracking.
    """

    __tablename__ = "engagement_events"
    __table_args__ = (
        # Per-campaign open and click counts over a time window.
        Index("ix_engagement_events_campaign", "campaign_id", "kind", "occurred_at"),
    )
    # Everything that describes what the person did or where they did it from.
    __pii_columns__: ClassVar[tuple[str, ...]] = (
        "page",
        "referrer",
        "next_page",
        "ip_network",
        "browser_family",
        "browser_major",
        "os_family",
    )

    id: int | None = Field(default=None, primary_key=True)
    # The Redis stream entry id the event arrived as: ingestion inserts with
    # ON CONFLICT DO NOTHING on it, so re-reading an entry stores nothing twice.
    stream_id: str = Field(max_length=48, unique=True)
    kind: EngagementKind = enum_field(EngagementKind)
    # NULL for unpersonalised (aggregate) events; the log goes with the person
    # on erasure.
    contact_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=True, index=True
        ),
    )
    # Campaign counts are not personal data: they outlive the campaign row.
    campaign_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("campaigns.id", ondelete="SET NULL"), nullable=True),
    )
    link_index: int | None = Field(default=None)
    page: str | None = Field(default=None, max_length=URL_MAX_LENGTH)
    referrer: str | None = Field(default=None, max_length=URL_MAX_LENGTH)
    next_page: str | None = Field(default=None, max_length=URL_MAX_LENGTH)
    # "203.0.113.0/24" or "2001:db8:1::/48": the network, never the address.
    ip_network: str | None = Field(default=None, max_length=64)
    browser_family: str | None = Field(default=None, max_length=64)
    browser_major: str | None = Field(default=None, max_length=16)
    os_family: str | None = Field(default=None, max_length=64)
    # Mail prefetchers and link scanners: kept for completeness, left out of
    # open and click counts.
    automated: bool = Field(default=False)
    # The consent the event was stored under (GDPR 7(1): demonstrable): the
    # email_tracking ledger event for an open or click, the analytics
    # decision of the website's banner for a visit. No foreign key: both go
    # with the person on erasure, as this row does.
    consent_event_id: int | None = Field(default=None)
    site_consent_event_id: int | None = Field(default=None)
    # Indexed for the retention purge, which deletes by age.
    occurred_at: datetime = Field(default_factory=utcnow, index=True)
