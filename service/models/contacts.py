"""The contact register: one row per person or business contact (privacy notice §5)."""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar

from sqlalchemy import Column, ForeignKey, Index, Integer, String
from sqlmodel import Field, SQLModel

from service.models.base import enum_field, utcnow
from service.models.enums import (
    ContactType,
    Gender,
    IdentityCodeBasis,
    Language,
    LegalBasis,
    Source,
)


class Contact(SQLModel, table=True):
    __tablename__ = "contacts"
    # Personal-data columns: access export, erasure and retention walk this list.
    __pii_columns__: ClassVar[tuple[str, ...]] = (
        "full_name",
        "nickname",
        "email",
        "email_hash",
        "phone",
        "phone_hash",
        "identity_code_encrypted",
        "identity_code_hash",
        "customer_number",
        "employer",
        "education",
        "position",
        "street_address",
        "postal_code",
        "city",
        "country",
        "language",
        "gender",
        "last_service_contact_at",
    )

    id: int | None = Field(default=None, primary_key=True)
    full_name: str = Field(max_length=200)
    nickname: str | None = Field(default=None, max_length=100)
    email: str | None = Field(default=None, max_length=254, unique=True)
    # Keyed hashes of the normalised email and phone: the suppression list
    # matches on them, so it never needs readable addresses.
    email_hash: str | None = Field(default=None, max_length=64, index=True)
    phone: str | None = Field(default=None, max_length=20)
    phone_hash: str | None = Field(default=None, max_length=64, index=True)
    identity_code_encrypted: str | None = Field(default=None, max_length=200)
    identity_code_hash: str | None = Field(default=None, max_length=64, unique=True)
    # Why the code may be stored (Data Protection Act § 29): required with a
    # code, served as ``personal_identity_code_basis``.
    identity_code_basis: IdentityCodeBasis | None = enum_field(
        IdentityCodeBasis, default=None, nullable=True
    )
    customer_number: str | None = Field(default=None, max_length=64, index=True)
    employer: str | None = Field(default=None, max_length=200)
    education: str | None = Field(default=None, max_length=200)
    position: str | None = Field(default=None, max_length=200)
    street_address: str | None = Field(default=None, max_length=200)
    postal_code: str | None = Field(default=None, max_length=20)
    city: str | None = Field(default=None, max_length=100)
    country: str | None = Field(default=None, max_length=2)
    language: Language = enum_field(Language, default=Language.FI)
    gender: Gender = enum_field(Gender, default=Gender.UNSPECIFIED)
    contact_type: ContactType = enum_field(ContactType, default=ContactType.PERSON)
    legal_basis: LegalBasis = enum_field(LegalBasis)
    source: Source = enum_field(Source)
    is_customer: bool = Field(default=False)
    last_service_contact_at: date | None = Field(default=None, index=True)
    # Set by the rights workflows (restriction, Art. 21 objection); read by the gate.
    restricted_at: datetime | None = Field(default=None)
    objected_at: datetime | None = Field(default=None)
    # Made by a signup form and not confirmed yet (double opt-in): the gate
    # leaves the contact out on every channel until the person confirms, and
    # the retention rule ``unconfirmed_signups`` deletes it when the signup
    # expires unconfirmed.
    pending_since: datetime | None = Field(default=None)
    recorded_at: datetime = Field(default_factory=utcnow, index=True)
    updated_at: datetime = Field(default_factory=utcnow)


class ContactTag(SQLModel, table=True):
    """Tags in their own table, so segments filter on them with an indexed
    EXISTS that reads the same on SQLite and PostgreSQL."""

    __tablename__ = "contact_tags"
    # By tag, with the contact: a segment's members read from the index alone.
    __table_args__ = (Index("ix_contact_tags_tag_contact", "tag", "contact_id"),)
    __pii_columns__: ClassVar[tuple[str, ...]] = ("tag",)

    contact_id: int = Field(
        sa_column=Column(Integer, ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    )
    tag: str = Field(sa_column=Column(String(64), primary_key=True))
