"""The data lifecycle: behavioural profiles, customer-relationship events,
legal holds and the record of what the retention rules did (notice §6-7)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, Column, ForeignKey, Integer, Text
from sqlmodel import Field, SQLModel

from service.models.base import enum_field, utcnow
from service.models.enums import InteractionKind, ProfileState


def _contact_fk(nullable: bool = False) -> Column[int]:
    # Everything here about a person goes with them on erasure.
    return Column(
        Integer, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=nullable, index=True
    )


def _user_fk() -> Column[int]:
    return Column(Integer, ForeignKey("users.id"), nullable=True)


class Profile(SQLModel, table=True):
    """A behavioural (e.g. DISC) report; needs the person's ``profiling_report`` consent.

    Its content is encrypted at rest with the data key. The retention rules
    (service.retention) hand it to the vendor two years after completion, or
    destroy it; the row stays as metadata with the content gone.
    """

    __tablename__ = "profiles"
    __pii_columns__: ClassVar[tuple[str, ...]] = ("content_encrypted",)

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(sa_column=_contact_fk())
    completed_on: date
    # The person's own account at the profile vendor's service: the reason
    # the vendor keeps the report after we hand it over.
    has_vendor_account: bool = Field(default=False)
    # The person forbade handing the report to the vendor (notice §6).
    transfer_forbidden_at: datetime | None = Field(default=None)
    content_encrypted: str | None = Field(default=None, sa_type=Text)
    state: ProfileState = enum_field(ProfileState, default=ProfileState.KEPT)
    transfer_notice_sent_at: datetime | None = Field(default=None)
    transferred_at: datetime | None = Field(default=None)
    destroyed_at: datetime | None = Field(default=None)
    recorded_by_user_id: int | None = Field(default=None, sa_column=_user_fk())
    recorded_at: datetime = Field(default_factory=utcnow)


class Interaction(SQLModel, table=True):
    """A service contact, a contact initiative by the person, or a purchase.
    The latest one sets the contact's ``last_service_contact_at``."""

    __tablename__ = "interactions"
    __pii_columns__: ClassVar[tuple[str, ...]] = ("note", "details", "product_group")

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(sa_column=_contact_fk())
    kind: InteractionKind = enum_field(InteractionKind)
    occurred_on: date
    note: str | None = Field(default=None, max_length=2000)
    # Purchase details (product, amount …); never stored under a
    # purchase-registration ban.
    details: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    # Soft opt-in's evidence (SVPL 200 § 3): a purchase's product group, that
    # the address was obtained in it, and that the person was told then that
    # they may refuse marketing. The gate reads these (Reason.NO_PURCHASE_RECORD,
    # Reason.NO_REFUSAL_NOTICE).
    product_group: str | None = Field(default=None, max_length=100)
    address_collected: bool = Field(default=False)
    refusal_offered: bool = Field(default=False)
    recorded_by_user_id: int | None = Field(default=None, sa_column=_user_fk())
    recorded_at: datetime = Field(default_factory=utcnow)


class LegalHold(SQLModel, table=True):
    """GDPR 17(3)(e): data needed for legal claims. While a hold is active
    (not lifted), retention and erasure skip the contact."""

    __tablename__ = "legal_holds"
    __pii_columns__: ClassVar[tuple[str, ...]] = ("reason", "lift_note")

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(sa_column=_contact_fk())
    reason: str = Field(max_length=2000)
    placed_by_user_id: int | None = Field(default=None, sa_column=_user_fk())
    placed_at: datetime = Field(default_factory=utcnow)
    lifted_at: datetime | None = Field(default=None)
    lifted_by_user_id: int | None = Field(default=None, sa_column=_user_fk())
    lift_note: str | None = Field(default=None, max_length=2000)


class RetentionAction(SQLModel, table=True):
    """One thing a retention rule did: the proof that the notice's periods
    are kept. ``reference`` names the object by kind and id only ("contact
    123", "profile 7", "240 engagement events") — never personal data."""

    __tablename__ = "retention_actions"
    __pii_columns__: ClassVar[tuple[str, ...]] = ()

    id: int | None = Field(default=None, primary_key=True)
    rule: str = Field(max_length=64, index=True)
    action: str = Field(max_length=32)
    reference: str = Field(max_length=200)
    deadline: date | None = Field(default=None)
    done_at: datetime = Field(default_factory=utcnow, index=True)


class Erasure(SQLModel, table=True):
    """That a contact was erased, when and why — by id only. A restored
    backup replays these (and the suppression list) so that nobody erased
    comes back."""

    __tablename__ = "erasures"
    __pii_columns__: ClassVar[tuple[str, ...]] = ()

    id: int | None = Field(default=None, primary_key=True)
    # No foreign key: the contact row is gone.
    contact_id: int = Field(index=True)
    # "request" (the person asked, or a staff member acted on a right) or
    # "retention:<rule>".
    cause: str = Field(max_length=64)
    request_id: int | None = Field(default=None)
    erased_by_user_id: int | None = Field(default=None, sa_column=_user_fk())
    erased_at: datetime = Field(default_factory=utcnow, index=True)


class Restriction(SQLModel, table=True):
    """A restriction of processing (GDPR 18): placed and lifted, never
    deleted. ``Contact.restricted_at`` mirrors the one in force for the gate."""

    __tablename__ = "restrictions"
    __pii_columns__: ClassVar[tuple[str, ...]] = ("reason", "lift_note")

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(sa_column=_contact_fk())
    reason: str = Field(max_length=2000)
    request_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("data_subject_requests.id", ondelete="SET NULL"), nullable=True
        ),
    )
    placed_by_user_id: int | None = Field(default=None, sa_column=_user_fk())
    placed_at: datetime = Field(default_factory=utcnow)
    lifted_at: datetime | None = Field(default=None)
    lifted_by_user_id: int | None = Field(default=None, sa_column=_user_fk())
    lift_note: str | None = Field(default=None, max_length=2000)
    # GDPR 18(3): the person is told before a restriction is lifted.
    person_informed_at: datetime | None = Field(default=None)
    person_informed_how: str | None = Field(default=None, max_length=200)
