"""The consent ledger, its current-state projection, bans and the suppression list."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlalchemy import Column, ForeignKey, Index, Integer, String, text
from sqlmodel import Field, SQLModel

from service.models.base import enum_field, utcnow
from service.models.enums import (
    Actor,
    BanChannel,
    BanKind,
    CaptureMethod,
    Channel,
    ConsentAction,
    Purpose,
    Source,
)


def _contact_fk() -> Column[int]:
    # Evidence goes with the person on erasure; the suppression list keeps what
    # must survive it.
    return Column(Integer, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False)


def _user_fk() -> Column[int]:
    return Column(Integer, ForeignKey("users.id"), nullable=True)


class ConsentEvent(SQLModel, table=True):
    """One grant or withdrawal. Rows are only ever inserted."""

    __tablename__ = "consent_events"
    __table_args__ = (Index("ix_consent_events_key", "contact_id", "channel", "purpose", "id"),)
    __pii_columns__: ClassVar[tuple[str, ...]] = ("evidence_text", "evidence_ip", "submission_ip")

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(sa_column=_contact_fk())
    channel: Channel = enum_field(Channel)
    purpose: Purpose = enum_field(Purpose)
    action: ConsentAction = enum_field(ConsentAction)
    source: Source = enum_field(Source)
    method: CaptureMethod = enum_field(CaptureMethod)
    # The proof: what the person was shown, which notice version, from where
    # (the IP truncated to its network before it is stored).
    evidence_text: str | None = Field(default=None, max_length=4000)
    notice_version: str | None = Field(default=None, max_length=64)
    evidence_ip: str | None = Field(default=None, max_length=64)
    campaign_id: int | None = Field(default=None)
    actor: Actor = enum_field(Actor)
    recorded_by_user_id: int | None = Field(default=None, sa_column=_user_fk())
    occurred_at: datetime = Field(default_factory=utcnow)
    # Consent collected by Consentry itself (a signup form, the preference
    # centre, the portal): the archived text the person was shown
    # (consent_texts), in which language, and for a form the form and its
    # version. A double opt-in grant also keeps when and from where the form
    # was submitted; its own time and IP are those of the confirmation.
    text_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("consent_texts.id"), nullable=True)
    )
    language: str | None = Field(default=None, max_length=2)
    form_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("signup_forms.id", ondelete="SET NULL"), nullable=True
        ),
    )
    form_version: int | None = Field(default=None)
    submitted_at: datetime | None = Field(default=None)
    submission_ip: str | None = Field(default=None, max_length=64)


class ConsentState(SQLModel, table=True):
    """The latest event per (contact, channel, purpose), kept in the same
    transaction as the event it points to, so the gate joins one row by key
    instead of searching the ledger for every contact."""

    __tablename__ = "consent_states"
    __pii_columns__: ClassVar[tuple[str, ...]] = ()

    contact_id: int = Field(
        sa_column=Column(Integer, ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    )
    channel: Channel = Field(sa_column=Column(String(16), primary_key=True))
    purpose: Purpose = Field(sa_column=Column(String(32), primary_key=True))
    action: ConsentAction = enum_field(ConsentAction)
    event_id: int = Field(
        sa_column=Column(Integer, ForeignKey("consent_events.id", ondelete="CASCADE"))
    )
    updated_at: datetime = Field(default_factory=utcnow)


class Ban(SQLModel, table=True):
    """A ban the person gave (privacy notice §7). Lifting fills the lift
    columns once; a ban row is never deleted while its contact exists."""

    __tablename__ = "bans"
    __table_args__ = (
        Index("ix_bans_active", "contact_id", "kind", "lifted_at"),
        # The consent gate's ban test alone: the few bans in force, small
        # enough to read whole once per audience (migration 0012).
        Index(
            "ix_bans_marketing_in_force",
            "contact_id",
            "channel",
            postgresql_where=text("kind = 'direct_marketing' AND lifted_at IS NULL"),
            sqlite_where=text("kind = 'direct_marketing' AND lifted_at IS NULL"),
        ),
    )
    __pii_columns__: ClassVar[tuple[str, ...]] = ("note", "lift_note")

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(sa_column=_contact_fk())
    kind: BanKind = enum_field(BanKind)
    channel: BanChannel = enum_field(BanChannel)
    source: Source = enum_field(Source)
    method: CaptureMethod | None = enum_field(CaptureMethod, default=None)
    note: str | None = Field(default=None, max_length=2000)
    campaign_id: int | None = Field(default=None)
    actor: Actor = enum_field(Actor)
    recorded_by_user_id: int | None = Field(default=None, sa_column=_user_fk())
    recorded_at: datetime = Field(default_factory=utcnow)
    lifted_at: datetime | None = Field(default=None)
    lifted_by_user_id: int | None = Field(default=None, sa_column=_user_fk())
    lift_note: str | None = Field(default=None, max_length=2000)
    # The person's own new act a direct-marketing ban is lifted on: a consent
    # they gave (a ledger event) or their request in the register.
    lift_consent_event_id: int | None = Field(default=None)
    lift_request_id: int | None = Field(default=None)


class Suppression(SQLModel, table=True):
    """A keyed hash of an email address or phone number that must never be
    contacted again. Survives erasure; holds no readable personal data."""

    __tablename__ = "suppressions"
    __pii_columns__: ClassVar[tuple[str, ...]] = ()

    id: int | None = Field(default=None, primary_key=True)
    value_hash: str = Field(max_length=64, unique=True)
    kind: str = Field(max_length=16)
    reason: str = Field(max_length=32)
    created_at: datetime = Field(default_factory=utcnow)
