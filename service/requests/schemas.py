"""Request and response bodies for the requests register and the disclosure log."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from service import clock
from service.labels import N_
from service.models.enums import (
    DisclosureRecipient,
    NotificationCause,
    RequestChannel,
    RequestStatus,
    RequestType,
    VerificationMethod,
)
from service.requests.deadlines import MAX_EXTENSION_MONTHS

_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _not_in_future(value: date) -> date:
    if value > clock.today():
        raise ValueError(N_("must not be in the future"))
    return value


def _categories(value: list[str]) -> list[str]:
    # A category is a set member: "email" twice says nothing more.
    return list(dict.fromkeys(value))


PastDate = Annotated[date, AfterValidator(_not_in_future)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
Category = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=64)
]


# -- the requests register -------------------------------------------------------------------


class RequestCreate(BaseModel):
    model_config = _STRICT

    type: RequestType
    contact_id: int | None = Field(default=None, description="The contact, when known.")
    channel: RequestChannel = Field(description="How the request arrived.")
    received_on: PastDate = Field(description="The day it arrived; the deadline counts from it.")
    requester: Name | None = Field(
        default=None, description="Who asked, as they named themselves (free text)."
    )
    description: LongText | None = None


class RequestUpdate(BaseModel):
    """PATCH, while the request is open: link it to a contact, or correct the
    requester's words. ``null`` clears a field."""

    model_config = _STRICT

    contact_id: int | None = None
    requester: Name | None = None
    description: LongText | None = None


class VerificationCreate(BaseModel):
    model_config = _STRICT

    # A plain string, checked by the service, so that anything outside the
    # list (above all "name plus identity code") is refused as a rule (422).
    method: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] = Field(
        description=(
            "registered_email_reply: a reply from the email address in the register; "
            "strong_identification: bank ID or mobile ID; in_person_id_document: an "
            "identity document shown in person. Name plus identity code is never proof."
        ),
        json_schema_extra={"enum": [method.value for method in VerificationMethod]},
    )


class ExtensionCreate(BaseModel):
    model_config = _STRICT

    reason: Note = Field(description="Why the request needs more time (GDPR 12(3)).")
    months: int = Field(default=MAX_EXTENSION_MONTHS, ge=1, le=MAX_EXTENSION_MONTHS)


class RequestClose(BaseModel):
    model_config = _STRICT

    status: RequestStatus = Field(description="done or refused.")
    outcome: LongText | None = Field(
        default=None, description="What was done; for a refusal, the reason (required)."
    )


class RequestActionRead(BaseModel):
    id: int
    action: str
    done_by_user_id: int | None
    done_at: datetime


class RequestRead(BaseModel):
    id: int
    type: RequestType
    contact_id: int | None
    channel: RequestChannel
    received_on: date
    requester: str | None
    description: str | None
    verification_method: VerificationMethod | None
    verified_at: datetime | None
    verified_by_user_id: int | None
    due_on: date
    extended_due_on: date | None
    extension_reason: str | None
    effective_due_on: date = Field(description="extended_due_on, or due_on when not extended.")
    status: RequestStatus
    outcome: str | None
    closed_at: datetime | None
    overdue: bool = Field(description="Open and past its effective due date.")
    days_left: int | None = Field(
        description="Days from today to the effective due date (negative when overdue); "
        "null once closed."
    )
    answered_in_time: bool | None = Field(
        description="Closed on or before the effective due date; null while open."
    )
    recorded_by_user_id: int | None
    recorded_at: datetime


class RequestDetail(RequestRead):
    actions: list[RequestActionRead] = Field(description="What was done, oldest first.")


class RequestPage(BaseModel):
    items: list[RequestRead]
    total: int
    limit: int
    offset: int


# -- disclosures -----------------------------------------------------------------------------


class DisclosureCreate(BaseModel):
    model_config = _STRICT

    recipient_type: DisclosureRecipient
    recipient_name: Name
    data_categories: Annotated[
        list[Category], Field(min_length=1, max_length=50), AfterValidator(_categories)
    ] = Field(description='What was disclosed, e.g. ["name", "email", "profile"].')
    purpose: Note
    disclosed_on: PastDate
    includes_identity_code: bool = False
    identity_code_basis: Note | None = Field(
        default=None,
        description="Required when includes_identity_code: the basis under the Finnish "
        "Data Protection Act 1050/2018 § 29.",
    )
    outside_eea: bool = False
    safeguard: Note | None = Field(
        default=None,
        description="Required when outside_eea, e.g. EU standard contractual clauses 2021/914.",
    )


class DisclosureRead(BaseModel):
    id: int
    contact_id: int
    recipient_type: DisclosureRecipient
    recipient_name: str
    data_categories: list[str]
    purpose: str
    disclosed_on: date
    includes_identity_code: bool
    identity_code_basis: str | None
    country: str | None = None
    outside_eea: bool
    safeguard: str | None
    recorded_by_user_id: int | None
    recorded_at: datetime


# -- telling the recipients of disclosed data (GDPR 19) -----------------------------------


class RecipientNotificationDone(BaseModel):
    model_config = _STRICT

    note: Note | None = Field(
        default=None, description="How and when the recipient was told, or why they could not be."
    )


class RecipientNotificationRead(BaseModel):
    id: int
    contact_id: int = Field(description="The contact, by id only: the task outlives an erasure.")
    disclosure_id: int | None
    cause: NotificationCause
    recipient_type: DisclosureRecipient
    recipient_name: str
    fields: list[str] = Field(description="A rectification's changed field names; never values.")
    request_id: int | None
    created_at: datetime
    done_at: datetime | None
    done_by_user_id: int | None
    note: str | None


class RecipientNotificationPage(BaseModel):
    items: list[RecipientNotificationRead]
    total: int
    limit: int
    offset: int
