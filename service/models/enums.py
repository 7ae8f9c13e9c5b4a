"""The closed vocabularies of the register, shared by tables, schemas and the gate."""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PHONE = "phone"
    POST = "post"


class BanChannel(StrEnum):
    ALL = "all"
    EMAIL = "email"
    SMS = "sms"
    PHONE = "phone"
    POST = "post"


class Purpose(StrEnum):
    DIRECT_MARKETING = "direct_marketing"
    EMAIL_TRACKING = "email_tracking"
    PROFILING_REPORT = "profiling_report"


class ConsentAction(StrEnum):
    GRANT = "grant"
    WITHDRAW = "withdraw"


class BanKind(StrEnum):
    DIRECT_MARKETING = "direct_marketing"
    PURCHASE_REGISTRATION = "purchase_registration"


class Language(StrEnum):
    FI = "fi"
    SV = "sv"
    EN = "en"


class Gender(StrEnum):
    """Used only to choose pronouns in generated text (privacy notice §5)."""

    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNSPECIFIED = "unspecified"


class ContactType(StrEnum):
    PERSON = "person"
    BUSINESS = "business"


class LegalBasis(StrEnum):
    CUSTOMER_RELATIONSHIP = "customer_relationship"
    ASSIGNMENT = "assignment"
    CONSENT = "consent"
    OTHER_CONNECTION = "other_connection"


class Source(StrEnum):
    """Where data came from (privacy notice §7)."""

    SELF = "self"
    EMPLOYER = "employer"
    COACH = "coach"
    PARTNER = "partner"
    PUBLIC_SOURCE = "public_source"
    ACTIVITY = "activity"
    IMPORT = "import"


class CaptureMethod(StrEnum):
    """How a consent, withdrawal or ban reached us."""

    WEB_FORM = "web_form"
    PAPER_FORM = "paper_form"
    EMAIL = "email"
    PHONE_CALL = "phone_call"
    IN_PERSON = "in_person"
    POST = "post"
    IMPORT = "import"
    ONE_CLICK = "one_click"
    LINK_PAGE = "link_page"
    MAILTO = "mailto"
    PREFERENCE_CENTRE = "preference_centre"
    COMPLAINT = "complaint"  # a spam complaint (ARF report or an ESP's event)
    SMS = "sms"  # a text message (a STOP reply through the SMS gateway)
    DOUBLE_OPT_IN = "double_opt_in"  # a signup form, confirmed from the mail it sent
    PRIVACY_PORTAL = "privacy_portal"  # the person's own page at /me


class Actor(StrEnum):
    """Who wrote a ledger row: a staff member, a person through a signed public
    link, an import, or the system itself (bounces, retention)."""

    STAFF = "staff"
    PUBLIC_LINK = "public_link"
    IMPORT = "import"
    SYSTEM = "system"


class Reason(StrEnum):
    """Why a contact may not be contacted: the eligibility and audience codes."""

    NO_CONSENT = "no_consent"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    DIRECT_MARKETING_BAN = "direct_marketing_ban"
    CHANNEL_BAN = "channel_ban"
    RESTRICTED = "restricted"
    OBJECTED = "objected"
    RETENTION_EXPIRED = "retention_expired"
    SUPPRESSED = "suppressed"
    NO_ADDRESS = "no_address"
    ROBINSON_LISTED = "robinson_listed"
    FREQUENCY_CAP = "frequency_cap"
    OUTSIDE_SEGMENT = "outside_segment"
    # A signup form made the contact and the person has not confirmed it yet.
    UNCONFIRMED = "unconfirmed"
    # Soft opt-in (an existing customer, similar products) without its evidence:
    # no purchase recorded through which the address was obtained, or no record
    # that the person was told then that they may refuse.
    NO_PURCHASE_RECORD = "no_purchase_record"
    NO_REFUSAL_NOTICE = "no_refusal_notice"
    # A business contact with no employer or position recorded: a person-named
    # work address counts as business only when it is targeted for the role
    # (SVPL 202 §, the DPO's guidance), so without that evidence the contact
    # needs consent like any person.
    NO_BUSINESS_ROLE = "no_business_role"


class Role(StrEnum):
    ADMIN = "admin"
    MARKETER = "marketer"
    PRIVACY_OFFICER = "privacy_officer"
    CALLER = "caller"
    VIEWER = "viewer"


class StaffLinkPurpose(StrEnum):
    """Why a one-time set-password link was made."""

    INVITE = "invite"
    RESET = "reset"


class BodyFormat(StrEnum):
    """How a campaign's email body is written: raw HTML, or Markdown turned
    into HTML (and put in the campaign's layout) when it is saved."""

    HTML = "html"
    MARKDOWN = "markdown"


class CampaignChannel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PHONE = "phone"


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    DONE = "done"
    CANCELLED = "cancelled"


class RecipientStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


class FailureReason(StrEnum):
    """Why a recipient is ``failed``: kept in ``campaign_recipients.reason``.

    Each is about that one recipient; a failure of the whole batch (the
    database, Redis or the relay gone) is retried, then pauses the campaign.
    """

    RENDER_ERROR = "render_error"  # the template failed for this person's data
    ADDRESS_NOT_DELIVERABLE = "address_not_deliverable"  # cannot be put on the wire
    REJECTED = "rejected"  # the relay refused it for good (5xx)
    TEMPORARY_FAILURES = "temporary_failures"  # "try later" too many times
    UNEXPECTED_ERROR = "unexpected_error"  # anything else about this message


