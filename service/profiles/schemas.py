"""Request and response bodies for behavioural profiles and interactions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from service import clock
from service.labels import N_
from service.models.enums import InteractionKind, ProfileState
from service.validation import MultiLine, SingleLine

_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _not_in_future(value: date) -> date:
    if value > clock.today():
        raise ValueError(N_("must not be in the future"))
    return value


PastDate = Annotated[date, AfterValidator(_not_in_future)]
ReportText = Annotated[str, StringConstraints(min_length=1)]


# -- profiles --------------------------------------------------------------------------------


class ProfileCreate(BaseModel):
    model_config = _STRICT

    completed_on: PastDate = Field(description="The day the report was completed.")
    has_vendor_account: bool = Field(
        description="The person has an account at the profile vendor's service (notice §6)."
    )
    content: ReportText | dict[str, Any] = Field(
        description="The report, as text or a JSON object; stored encrypted, never listed."
    )


class ProfileUpdate(BaseModel):
    model_config = _STRICT

    has_vendor_account: bool | None = None
    transfer_forbidden: bool | None = Field(
        default=None,
        description="true: the person forbade handing the report to the vendor (recorded "
        "with the time); false: that was a mistake, clear it.",
    )


class ProfileRead(BaseModel):
    """A profile's metadata; the content is read only through ``…/content``."""

    id: int
    contact_id: int
    completed_on: date
    has_vendor_account: bool
    transfer_forbidden_at: datetime | None
    state: ProfileState
    transfer_notice_sent_at: datetime | None
    transferred_at: datetime | None
    destroyed_at: datetime | None
    recorded_by_user_id: int | None
    recorded_at: datetime


class ProfileContent(BaseModel):
    id: int
    contact_id: int
    content: str | dict[str, Any]


# -- interactions ----------------------------------------------------------------------------


# A product group is a short name ("team coaching"), one line.
ProductGroup = Annotated[str, StringConstraints(min_length=1, max_length=100), SingleLine]


class InteractionCreate(BaseModel):
    model_config = _STRICT

    kind: InteractionKind
    occurred_on: PastDate
    note: Annotated[str, StringConstraints(min_length=1, max_length=2000), MultiLine] | None = None
    details: dict[str, Any] | None = Field(
        default=None, description="Purchase details (product, amount …); only for a purchase."
    )
    # Soft opt-in's evidence (SVPL 200 § 3 mom), only for a purchase.
    product_group: ProductGroup | None = Field(
        default=None,
        description="The purchase's product group: offers of the company's own similar "
        "products may rest on it. Required when address_collected is true.",
    )
    address_collected: bool = Field(
        default=False,
        description="The person's email address or phone number was obtained in this purchase.",
    )
    refusal_offered: bool = Field(
        default=False,
        description="When the address was collected, the person was told they may refuse "
        "marketing, easily and free of charge.",
    )


class InteractionRead(BaseModel):
    id: int
    contact_id: int
    kind: InteractionKind
    occurred_on: date
    note: str | None
    details: dict[str, Any] | None
    product_group: str | None
    address_collected: bool
    refusal_offered: bool
    recorded_by_user_id: int | None
    recorded_at: datetime
