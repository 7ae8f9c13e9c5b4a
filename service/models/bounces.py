"""Delivery failures per address, counted from the delivery reports that come back."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlmodel import Field, SQLModel

from service.models.base import utcnow


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
