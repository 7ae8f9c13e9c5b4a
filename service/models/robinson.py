"""The Robinson register: ASML's do-not-call extract (Puhelin-Robinson), as loaded.

Only keyed hashes of the numbers are kept, hashed as contacts' phones are
(``DataCipher.lookup_hash("phone", e164)``), so the phone gate matches them
on ``contacts.phone_hash`` without ever holding a readable number of people
who are not in the register. The newest extract replaces the older ones: its
numbers are the only ones stored, the older extracts stay as a record of what
was loaded when.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar

from sqlalchemy import Column, ForeignKey, Index, Integer, String
from sqlmodel import Field, SQLModel

from service.models.base import utcnow


class RobinsonExtract(SQLModel, table=True):
    """One load of the register: which file, dated when, how many numbers, by whom."""

    __tablename__ = "robinson_extracts"
    # The file name is whatever staff called the file; treated as personal in
    # case it names someone.
    __pii_columns__: ClassVar[tuple[str, ...]] = ("file_name",)

    id: int | None = Field(default=None, primary_key=True)
    # The day ASML made the extract: its age decides whether call lists may be built.
    extract_date: date
    loaded_at: datetime = Field(default_factory=utcnow, index=True)
    file_name: str = Field(max_length=100)
    number_count: int = Field(default=0)
    loaded_by_user_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    )


class RobinsonNumber(SQLModel, table=True):
    """A listed number's keyed hash. ``phone_hash`` is indexed for the gate's
    EXISTS; the key keeps a number once per extract however often a file repeats it."""

    __tablename__ = "robinson_numbers"
    __table_args__ = (Index("ix_robinson_numbers_phone_hash", "phone_hash"),)
    # A keyed hash of someone's phone number, as contacts.phone_hash is.
    __pii_columns__: ClassVar[tuple[str, ...]] = ("phone_hash",)

    extract_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("robinson_extracts.id", ondelete="CASCADE"),
            primary_key=True,
        )
    )
    phone_hash: str = Field(sa_column=Column(String(64), primary_key=True))
