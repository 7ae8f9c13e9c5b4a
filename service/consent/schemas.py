"""Bodies for the consent ledger, bans and eligibility."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from service.ip import truncate_ip
from service.labels import N_
from service.models.enums import (
    Actor,
    BanChannel,
    BanKind,
    CaptureMethod,
    Channel,
    ConsentAction,
    Purpose,
    Reason,
    Source,
)
from service.validation import MultiLine, SingleLine

_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _network(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return truncate_ip(value)
    except ValueError:
        raise ValueError(N_("must be an IPv4 or IPv6 address")) from None


class Evidence(BaseModel):
    """The proof of a consent: what the person saw and where from. The IP is
    truncated to its /24 (IPv4) or /48 (IPv6) network before it is stored."""

    model_config = _STRICT

    # The text shown may run over several lines; the rest are one-liners.
    text: Annotated[str, StringConstraints(min_length=1, max_length=4000), MultiLine] | None = None
    notice_version: (
        Annotated[str, StringConstraints(min_length=1, max_length=64), SingleLine] | None
    ) = None
    ip: (
        Annotated[str, StringConstraints(max_length=64), AfterValidator(_network), SingleLine]
        | None
    ) = None


class ConsentCreate(BaseModel):
    model_config = _STRICT

    channel: Channel
    purpose: Purpose
    action: ConsentAction
    source: Source
    method: CaptureMethod
    evidence: Evidence | None = None

    @model_validator(mode="after")
    def _grant_needs_proof(self) -> ConsentCreate:
        # GDPR 7(1): the controller must be able to show the consent was given.
        if self.action is ConsentAction.GRANT and (
            self.evidence is None
            or (self.evidence.text is None and self.evidence.notice_version is None)
        ):
            raise ValueError(N_("a grant needs evidence: the text shown or the notice version"))
        return self


class ConsentEventRead(BaseModel):
    id: int
    channel: Channel
    purpose: Purpose
    action: ConsentAction
    source: Source
    method: CaptureMethod
    evidence_text: str | None
    notice_version: str | None
    evidence_ip: str | None
    campaign_id: int | None
    actor: Actor
    recorded_by_user_id: int | None
    occurred_at: datetime
    # How Consentry collected it, where it did (a form, the preference centre,
    # the portal): the archived text version, its language, the form (slug)
    # and its version, and when the form was submitted.
    text_id: int | None = None
    language: str | None = None
    form: str | None = Field(default=None, description="The signup form's slug, where used.")
    form_version: int | None = None
    submitted_at: datetime | None = None


class ConsentStateRead(BaseModel):
    channel: Channel
    purpose: Purpose
    state: ConsentAction = Field(description="The action of the latest event for this pair.")
    event_id: int
    since: datetime


class ConsentLedger(BaseModel):
    current: list[ConsentStateRead]
    history: list[ConsentEventRead] = Field(description="Every event, oldest first.")


class BanCreate(BaseModel):
    model_config = _STRICT

    kind: BanKind
    channel: BanChannel = BanChannel.ALL
    source: Source
    method: CaptureMethod | None = None
    note: Annotated[str, StringConstraints(min_length=1, max_length=2000), MultiLine] | None = None

    @model_validator(mode="after")
    def _purchase_ban_has_no_channel(self) -> BanCreate:
        if self.kind is BanKind.PURCHASE_REGISTRATION and self.channel is not BanChannel.ALL:
            raise ValueError(
                N_("a purchase_registration ban applies to all channels; use channel 'all'")
            )
        return self


class BanLift(BaseModel):
    """Lifting a ban (``DELETE …/bans/{id}`` query parameters, or the body of
    ``POST …/bans/{id}/lift``). A direct-marketing ban needs the person's own
    new act, ``consent_event_id`` or ``request_id``, and a ``reason``; a
    purchase-registration ban only an optional ``note``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: Annotated[str, StringConstraints(min_length=5, max_length=500), MultiLine] | None = None
    note: Annotated[str, StringConstraints(min_length=1, max_length=2000), MultiLine] | None = None
    consent_event_id: Annotated[int, Field(ge=1, le=2**63 - 1)] | None = None
    request_id: Annotated[int, Field(ge=1, le=2**63 - 1)] | None = None


class BanRead(BaseModel):
    id: int
    contact_id: int
    kind: BanKind
    channel: BanChannel
    source: Source
    method: CaptureMethod | None
    note: str | None
    campaign_id: int | None
    actor: Actor
    recorded_by_user_id: int | None
    recorded_at: datetime
    active: bool
    lifted_at: datetime | None
    lifted_by_user_id: int | None
    lift_note: str | None
    lift_consent_event_id: int | None = None
    lift_request_id: int | None = None


class Eligibility(BaseModel):
    eligible: bool
    reasons: list[Reason]


# -- consent receipts (ISO/IEC TS 27560:2023; docs/receipts.md) -------------------


class ReceiptController(BaseModel):
    """The PII controller (27560 ``pii_controllers``: party name, address, contact)."""

    name: str
    business_id: str
    address: str
    privacy_contact: str


class ReceiptText(BaseModel):
    """One text the person was shown when they decided (27560 ``privacy_notice``
    / the consent notice). ``version`` is null for free text a caller sent
    without an archived version; ``hash`` is the SHA-256 of ``text`` (UTF-8)."""

    key: str | None
    language: str | None
    version: int | None
    hash: str
    text: str


class LegalBasis(BaseModel):
    basis: str = Field(description="consent, or withdrawal of consent")
    reference: str = Field(description="The articles of law it rests on.")


class Receipt(BaseModel):
    """A consent receipt for one ledger event: the person's copy of the record
    (ISO/IEC TS 27560:2023, grown from the Kantara Consent Receipt v1.1)."""

    receipt_id: str = Field(description="Stable for the event; not derivable without the key.")
    schema_version: str
    conforms_to: list[str]
    issued_at: datetime
    record_id: int = Field(description="The ledger event this receipt is of.")
    jurisdiction: str
    controller: ReceiptController
    subject_id: str = Field(description="Pseudonymous: a keyed hash of the contact, not the email.")
    purpose: Purpose
    purpose_description: str
    channel: Channel
    action: ConsentAction
    legal_basis: LegalBasis
    method: CaptureMethod
    source: Source
    actor: str = Field(description="person, staff, import or system")
    affirmative_action: str
    form: str | None = Field(description="The signup form's slug, or null.")
    form_version: int | None
    texts: list[ReceiptText]
    notice_version: str | None
    language: str | None
    submitted_at: datetime | None
    submission_network: str | None
    confirmed_at: datetime | None
    recorded_at: datetime
    collection_network: str | None
    how_to_withdraw: list[str]
