"""People's rights: the requests register, objections, disclosures and the
record of rectifications (GDPR 15-21, the notice §8, §11-13)."""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar

from sqlalchemy import JSON, Column, ForeignKey, Integer
from sqlmodel import Field, SQLModel

from service.models.base import enum_field, utcnow
from service.models.enums import (
    DisclosureRecipient,
    ObjectionDecision,
    ObjectionScope,
    RequestChannel,
    RequestStatus,
    RequestType,
    VerificationMethod,
)


def _user_fk() -> Column[int]:
    return Column(Integer, ForeignKey("users.id"), nullable=True)


class DataSubjectRequest(SQLModel, table=True):
    """One request from a person. Kept (without the person, after erasure)
    as proof it was answered in time; deleted when closed long enough ago."""

    __tablename__ = "data_subject_requests"
    __pii_columns__: ClassVar[tuple[str, ...]] = (
        "requester",
        "description",
        "extension_reason",
        "outcome",
    )

    id: int | None = Field(default=None, primary_key=True)
    type: RequestType = enum_field(RequestType)
    # NULL when the person is not (or no longer) in the register.
    contact_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("contacts.id", ondelete="SET NULL"), nullable=True, index=True
        ),
    )
    channel: RequestChannel = enum_field(RequestChannel)
    received_on: date
    # Who asked, as they named themselves, when not (yet) matched to a contact.
    requester: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=4000)
    verification_method: VerificationMethod | None = enum_field(
        VerificationMethod, default=None, nullable=True
    )
    verified_at: datetime | None = Field(default=None)
    verified_by_user_id: int | None = Field(default=None, sa_column=_user_fk())
    # received + 1 month; extended by at most 2 months, with a reason recorded
    # before the original due date (GDPR 12(3)).
    due_on: date = Field(index=True)
    extended_due_on: date | None = Field(default=None)
    extension_reason: str | None = Field(default=None, max_length=2000)
    status: RequestStatus = enum_field(RequestStatus, default=RequestStatus.OPEN)
    outcome: str | None = Field(default=None, max_length=4000)
    closed_at: datetime | None = Field(default=None, index=True)
    recorded_by_user_id: int | None = Field(default=None, sa_column=_user_fk())
    recorded_at: datetime = Field(default_factory=utcnow)


class RequestAction(SQLModel, table=True):
    """What was done for a request (an export, an erasure …), linking each
    rights action to the request it answered."""

    __tablename__ = "request_actions"
    __pii_columns__: ClassVar[tuple[str, ...]] = ()

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("data_subject_requests.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        )
    )
    action: str = Field(max_length=32)
    done_by_user_id: int | None = Field(default=None, sa_column=_user_fk())
    done_at: datetime = Field(default_factory=utcnow)


class Objection(SQLModel, table=True):
    """An objection (GDPR 21). To direct marketing it is upheld at once and
    becomes a ban on all channels; to other processing it awaits a decision."""

    __tablename__ = "objections"
    __pii_columns__: ClassVar[tuple[str, ...]] = ("grounds", "decision_note")

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    scope: ObjectionScope = enum_field(ObjectionScope)
    grounds: str | None = Field(default=None, max_length=4000)
    decision: ObjectionDecision = enum_field(ObjectionDecision, default=ObjectionDecision.PENDING)
    decision_note: str | None = Field(default=None, max_length=4000)
    decided_at: datetime | None = Field(default=None)
    decided_by_user_id: int | None = Field(default=None, sa_column=_user_fk())
    request_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("data_subject_requests.id", ondelete="SET NULL"), nullable=True
        ),
    )
    recorded_by_user_id: int | None = Field(default=None, sa_column=_user_fk())
    recorded_at: datetime = Field(default_factory=utcnow)


class Disclosure(SQLModel, table=True):
    """Data handed to someone outside the company (the notice §8)."""

    __tablename__ = "disclosures"
    __pii_columns__: ClassVar[tuple[str, ...]] = ("recipient_name", "data_categories", "purpose")

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    recipient_type: DisclosureRecipient = enum_field(DisclosureRecipient)
    recipient_name: str = Field(max_length=200)
    data_categories: list[str] = Field(default_factory=list, sa_type=JSON)
    purpose: str = Field(max_length=2000)
    disclosed_on: date
    # Disclosing the identity code needs its own recorded legal basis.
    includes_identity_code: bool = Field(default=False)
    identity_code_basis: str | None = Field(default=None, max_length=2000)
    # A recipient outside the EU/EEA needs a recorded safeguard (GDPR 44-46).
    # ISO 3166 alpha-2 of where the recipient processes the data.
    country: str | None = Field(default=None, max_length=2)
    outside_eea: bool = Field(default=False)
    safeguard: str | None = Field(default=None, max_length=2000)
    recorded_by_user_id: int | None = Field(default=None, sa_column=_user_fk())
    recorded_at: datetime = Field(default_factory=utcnow)


class ContactChange(SQLModel, table=True):
    """A rectification: which fields changed, by whom, for which request.
    The old values are not kept (they were wrong, or the person asked)."""

    __tablename__ = "contact_changes"
    __pii_columns__: ClassVar[tuple[str, ...]] = ()

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    fields: list[str] = Field(default_factory=list, sa_type=JSON)
    changed_by_user_id: int | None = Field(default=None, sa_column=_user_fk())
    request_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("data_subject_requests.id", ondelete="SET NULL"), nullable=True
        ),
    )
    changed_at: datetime = Field(default_factory=utcnow)
