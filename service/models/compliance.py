"""The controller's own registers (GDPR 28, 30, 33(5), 19): personal-data
breaches, the processors that handle the register's data, and the tasks of
telling a recipient of disclosed data about a rectification, erasure or
restriction."""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar

from sqlalchemy import JSON, Column, ForeignKey, Integer
from sqlmodel import Field, SQLModel

from service.models.base import enum_field, utcnow
from service.models.enums import BreachRisk, DisclosureRecipient, NotificationCause


def _user_fk() -> Column[int]:
    return Column(Integer, ForeignKey("users.id"), nullable=True)


class Breach(SQLModel, table=True):
    """A personal-data breach, documented whether or not it is notified
    (GDPR 33(5)). The authority is due 72 hours after ``discovered_at``
    (Art. 33(1)); a later notification records why it is late."""

    __tablename__ = "breaches"
    # An incident is described by categories and numbers, never by the
    # people in it (docs/breaches.md says so to whoever writes it).
    __pii_columns__: ClassVar[tuple[str, ...]] = ()

    id: int | None = Field(default=None, primary_key=True)
    # When the company became aware of it: the 72 hours run from here.
    discovered_at: datetime = Field(index=True)
    occurred_at: datetime | None = Field(default=None)
    nature: str = Field(max_length=4000)
    # Categories of data and of people concerned, and approximate numbers (Art. 33(3)(a)).
    data_categories: list[str] = Field(default_factory=list, sa_type=JSON)
    people_categories: list[str] = Field(default_factory=list, sa_type=JSON)
    approx_people: int | None = Field(default=None)
    approx_records: int | None = Field(default=None)
    likely_consequences: str | None = Field(default=None, max_length=4000)
    measures: str | None = Field(default=None, max_length=4000)
    risk: BreachRisk = enum_field(BreachRisk, default=BreachRisk.RISK)
    authority_notified_at: datetime | None = Field(default=None)
    authority_reference: str | None = Field(default=None, max_length=200)
    # Why the authority was told after the 72 hours (Art. 33(1)).
    delay_reason: str | None = Field(default=None, max_length=4000)
    # Why it was not notified at all (unlikely to result in a risk).
    not_notified_reason: str | None = Field(default=None, max_length=4000)
    people_informed_at: datetime | None = Field(default=None)
    people_informed_how: str | None = Field(default=None, max_length=2000)
    closed_at: datetime | None = Field(default=None)
    recorded_by_user_id: int | None = Field(default=None, sa_column=_user_fk())
    recorded_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Processor(SQLModel, table=True):
    """A processor (GDPR 28) or other recipient the register's data goes to
    as part of the service: the ESP, the SMS gateway, hosting, the profile
    vendor. Feeds the Art. 30 record and the notice."""

    __tablename__ = "processors"
    __pii_columns__: ClassVar[tuple[str, ...]] = ()

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    service: str = Field(max_length=2000)
    # ISO 3166 alpha-2 of where the data is processed.
    country: str = Field(max_length=2)
    outside_eea: bool = Field(default=False)
    # Required outside the EU/EEA: adequacy decision, SCCs … (GDPR 44-46).
    safeguard: str | None = Field(default=None, max_length=2000)
    contract_date: date | None = Field(default=None)
    data_categories: list[str] = Field(default_factory=list, sa_type=JSON)
    ended_on: date | None = Field(default=None)
    recorded_by_user_id: int | None = Field(default=None, sa_column=_user_fk())
    recorded_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class RecipientNotification(SQLModel, table=True):
    """A task: tell a recipient of disclosed data about a rectification,
    erasure or restriction (GDPR 19). It outlives an erased contact, so it
    names the contact by id only, with no foreign key."""

    __tablename__ = "recipient_notifications"
    __pii_columns__: ClassVar[tuple[str, ...]] = ("recipient_name", "note")

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(index=True)
    disclosure_id: int | None = Field(default=None)
    cause: NotificationCause = enum_field(NotificationCause)
    recipient_type: DisclosureRecipient = enum_field(DisclosureRecipient)
    recipient_name: str = Field(max_length=200)
    # What changed (a rectification's field names); never the values.
    fields: list[str] = Field(default_factory=list, sa_type=JSON)
    request_id: int | None = Field(default=None)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    done_at: datetime | None = Field(default=None)
    done_by_user_id: int | None = Field(default=None, sa_column=_user_fk())
    note: str | None = Field(default=None, max_length=2000)
