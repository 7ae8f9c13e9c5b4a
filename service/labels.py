"""Words for codes: a human label for every member of the register's enums.

Staff read ``Direct marketing``, not ``direct_marketing``. Each label is
written in English and marked with ``N_`` so Babel extracts it into the
catalogs; it is translated when it is shown (``service.i18n.label``, the
``|label`` filter of the staff pages), in the language of the moment, so
this table is read once and serves every language.

The same English word may name members of several enums (``Email`` is a
channel, a way consent arrived and a request channel); its translation is
then the same everywhere, so words that a language tells apart are written
apart in English too (a campaign is ``Finished``, a request ``Handled``).

A unit test (tests/unit/test_labels.py) fails when a member has no label:
a new code needs its words here, and their Finnish and Swedish in
service/locale (docs/translations.md).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from service.models.audit import AuditActor
from service.models.engagement import EngagementKind
from service.models.enums import (
    Actor,
    BanChannel,
    BanKind,
    BodyFormat,
    BounceClass,
    BreachRisk,
    CallListStatus,
    CampaignChannel,
    CampaignStatus,
    CaptureMethod,
    Channel,
    ConsentAction,
    ContactType,
    DeliveryEventKind,
    DisclosureRecipient,
    FailureReason,
    Gender,
    IdentityCodeBasis,
    InteractionKind,
    Language,
    LegalBasis,
    LoginOutcome,
    NotificationCause,
    ObjectionDecision,
    ObjectionScope,
    ProfileState,
    Purpose,
    Reason,
    RecipientStatus,
    RequestChannel,
    RequestStatus,
    RequestType,
    Role,
    Source,
    StaffLinkPurpose,
    SuppressionKind,
    SuppressionReason,
    VerificationMethod,
)


def N_(message: str) -> str:  # gettext's name for "mark, translate when shown"
    """Mark ``message`` for extraction; it is translated when shown."""
    return message


_EMAIL, _SMS, _PHONE, _POST = N_("Email"), N_("SMS"), N_("Phone"), N_("Post")

LABELS: Final[dict[type[StrEnum], dict[str, str]]] = {
    Channel: {
        Channel.EMAIL: _EMAIL,
        Channel.SMS: _SMS,
        Channel.PHONE: _PHONE,
        Channel.POST: _POST,
    },
    BanChannel: {
        BanChannel.ALL: N_("All channels"),
        BanChannel.EMAIL: _EMAIL,
        BanChannel.SMS: _SMS,
        BanChannel.PHONE: _PHONE,
        BanChannel.POST: _POST,
    },
    CampaignChannel: {
        CampaignChannel.EMAIL: _EMAIL,
        CampaignChannel.SMS: _SMS,
        CampaignChannel.PHONE: _PHONE,
    },
    Purpose: {
        Purpose.DIRECT_MARKETING: N_("Direct marketing"),
        Purpose.EMAIL_TRACKING: N_("Email tracking"),
        Purpose.PROFILING_REPORT: N_("Profiling report"),
    },
    ConsentAction: {
        ConsentAction.GRANT: N_("Granted"),
        ConsentAction.WITHDRAW: N_("Withdrawn"),
    },
    BanKind: {
        BanKind.DIRECT_MARKETING: N_("Direct-marketing ban"),
        BanKind.PURCHASE_REGISTRATION: N_("Purchase-registration ban"),
    },
    Language: {
        Language.FI: N_("Finnish"),
        Language.SV: N_("Swedish"),
        Language.EN: N_("English"),
    },
    Gender: {
        Gender.FEMALE: N_("Female"),
        Gender.MALE: N_("Male"),
        Gender.OTHER: N_("Other"),
        Gender.UNSPECIFIED: N_("Not specified"),
    },
    ContactType: {
        ContactType.PERSON: N_("Person"),
        ContactType.BUSINESS: N_("Business contact"),
    },
    LegalBasis: {
        LegalBasis.CUSTOMER_RELATIONSHIP: N_("Customer relationship"),
        LegalBasis.ASSIGNMENT: N_("Assignment"),
        LegalBasis.CONSENT: N_("Consent"),
        LegalBasis.OTHER_CONNECTION: N_("Other relevant connection"),
    },
    Source: {
        Source.SELF: N_("The person themselves"),
        Source.EMPLOYER: N_("Employer"),
        Source.COACH: N_("Coach"),
        Source.PARTNER: N_("Partner"),
        Source.PUBLIC_SOURCE: N_("Public source"),
        Source.ACTIVITY: N_("Their own activity"),
        Source.IMPORT: N_("Import"),
    },
    CaptureMethod: {
        CaptureMethod.WEB_FORM: N_("Web form"),
        CaptureMethod.PAPER_FORM: N_("Paper form"),
        CaptureMethod.EMAIL: _EMAIL,
        CaptureMethod.PHONE_CALL: N_("Phone call"),
        CaptureMethod.IN_PERSON: N_("In person"),
        CaptureMethod.POST: _POST,
        CaptureMethod.IMPORT: N_("Import"),
        CaptureMethod.ONE_CLICK: N_("One-click unsubscribe"),
        CaptureMethod.LINK_PAGE: N_("Unsubscribe page"),
        CaptureMethod.MAILTO: N_("Unsubscribe by email"),
        CaptureMethod.PREFERENCE_CENTRE: N_("Preference centre"),
        CaptureMethod.COMPLAINT: N_("Spam complaint"),
        CaptureMethod.SMS: N_("Text message"),
        CaptureMethod.DOUBLE_OPT_IN: N_("Confirmed signup (double opt-in)"),
        CaptureMethod.PRIVACY_PORTAL: N_("Privacy portal"),
    },
    Actor: {
        Actor.STAFF: N_("Staff"),
        Actor.PUBLIC_LINK: N_("The person, through a link"),
        Actor.IMPORT: N_("Import"),
        Actor.SYSTEM: N_("System"),
    },
    AuditActor: {
        AuditActor.STAFF: N_("Staff"),
        AuditActor.PUBLIC: N_("Unauthenticated caller"),
        AuditActor.SYSTEM: N_("System"),
    },
    Reason: {
        Reason.NO_CONSENT: N_("No consent"),
        Reason.CONSENT_WITHDRAWN: N_("Consent withdrawn"),
        Reason.DIRECT_MARKETING_BAN: N_("Direct-marketing ban"),
        Reason.CHANNEL_BAN: N_("Ban on this channel"),
        Reason.RESTRICTED: N_("Processing restricted"),
        Reason.OBJECTED: N_("Objected"),
        Reason.RETENTION_EXPIRED: N_("Retention period over"),
        Reason.SUPPRESSED: N_("On the suppression list"),
        Reason.NO_ADDRESS: N_("No address"),
        Reason.ROBINSON_LISTED: N_("On the Robinson register"),
        Reason.FREQUENCY_CAP: N_("Frequency cap reached"),
        Reason.OUTSIDE_SEGMENT: N_("Outside the segment"),
        Reason.UNCONFIRMED: N_("Signup not confirmed"),
        Reason.NO_PURCHASE_RECORD: N_("No purchase recorded"),
        Reason.NO_REFUSAL_NOTICE: N_("No record of the right to refuse"),
        Reason.NO_BUSINESS_ROLE: N_("No business role recorded"),
    },
    Role: {
        Role.ADMIN: N_("Administrator"),
        Role.MARKETER: N_("Marketer"),
        Role.PRIVACY_OFFICER: N_("Privacy officer"),
        Role.CALLER: N_("Caller"),
        Role.VIEWER: N_("Viewer"),
    },
    StaffLinkPurpose: {
        StaffLinkPurpose.INVITE: N_("Invitation"),
        StaffLinkPurpose.RESET: N_("Password reset"),
    },
    BodyFormat: {
        BodyFormat.HTML: N_("HTML"),
        BodyFormat.MARKDOWN: N_("Markdown"),
    },
    CampaignStatus: {
        CampaignStatus.DRAFT: N_("Draft"),
        CampaignStatus.SCHEDULED: N_("Scheduled"),
        CampaignStatus.SENDING: N_("Sending"),
        CampaignStatus.PAUSED: N_("Paused"),
        CampaignStatus.DONE: N_("Finished"),
        CampaignStatus.CANCELLED: N_("Cancelled"),
    },
    RecipientStatus: {
        RecipientStatus.QUEUED: N_("Queued"),
        RecipientStatus.SENT: N_("Sent"),
        RecipientStatus.FAILED: N_("Failed"),
        RecipientStatus.SKIPPED: N_("Skipped"),
    },
    FailureReason: {
        FailureReason.RENDER_ERROR: N_("Template error"),
        FailureReason.ADDRESS_NOT_DELIVERABLE: N_("Undeliverable address"),
        FailureReason.REJECTED: N_("Rejected by the receiving server"),
        FailureReason.TEMPORARY_FAILURES: N_("Repeated temporary failures"),
        FailureReason.UNEXPECTED_ERROR: N_("Unexpected error"),
    },
    SuppressionReason: {
        SuppressionReason.BOUNCE: N_("Bounced"),
        SuppressionReason.SOFT_BOUNCE: N_("Repeated soft bounces"),
        SuppressionReason.ERASURE: N_("Erased"),
        SuppressionReason.OBJECTION: N_("Objection"),
        SuppressionReason.COMPLAINT: N_("Spam complaint"),
    },
    SuppressionKind: {
        SuppressionKind.EMAIL: N_("Email address"),
        SuppressionKind.PHONE: N_("Phone number"),
    },
    CallListStatus: {
        CallListStatus.BUILDING: N_("Being built"),
        CallListStatus.READY: N_("Ready"),
        CallListStatus.EXPIRED: N_("Expired"),
        CallListStatus.REFUSED: N_("Not built"),
    },
    ProfileState: {
        ProfileState.KEPT: N_("Kept"),
        ProfileState.TRANSFERRED: N_("Transferred"),
        ProfileState.DESTROYED: N_("Destroyed"),
    },
    InteractionKind: {
        InteractionKind.SERVICE_CONTACT: N_("Service contact"),
        InteractionKind.CONTACT_INITIATIVE: N_("Contact initiative"),
        InteractionKind.PURCHASE: N_("Purchase"),
    },
    RequestType: {
        RequestType.ACCESS: N_("Access"),
        RequestType.PORTABILITY: N_("Data portability"),
        RequestType.RECTIFICATION: N_("Rectification"),
        RequestType.ERASURE: N_("Erasure"),
        RequestType.RESTRICTION: N_("Restriction of processing"),
        RequestType.OBJECTION: N_("Objection"),
        RequestType.WITHDRAWAL: N_("Withdrawal of consent"),
    },
    RequestChannel: {
        RequestChannel.POST: _POST,
        RequestChannel.EMAIL: _EMAIL,
        RequestChannel.PHONE: _PHONE,
        RequestChannel.IN_PERSON: N_("In person"),
        RequestChannel.WEB: N_("Web"),
        RequestChannel.REPLY: N_("Reply to our mail"),
    },
    RequestStatus: {
        RequestStatus.OPEN: N_("Open"),
        RequestStatus.DONE: N_("Handled"),
        RequestStatus.REFUSED: N_("Refused"),
    },
    VerificationMethod: {
        VerificationMethod.REGISTERED_EMAIL_REPLY: N_("Reply from the registered address"),
        VerificationMethod.STRONG_IDENTIFICATION: N_("Strong electronic identification"),
        VerificationMethod.IN_PERSON_ID_DOCUMENT: N_("ID document in person"),
        VerificationMethod.EMAIL_LINK: N_("Link mailed to the registered address"),
    },
    ObjectionScope: {
        ObjectionScope.DIRECT_MARKETING: N_("Direct marketing"),
        ObjectionScope.OTHER_PROCESSING: N_("Other processing"),
    },
    ObjectionDecision: {
        ObjectionDecision.PENDING: N_("Pending"),
        ObjectionDecision.UPHELD: N_("Upheld"),
        ObjectionDecision.REJECTED: N_("Rejected"),
    },
    DisclosureRecipient: {
        DisclosureRecipient.EMPLOYER: N_("Employer"),
        DisclosureRecipient.COACH: N_("Coach"),
        DisclosureRecipient.PROGRAMME_PARTICIPANTS: N_("Programme participants"),
        DisclosureRecipient.AUTHORITY: N_("Authority"),
        DisclosureRecipient.OTHER: N_("Other"),
    },
    LoginOutcome: {
        LoginOutcome.PASSWORD_ACCEPTED: N_("Password accepted"),
        LoginOutcome.PASSWORD_FAILED: N_("Wrong password"),
        LoginOutcome.SECOND_FACTOR_ACCEPTED: N_("Second factor accepted"),
        LoginOutcome.SECOND_FACTOR_FAILED: N_("Wrong second factor"),
        LoginOutcome.THROTTLED: N_("Too many attempts"),
    },
    BounceClass: {
        BounceClass.BAD_ADDRESS: N_("Address does not exist"),
        BounceClass.SOFT: N_("Soft bounce"),
        BounceClass.POLICY: N_("Refused by policy"),
    },
    DeliveryEventKind: {
        DeliveryEventKind.BOUNCE: N_("Bounce"),
        DeliveryEventKind.COMPLAINT: N_("Spam complaint"),
    },
    IdentityCodeBasis: {
        IdentityCodeBasis.CONSENT: N_("Consent"),
        IdentityCodeBasis.LAW: N_("Provided for by law"),
        IdentityCodeBasis.CUSTOMER_IDENTIFICATION: N_("Identifying the customer"),
        IdentityCodeBasis.STATUTORY_TASK: N_("Statutory task"),
    },
    BreachRisk: {
        BreachRisk.UNLIKELY: N_("Unlikely to result in a risk"),
        BreachRisk.RISK: N_("Risk"),
        BreachRisk.HIGH: N_("High risk"),
    },
    NotificationCause: {
        NotificationCause.RECTIFICATION: N_("Rectification"),
        NotificationCause.ERASURE: N_("Erasure"),
        NotificationCause.RESTRICTION: N_("Restriction of processing"),
    },
    EngagementKind: {
        EngagementKind.OPEN: N_("Opened"),
        EngagementKind.CLICK: N_("Clicked"),
        EngagementKind.VISIT: N_("Visited"),
    },
}

# The enums by name, for a code that arrives as a plain string: label("Purpose", code).
BY_NAME: Final[dict[str, type[StrEnum]]] = {kind.__name__: kind for kind in LABELS}


def english(kind: type[StrEnum] | str, value: str) -> str | None:
    """The untranslated label of ``value`` in the enum ``kind`` (a class or
    its name), or None when there is none."""
    enum = BY_NAME.get(kind) if isinstance(kind, str) else kind
    if enum is None:
        return None
    return LABELS.get(enum, {}).get(str(value))
