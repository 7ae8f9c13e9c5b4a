"""Request and response bodies of the processors register."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from service import clock, countries
from service.labels import N_

_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _not_in_future(value: date) -> date:
    if value > clock.today():
        raise ValueError(N_("must not be in the future"))
    return value


def _categories(value: list[str]) -> list[str]:
    return list(dict.fromkeys(value))


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Country = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=8), AfterValidator(countries.normalise)
]
PastDate = Annotated[date, AfterValidator(_not_in_future)]
Category = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=64)
]
Categories = Annotated[list[Category], Field(max_length=50), AfterValidator(_categories)]


class ProcessorCreate(BaseModel):
    model_config = _STRICT

    name: Name = Field(description="The company, e.g. “Mailgun Technologies, Inc.”.")
    service: Text = Field(description="What it does for us, e.g. “sending email”.")
    country: Country = Field(description="ISO 3166-1 alpha-2 of where the data is processed.")
    safeguard: Text | None = Field(
        default=None,
        description="Required outside the EU/EEA: an adequacy decision, the EU standard "
        "contractual clauses 2021/914, … (GDPR 44-46).",
    )
    contract_date: PastDate | None = Field(
        default=None, description="The day the processing agreement (Art. 28(3)) was signed."
    )
    data_categories: Categories = Field(default_factory=list)


class ProcessorUpdate(BaseModel):
    """PATCH: the fields given replace the stored ones; ``null`` clears an optional one.
    ``ended_on`` ends the processing (it stays in the register)."""

    model_config = _STRICT

    name: Name | None = None
    service: Text | None = None
    country: Country | None = None
    safeguard: Text | None = None
    contract_date: PastDate | None = None
    data_categories: Categories | None = None
    ended_on: date | None = None


class ProcessorRead(BaseModel):
    id: int
    name: str
    service: str
    country: str
    outside_eea: bool = Field(description="Derived from the country (EU/EEA), never given.")
    safeguard: str | None
    contract_date: date | None
    data_categories: list[str]
    ended_on: date | None
    active: bool = Field(description="Not ended, or ending after today.")
    recorded_by_user_id: int | None
    recorded_at: datetime
    updated_at: datetime