class SuppressionReason(StrEnum):
    """Why an address is on the suppression list (service.suppressions)."""

    BOUNCE = "bounce"  # mail to it does not arrive, for good
    SOFT_BOUNCE = "soft_bounce"  # "try later" too many times in a row
    ERASURE = "erasure"  # the person was erased
    OBJECTION = "objection"  # the person objected to direct marketing
    COMPLAINT = "complaint"  # a spam complaint about our mail to the address


class SuppressionKind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"


class CallListStatus(StrEnum):
    BUILDING = "building"
    READY = "ready"
    EXPIRED = "expired"
    # Not built: no fresh Robinson extract (the reason is in audience_at_build).
    REFUSED = "refused"


# -- the data lifecycle (issue: retention, profiles, rights) ----------------------


class ProfileState(StrEnum):
    KEPT = "kept"
    TRANSFERRED = "transferred"
    DESTROYED = "destroyed"


class InteractionKind(StrEnum):
    """The notice's §7 events of the customer relationship."""

    SERVICE_CONTACT = "service_contact"
    CONTACT_INITIATIVE = "contact_initiative"
    PURCHASE = "purchase"


class RequestType(StrEnum):
    """Data-subject requests (GDPR 15-21, the notice §11-13)."""

    ACCESS = "access"
    PORTABILITY = "portability"
    RECTIFICATION = "rectification"
    ERASURE = "erasure"
    RESTRICTION = "restriction"
    OBJECTION = "objection"
    WITHDRAWAL = "withdrawal"


class RequestChannel(StrEnum):
    POST = "post"
    EMAIL = "email"
    PHONE = "phone"
    IN_PERSON = "in_person"
    WEB = "web"
    REPLY = "reply"  # a reply to our mail, read by the inbound listener


class RequestStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    REFUSED = "refused"


class VerificationMethod(StrEnum):
    """How a requester's identity was verified. Name plus identity code is
    never enough: both are often known to others."""

    REGISTERED_EMAIL_REPLY = "registered_email_reply"
    STRONG_IDENTIFICATION = "strong_identification"
    IN_PERSON_ID_DOCUMENT = "in_person_id_document"
    # A one-time link mailed to the registered address (the privacy portal).
    EMAIL_LINK = "email_link"


class ObjectionScope(StrEnum):
    DIRECT_MARKETING = "direct_marketing"  # absolute (GDPR 21(3))
    OTHER_PROCESSING = "other_processing"  # weighed case by case (GDPR 21(1))


class ObjectionDecision(StrEnum):
    PENDING = "pending"
    UPHELD = "upheld"
    REJECTED = "rejected"


class DisclosureRecipient(StrEnum):
    """The notice's §8 regular disclosures, and anything else recorded."""

    EMPLOYER = "employer"
    COACH = "coach"
    PROGRAMME_PARTICIPANTS = "programme_participants"
    AUTHORITY = "authority"
    OTHER = "other"


class LoginOutcome(StrEnum):
    """How a login step ended. Only ``*_failed`` outcomes count towards a lockout."""

    PASSWORD_ACCEPTED = "password_accepted"  # noqa: S105  (an outcome, not a secret)
    PASSWORD_FAILED = "password_failed"  # noqa: S105
    SECOND_FACTOR_ACCEPTED = "second_factor_accepted"
    SECOND_FACTOR_FAILED = "second_factor_failed"
    THROTTLED = "throttled"


class BounceClass(StrEnum):
    """What a failed delivery says, and so what it does (service.delivery.bounces)."""

    BAD_ADDRESS = "bad_address"  # no such mailbox (5.1.x): suppressed at once
    SOFT = "soft"  # mailbox full, too big, temporary: counted, suppressed at the soft limit
    POLICY = "policy"  # our IP, domain or content refused: the campaign's, never the address's


class DeliveryEventKind(StrEnum):
    BOUNCE = "bounce"
    COMPLAINT = "complaint"


class IdentityCodeBasis(StrEnum):
    """Why an identity code may be stored (Data Protection Act 1050/2018
    § 29(1)): plain marketing is never one."""

    CONSENT = "consent"  # the person's own consent to this processing
    LAW = "law"  # a law provides for it (e.g. a legal obligation)
    # Unambiguous identification is important for the rights and obligations
    # of the person or the company: a customer relationship or an assignment.
    CUSTOMER_IDENTIFICATION = "customer_identification"
    STATUTORY_TASK = "statutory_task"  # identification for a task laid down by law


class BreachRisk(StrEnum):
    """The assessed risk of a personal-data breach to people (GDPR 33-34)."""

    UNLIKELY = "unlikely"  # documented, not notified (Art. 33(1))
    RISK = "risk"  # notify the authority within 72 h
    HIGH = "high"  # notify the authority and inform the people (Art. 34)


class NotificationCause(StrEnum):
    """What a recipient of disclosed data must be told of (GDPR 19)."""

    RECTIFICATION = "rectification"
    ERASURE = "erasure"
    RESTRICTION = "restriction"
