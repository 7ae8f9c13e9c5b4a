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
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)

from service.contacts.schemas import Tag
from service.labels import N_
from service.models.enums import (
    BodyFormat,
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
# An SMS text as written (the rendered one may differ): ten GSM-7 segments.
MAX_SMS_BODY = 1_600


def _direct_marketing_only(value: Purpose) -> Purpose:
    # Campaigns are direct marketing; tracking and profiling are consents, not messages.
    if value is not Purpose.DIRECT_MARKETING:
        raise ValueError(N_("campaigns are for direct_marketing"))
    return value


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError(N_("must include a time zone, e.g. 2026-12-01T09:00:00+02:00"))
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


class SmsContentIn(BaseModel):
    """One language version of an SMS: its text only."""

    model_config = _STRICT

    body_text: Annotated[str, StringConstraints(min_length=1, max_length=MAX_SMS_BODY), MultiLine]


_SMS_TRANSLATIONS = TypeAdapter(dict[Language, SmsContentIn])


def _per_channel(value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
    """Translations as the campaign's channel has them: an email's with a
    subject and both bodies (``ContentIn``), an SMS's with the text alone
    (``SmsContentIn``). The channel is validated before the translations."""
    channel = info.data.get("channel")
    if channel is None and _text_only(value):
        # A PATCH names no channel: versions with nothing but a text are an
        # SMS's, and the service refuses them for an email campaign.
        channel = CampaignChannel.SMS
    if channel is not CampaignChannel.SMS:
        return handler(value)
    try:
        return _SMS_TRANSLATIONS.validate_python(value)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise ValueError(f"an SMS translation has body_text only ({problems})") from None


def _text_only(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and bool(value)
        and all(isinstance(v, dict) and set(v) == {"body_text"} for v in value.values())
    )


# An email's version has a subject and both bodies, an SMS's the text alone.
Translation = ContentIn | SmsContentIn
Translations = Annotated[dict[Language, ContentIn], WrapValidator(_per_channel)]


class SegmentIn(BaseModel):
    """Who the campaign is for; an empty list means any value."""

    model_config = _STRICT

    languages: list[Language] = Field(default_factory=list, max_length=3)
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    contact_types: list[ContactType] = Field(default_factory=list, max_length=2)


BODY_FORMAT = (
    "html (body_html is the HTML) or markdown (body_source is Markdown, turned into "
    "body_html when saved; HTML in it is shown as text)."
)
BODY_SOURCE = (
    "What the author wrote when the service makes body_html from it: the Markdown, or "
    "the HTML that goes into the layout. Jinja in it is rendered per recipient."
)
LAYOUT_ID = "A saved layout (/layouts): the body goes where it says {{ content }}, CSS inlined."
TEXT_WRITTEN = (
    "The text part was written by hand (body_text). When false, body_text is made from "
    "the HTML at each save. Default: true when body_text is given."
)


class CampaignCreate(BaseModel):
    model_config = _STRICT

    name: Name
    channel: CampaignChannel
    purpose: CampaignPurpose = Purpose.DIRECT_MARKETING
    subject: Subject = ""
    body_html: Body = ""
    body_text: Body = ""
    translations: Translations = Field(
        default_factory=dict,
        description="Versions in other languages; a contact gets the one in their language, "
        "else the main one. Email: subject, body_html, body_text; SMS: body_text only.",
    )
    segment: SegmentIn = Field(default_factory=SegmentIn)
    similar_products: bool = Field(
        default=False,
        description="The offer is for the company's own similar products: existing customers "
        "without consent may receive it (soft opt-in) unless they opted out.",
    )
    send_at: SendAt = None
    body_format: BodyFormat = Field(default=BodyFormat.HTML, description=BODY_FORMAT)
    body_source: Body = Field(default="", description=BODY_SOURCE)
    layout_id: int | None = Field(default=None, description=LAYOUT_ID)
    text_written: bool | None = Field(default=None, description=TEXT_WRITTEN)

    @model_validator(mode="after")
    def _email_needs_content(self) -> CampaignCreate:
        if self.channel is CampaignChannel.EMAIL:
            missing = missing_content(self)
            if missing:
                raise ValueError(f"an email campaign needs {', '.join(missing)}")
        problem = content_problem(self.channel, self.subject, self.body_html, self.body_text)
        if problem is not None:
            raise ValueError(problem)
        return self


def missing_content(campaign: Any) -> list[str]:
    """The email fields still empty: a subject; the body (body_source when the
    service makes body_html from it, else body_html); body_text when written."""
    derived = campaign.body_format is BodyFormat.MARKDOWN or campaign.layout_id is not None
    needed = ["subject", "body_source" if derived else "body_html"]
    if campaign.text_written or (campaign.text_written is None and not derived):
        needed.append("body_text")
    return [f for f in needed if not getattr(campaign, f)]


def content_problem(
    channel: CampaignChannel, subject: str, body_html: str, body_text: str
) -> str | None:
    """What is wrong with an SMS campaign's main version, if anything."""
    if channel is not CampaignChannel.SMS:
        return None
    if subject or body_html:
        return "an SMS campaign has no subject or body_html; its text is body_text"
    if not body_text:
        return "an SMS campaign needs body_text"
    if len(body_text) > MAX_SMS_BODY:
        return f"an SMS text is at most {MAX_SMS_BODY} characters"
    return None


class CampaignUpdate(BaseModel):
    """PATCH of a draft: only the fields sent change."""

    model_config = _STRICT

    name: Name | None = None
    subject: Subject | None = None
    body_html: Body | None = None
    body_text: Body | None = None
    translations: Translations | None = None
    segment: SegmentIn | None = None
    similar_products: bool | None = None
    send_at: SendAt = None
    body_format: BodyFormat | None = Field(default=None, description=BODY_FORMAT)
    body_source: Body | None = Field(default=None, description=BODY_SOURCE)
    layout_id: int | None = Field(default=None, description=LAYOUT_ID + " null: none.")
    text_written: bool | None = Field(default=None, description=TEXT_WRITTEN)


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
    body_format: BodyFormat
    body_source: str
    layout_id: int | None
    text_written: bool
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


class SmsSize(BaseModel):
    """What an SMS costs: GSM-7 or UCS-2, and the segments it is sent in."""

    encoding: str = Field(description="gsm7 or ucs2")
    segments: int
    characters: int
    units: int = Field(
        description="Septets (GSM-7, the extension table counting two) or "
        "UTF-16 code units (UCS-2)."
    )


class Preview(BaseModel):
    language: str
    subject: str
    html: str
    text: str
    eligible: bool
    reasons: list[Reason]
    sms: SmsSize | None = Field(
        default=None, description="For an SMS campaign: the size of this text, opt-out included."
    )


class SmsSizes(BaseModel):
    """Each version of an SMS campaign, rendered for a sample contact with the
    opt-out line and a link of the real length."""

    versions: dict[str, SmsSize] = Field(description='"default" and each translation\'s language.')
    text: dict[str, str] = Field(description="The sample rendering each size was counted on.")


class CallListRead(BaseModel):
    id: int
    campaign_id: int
    status: str
    entry_count: int
    audience_at_build: dict[str, Any] | None
    created_at: datetime
    built_at: datetime | None
    expires_at: datetime | None


class ProofRequest(BaseModel):
    """A test send: the sample contact's language (which version is sent)."""

    model_config = _STRICT

    language: Language = Language.FI


class LayoutRead(BaseModel):
    id: int
    name: str
    mjml: str
    html: str = Field(description="Compiled from the MJML when saved; CSS not yet inlined.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, layout: Any) -> LayoutRead:
        return cls.model_validate(layout, from_attributes=True)
