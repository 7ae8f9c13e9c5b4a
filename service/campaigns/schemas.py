"""Bodies for campaigns, their audience and preview."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from service.contacts.schemas import Tag
from service.models.enums import (
    CampaignChannel,
    CampaignStatus,
    ContactType,
    Language,
    Purpose,
    Reason,
)
from service.validation import MultiLine, SingleLine

_STRICT = ConfigDict(extra="forbid")
MAX_BODY = 200_000


def _direct_marketing_only(value: Purpose) -> Purpose:
    # Campaigns are direct marketing; tracking and profiling are consents, not messages.
    if value is not Purpose.DIRECT_MARKETING:
        raise ValueError("campaigns are for direct_marketing")
    return value


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("must include a time zone, e.g. 2026-12-01T09:00:00+02:00")
    return value


# The subject becomes a mail header and the name a line of `consentry status` and of
# exports: a line break in either is refused here, naming the field, not met by the sender.
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), SingleLine
]
Subject = Annotated[str, StringConstraints(max_length=300), SingleLine]
Body = Annotated[str, StringConstraints(max_length=MAX_BODY), MultiLine]
CampaignPurpose = Annotated[Purpose, AfterValidator(_direct_marketing_only)]
SendAt = Annotated[datetime | None, AfterValidator(_aware)]


class ContentIn(BaseModel):
    """One language version of an email."""

    model_config = _STRICT

    subject: Annotated[str, StringConstraints(min_length=1, max_length=300), SingleLine]
    body_html: Annotated[str, StringConstraints(min_length=1, max_length=MAX_BODY), MultiLine]
    body_text: Annotated[str, StringConstraints(min_length=1, max_length=MAX_BODY), MultiLine]


class SegmentIn(BaseModel):
    """Who the campaign is for; an empty list means any value."""

    model_config = _STRICT

    languages: list[Language] = Field(default_factory=list, max_length=3)
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    contact_types: list[ContactType] = Field(default_factory=list, max_length=2)


class CampaignCreate(BaseModel):
    model_config = _STRICT

    name: Name
    channel: CampaignChannel
    purpose: CampaignPurpose = Purpose.DIRECT_MARKETING
    subject: Subject = ""
    body_html: Body = ""
    body_text: Body = ""
    translations: dict[Language, ContentIn] = Field(
        default_factory=dict,
        description="Versions in other languages; a contact gets the one in their language, "
        "else the main one.",
    )
    segment: SegmentIn = Field(default_factory=SegmentIn)
    similar_products: bool = Field(
        default=False,
        description="The offer is for the company's own similar products: existing customers "
        "without consent may receive it (soft opt-in) unless they opted out.",
    )
    send_at: SendAt = None

    @model_validator(mode="after")
    def _email_needs_content(self) -> CampaignCreate:
        if self.channel is CampaignChannel.EMAIL:
            missing = [f for f in ("subject", "body_html", "body_text") if not getattr(self, f)]
            if missing:
                raise ValueError(f"an email campaign needs {', '.join(missing)}")
        return self


class CampaignUpdate(BaseModel):
    """PATCH of a draft: only the fields sent change."""

    model_config = _STRICT

    name: Name | None = None
    subject: Subject | None = None
    body_html: Body | None = None
    body_text: Body | None = None
    translations: dict[Language, ContentIn] | None = None
    segment: SegmentIn | None = None
    similar_products: bool | None = None
    send_at: SendAt = None


class Counts(BaseModel):
    queued: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0


class CampaignRead(BaseModel):
    id: int
    name: str
    channel: CampaignChannel
    purpose: Purpose
    subject: str
    body_html: str
    body_text: str
    translations: dict[str, Any]
    segment: dict[str, Any]
    similar_products: bool
    status: CampaignStatus
    send_at: datetime | None
    pause_reason: str | None
    counts: Counts
    failures: dict[str, int] = Field(
        default_factory=dict,
        description="Failed recipients by reason: render_error, address_not_deliverable, "
        "rejected, temporary_failures, unexpected_error.",
    )
    complaints: int = Field(
        default=0, description="Spam complaints about the campaign's messages (ARF, ESP events)."
    )
    complaint_rate: float = Field(
        default=0.0,
        description="complaints / messages sent (0 before any is sent); the campaign pauses "
        "itself at CONSENTRY_COMPLAINT_PAUSE_RATE.",
    )
    bounce_classes: dict[str, int] = Field(
        default_factory=dict,
        description="Bounces counted against the campaign by class: bad_address (suppressed), "
        "soft (counted per address), policy (our IP or content refused; a spike pauses the "
        "campaign, CONSENTRY_POLICY_PAUSE_AFTER). Refusals while sending and reports alike.",
    )
    audience_at_build: dict[str, Any] | None
    list_built_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime
    updated_at: datetime


class Audience(BaseModel):
    total: int = Field(description="Contacts in the register.")
    eligible: int
    excluded: dict[Reason, int] = Field(
        description="Contacts left out, per reason; a contact with several reasons counts "
        "under each."
    )


class AudienceMember(BaseModel):
    id: int
    full_name: str


class AudienceMembers(BaseModel):
    """One page of the people behind one count of the audience."""

    reason: str = Field(description="eligible, or the reason code they are left out for.")
    items: list[AudienceMember] = Field(description="In id order.")
    limit: int
    offset: int
    more: bool = Field(description="Whether another page follows.")


class PreviewRequest(BaseModel):
    model_config = _STRICT

    contact_id: int


class Preview(BaseModel):
    language: str
    subject: str
    html: str
    text: str
    eligible: bool
    reasons: list[Reason]


class CallListRead(BaseModel):
    id: int
    campaign_id: int
    status: str
    entry_count: int
    audience_at_build: dict[str, Any] | None
    created_at: datetime
    built_at: datetime | None
    expires_at: datetime | None
