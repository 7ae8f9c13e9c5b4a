"""Delivery failures per address, counted from the delivery reports that come back."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from service.models.base import enum_field, utcnow
from service.models.enums import BounceClass, DeliveryEventKind


class BounceCounter(SQLModel, table=True):
    """How often mail to one address failed, temporarily and permanently.

    Keyed, like the suppression list, by the keyed hash of the normalised
    address, so it holds no readable personal data; unlike the suppression
    list it goes with the person on erasure (service.rights.erasure): the
    suppression entry is what must survive. Temporary failures lead to suppression once they reach
    ``CONSENTRY_SOFT_BOUNCE_LIMIT``; permanent ones suppress at once and are
    counted here only for statistics.
    """

    __tablename__ = "bounce_counters"
    __pii_columns__: ClassVar[tuple[str, ...]] = ()

    value_hash: str = Field(max_length=64, primary_key=True)
    soft_count: int = Field(default=0)
    hard_count: int = Field(default=0)
    # The RFC 3463 status code only ("5.1.1"): the diagnostic text that comes
    # with it often quotes the address.
    last_status: str = Field(max_length=16)
    last_at: datetime = Field(default_factory=utcnow)


class DeliveryEventRecord(SQLModel, table=True):
    """One bounce or complaint as it was counted: what it was about (the
    address's keyed hash, the campaign and its send-list row when known),
    where it came from and what it was classed as.

    A campaign's bounce, block and complaint counts and rates are read from
    here. ``provider_event_id`` keeps an ESP's event from being counted twice
    when the provider sends it again. Like bounce counters, the rows about a
    person go with them on erasure.
    """

    __tablename__ = "delivery_events"
    __pii_columns__: ClassVar[tuple[str, ...]] = ()
    __table_args__ = (
        UniqueConstraint("source", "provider_event_id", name="uq_delivery_events_provider"),
        Index("ix_delivery_events_campaign", "campaign_id", "kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    received_at: datetime = Field(default_factory=utcnow)
    kind: DeliveryEventKind = enum_field(DeliveryEventKind)
    # service.inbound.events.Source: smtp, dsn, mail, arf, ses, sendgrid, ...
    source: str = Field(max_length=16)
    bounce_class: BounceClass | None = enum_field(BounceClass, default=None, nullable=True)
    status: str | None = Field(default=None, max_length=16)  # the RFC 3463 code only
    value_hash: str = Field(max_length=64, index=True)
    campaign_id: int | None = Field(default=None)
    recipient_id: int | None = Field(default=None)
    provider_event_id: str | None = Field(default=None, max_length=200)
