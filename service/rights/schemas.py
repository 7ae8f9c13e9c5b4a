"""Request and response bodies for people's rights: restriction, objection,
legal hold, and the sections of the access export."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from service.consent.schemas import BanRead, ConsentLedger, Receipt
from service.contacts.schemas import ContactRead
from service.labels import N_
from service.models.engagement import EngagementKind
from service.models.enums import (
    CallListStatus,
    CampaignChannel,
    CaptureMethod,
    ConsentAction,
    DisclosureRecipient,
    InteractionKind,
    ObjectionDecision,
    ObjectionScope,
    ProfileState,
    RecipientStatus,
    RequestChannel,
    RequestStatus,
    RequestType,
    Role,
    VerificationMethod,
)
from service.rights.article15 import Article15

_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)
Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
LongNote = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
RequestId = Annotated[
    int | None, Field(default=None, ge=1, description="The open request this answers.")
]


# -- restriction (GDPR 18) ---------------------------------------------------------


class RestrictionCreate(BaseModel):
    model_config = _STRICT

    reason: Note = Field(description="Why: e.g. accuracy contested, objection being assessed.")
    request_id: RequestId = None


class RestrictionLift(BaseModel):
    model_config = _STRICT

    note: Note | None = None
    request_id: RequestId = None
    informed_how: Annotated[
        str | None, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
    ] = Field(
        default=None,
        description="How the person was told the restriction is being lifted (GDPR 18(3)), "
        "e.g. letter or phone: required when they have no email address; given, no mail "
        "is sent. Without it the person is mailed first.",
    )


class RestrictionRead(BaseModel):
    contact_id: int
    restricted: bool
    restricted_at: datetime | None
    reason: str | None = Field(
        default=None, description="The reason given when restricting (kept in its history)."
    )
    note: str | None = Field(default=None, description="The note given when lifting (kept).")
    request_id: int | None = None
    recipients_notified: list[str] = Field(
        default_factory=list,
        description="When placing: the recipients of disclosed data a notification task "
        "was opened for (GDPR 19; GET /recipient-notifications).",
    )
    person_informed_at: datetime | None = Field(
        default=None, description="When lifting: when the person was told (GDPR 18(3))."
    )
    person_informed_how: str | None = Field(
        default=None, description="When lifting: how (`email`, or what staff stated)."
    )


# -- objection (GDPR 21) -----------------------------------------------------------


class ObjectionCreate(BaseModel):
    model_config = _STRICT

    scope: ObjectionScope
    grounds: LongNote | None = Field(
        default=None, description="The person's particular situation (other_processing)."
    )
    method: CaptureMethod | None = Field(default=None, description="How the objection arrived.")
    request_id: RequestId = None


class ObjectionDecide(BaseModel):
    model_config = _STRICT

    decision: Literal["upheld", "rejected"]
    note: LongNote | None = Field(
        default=None, description="Required when rejecting: the compelling legitimate grounds."
    )
    request_id: RequestId = None

    @model_validator(mode="after")
    def _rejection_needs_grounds(self) -> ObjectionDecide:
        if self.decision == "rejected" and self.note is None:
            raise ValueError(
                N_("a rejection needs a note naming the compelling legitimate grounds")
            )
        return self


class ObjectionRead(BaseModel):
    id: int
    contact_id: int
    scope: ObjectionScope
    grounds: str | None
    decision: ObjectionDecision
    decision_note: str | None
    decided_at: datetime | None
    decided_by_user_id: int | None
    request_id: int | None
    recorded_by_user_id: int | None
    recorded_at: datetime


# -- legal hold (GDPR 17(3)(e)) ----------------------------------------------------


class LegalHoldCreate(BaseModel):
    model_config = _STRICT

    reason: Note


class LegalHoldLift(BaseModel):
    model_config = _STRICT

    note: Note | None = None


class LegalHoldRead(BaseModel):
    id: int
    contact_id: int
    reason: str
    active: bool
    placed_by_user_id: int | None
    placed_at: datetime
    lifted_at: datetime | None
    lifted_by_user_id: int | None
    lift_note: str | None


class RegisterSizes(BaseModel):
    """Counts only: the suppression list holds keyed hashes no one needs to see."""

    suppressions: int = Field(description="Addresses on the suppression list.")
    erasures: int = Field(description="Contacts erased.")
    legal_holds: int = Field(description="Legal holds in force.")


class RestrictionHistoryRead(BaseModel):
    id: int
    reason: str
    request_id: int | None
    placed_by_user_id: int | None
    placed_at: datetime
    lifted_at: datetime | None
    lifted_by_user_id: int | None
    lift_note: str | None
    person_informed_at: datetime | None = None
    person_informed_how: str | None = None


# -- the access export (GDPR 15, 20) -----------------------------------------------


class EngagementRead(BaseModel):
    id: int
    kind: EngagementKind
    campaign_id: int | None
    link_index: int | None
    page: str | None
    referrer: str | None
    next_page: str | None
    ip_network: str | None
    browser_family: str | None
    browser_major: str | None
    os_family: str | None
    automated: bool
    consent_event_id: int | None = Field(
        description="The email-tracking grant (a consents history id) the event was stored "
        "under; empty for events stored before it was recorded."
    )
    site_consent_event_id: int | None = Field(
        description="For a page view: the website analytics grant (a site consents id) it "
        "was accepted under."
    )
    occurred_at: datetime


class SiteConsentRead(BaseModel):
    """A decision in the website's cookie banner, once the visitor was known."""

    id: int
    visitor: str = Field(description="The random id of the browser's consent cookie.")
    category: str = Field(description="`analytics` or `marketing`.")
    action: ConsentAction
    text_id: int | None = Field(description="The banner text shown (`consent_texts`).")
    text_version: int | None
    text_hash: str | None
    language: str | None
    ip_network: str | None
    occurred_at: datetime


