"""Request and response bodies of the breach register (GDPR 33(5)).

An incident is described by categories and approximate numbers, never by
the people in it (docs/breaches.md): the register is not personal data.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)

from service import clock
from service.labels import N_
from service.models.enums import BreachRisk

_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)
# The columns are 32-bit integers on PostgreSQL.
MAX_COUNT = 2**31 - 1


def _not_in_future(value: datetime) -> datetime:
    if value > clock.now():
        raise ValueError(N_("must not be in the future"))
    # Stored and answered in UTC, as the database gives it back.
    return value.astimezone(UTC)


def local_moment(value: str) -> datetime:
    """A time as a person types it (ISO 8601, or ``now``); without an offset
    it is Helsinki time, as the staff pages' and the command's inputs are.
    ValueError when it is not a time."""
    text = value.strip()
    if text.lower() == "now":
        return clock.now()
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=clock.LOCAL_ZONE)


def _categories(value: list[str]) -> list[str]:
    return list(dict.fromkeys(value))


Moment = Annotated[AwareDatetime, AfterValidator(_not_in_future)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Reference = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
Category = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=64)
]
Categories = Annotated[list[Category], Field(max_length=50), AfterValidator(_categories)]


class BreachFields(BaseModel):
    """What may be said of a breach; every field but ``nature`` and
    ``discovered_at`` may come later, as the facts become known (Art. 33(4))."""

    model_config = _STRICT

    occurred_at: Moment | None = Field(default=None, description="When it happened, if known.")
    data_categories: Categories = Field(
        default_factory=list, description='Categories of data, e.g. ["email", "name"].'
    )
    people_categories: Categories = Field(
        default_factory=list, description='Categories of people, e.g. ["customers"].'
    )
    approx_people: Count | None = Field(default=None, description="About how many people.")
    approx_records: Count | None = Field(default=None, description="About how many records.")
    likely_consequences: LongText | None = None
    measures: LongText | None = Field(
        default=None, description="Measures taken or proposed, including to mitigate."
    )
    risk: BreachRisk = Field(
        default=BreachRisk.RISK,
        description="unlikely (documented, not notified), risk (notify the authority) or "
        "high (notify the authority and inform the people, Art. 34).",
    )
    authority_notified_at: Moment | None = None
    authority_reference: Reference | None = Field(
        default=None, description="The authority's case number."
    )
    delay_reason: LongText | None = Field(
        default=None, description="Required when the authority was notified after the 72 hours."
    )
    not_notified_reason: LongText | None = Field(
        default=None, description="Required to close a breach the authority was never told of."
    )
    people_informed_at: Moment | None = None
    people_informed_how: Note | None = Field(
        default=None, description="How the people were informed (a channel, never names)."
    )
    closed_at: Moment | None = None


class BreachCreate(BreachFields):
    discovered_at: Moment = Field(description="When the company became aware of it.")
    nature: LongText = Field(description="What happened, by categories and numbers.")


class BreachUpdate(BreachFields):
    """PATCH: the fields given replace the stored ones; ``null`` clears one."""

    discovered_at: Moment | None = None
    nature: LongText | None = None
    data_categories: Categories | None = None  # type: ignore[assignment]
    people_categories: Categories | None = None  # type: ignore[assignment]
    risk: BreachRisk | None = None  # type: ignore[assignment]


class BreachRead(BaseModel):
    id: int
    discovered_at: datetime
    occurred_at: datetime | None
    nature: str
    data_categories: list[str]
    people_categories: list[str]
    approx_people: int | None
    approx_records: int | None
    likely_consequences: str | None
    measures: str | None
    risk: BreachRisk
    authority_notified_at: datetime | None
    authority_reference: str | None
    delay_reason: str | None
    not_notified_reason: str | None
    people_informed_at: datetime | None
    people_informed_how: str | None
    closed_at: datetime | None
    recorded_by_user_id: int | None
    recorded_at: datetime
    updated_at: datetime
    authority_due_at: datetime = Field(description="discovered_at + 72 hours (Art. 33(1)).")
    due_soon: bool = Field(
        description="The authority is still to be notified and is due within 24 hours."
    )
    overdue: bool = Field(
        description="The authority is still to be notified and the 72 hours have passed "
        "(never for risk=unlikely, nor once closed)."
    )
    hours_left: float | None = Field(
        description="Hours until authority_due_at (negative when overdue); null when the "
        "authority is not to be notified (notified, closed, or risk=unlikely)."
    )
    people_to_inform: bool = Field(
        description="High risk and the people not yet informed (Art. 34)."
    )


class BreachPage(BaseModel):
    items: list[BreachRead]
    total: int
    limit: int
    offset: int