class MessageRead(BaseModel):
    campaign_id: int
    campaign_name: str
    channel: CampaignChannel
    status: RecipientStatus
    reason: str | None
    attempts: int
    smtp_code: int | None
    smtp_reply: str | None
    sent_at: datetime | None
    bounced_at: datetime | None
    bounce_status: str | None


class CallListEntryRead(BaseModel):
    call_list_id: int
    campaign_id: int
    campaign_name: str
    status: CallListStatus
    built_at: datetime | None
    expires_at: datetime | None


class ProfileMetadata(BaseModel):
    """A behavioural profile's record and, while it is kept here, the report
    itself (decrypted): it is the person's own. ``content`` is null once the
    profile was handed to the vendor or destroyed."""

    id: int
    completed_on: date
    has_vendor_account: bool
    transfer_forbidden_at: datetime | None
    state: ProfileState
    transfer_notice_sent_at: datetime | None
    transferred_at: datetime | None
    destroyed_at: datetime | None
    recorded_at: datetime
    content: str | dict[str, Any] | None = None


class InteractionRead(BaseModel):
    id: int
    kind: InteractionKind
    occurred_on: date
    note: str | None
    details: dict[str, Any] | None
    product_group: str | None
    address_collected: bool
    refusal_offered: bool
    recorded_at: datetime


class DisclosureRead(BaseModel):
    id: int
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
    recorded_at: datetime


class RequestActionRead(BaseModel):
    request_id: int
    action: str
    done_by_user_id: int | None
    done_at: datetime


class RequestRead(BaseModel):
    id: int
    type: RequestType
    channel: RequestChannel
    received_on: date
    requester: str | None
    description: str | None
    verification_method: VerificationMethod | None
    verified_at: datetime | None
    due_on: date
    extended_due_on: date | None
    extension_reason: str | None
    status: RequestStatus
    outcome: str | None
    closed_at: datetime | None
    actions: list[RequestActionRead]


class RectificationRead(BaseModel):
    id: int
    fields: list[str] = Field(description="The names of the fields changed; never values.")
    changed_by_user_id: int | None
    request_id: int | None
    changed_at: datetime


class DownloadRead(BaseModel):
    """A call list that held the person was downloaded by a staff member."""

    call_list_id: int
    campaign_id: int
    user_id: int | None
    user_role: Role | None
    downloaded_at: datetime


class AccessLogEntry(BaseModel):
    """A staff member read or changed the person's record (from the audit trail)."""

    occurred_at: datetime
    action: str
    user_id: int | None
    user_role: Role | None
    reason: str | None


class AccessLog(BaseModel):
    recorded: bool
    note: str
    events: list[AccessLogEntry]


class Accesses(BaseModel):
    call_list_downloads: list[DownloadRead]
    access_log: AccessLog


class AccessExport(BaseModel):
    """Everything held about one person, and what Article 15 says they must be told."""

    generated_at: datetime
    contact: ContactRead
    consents: ConsentLedger
    consent_receipts: list[Receipt] = Field(
        description="A receipt (docs/receipts.md) for every event of the consent ledger."
    )
    bans: list[BanRead]
    engagement: list[EngagementRead]
    site_consents: list[SiteConsentRead] = []
    messages: list[MessageRead]
    call_lists: list[CallListEntryRead]
    profiles: list[ProfileMetadata]
    interactions: list[InteractionRead]
    disclosures: list[DisclosureRead]
    objections: list[ObjectionRead]
    legal_holds: list[LegalHoldRead]
    restrictions: list[RestrictionHistoryRead]
    requests: list[RequestRead]
    rectifications: list[RectificationRead]
    accesses: Accesses
    information: Article15
