"""Every table, imported here so that ``SQLModel.metadata`` knows them all."""

from service.models.audit import AuditCut, AuditEvent
from service.models.auth import (
    ApiToken,
    LoginAttempt,
    RecoveryCode,
    StaffLink,
    StaffSession,
    User,
)
from service.models.bounces import BounceCounter, DeliveryEventRecord
from service.models.campaigns import (
    CallList,
    CallListDownload,
    CallListEntry,
    Campaign,
    CampaignRecipient,
    Layout,
)
from service.models.collection import (
    ConsentText,
    FormVersion,
    PortalLink,
    PublicAttempt,
    Signup,
    SignupForm,
    SiteConsentEvent,
)
from service.models.compliance import Breach, Processor, RecipientNotification
from service.models.consent import Ban, ConsentEvent, ConsentState, Suppression
from service.models.contacts import Contact, ContactTag
from service.models.engagement import EngagementEvent
from service.models.lifecycle import (
    Erasure,
    Interaction,
    LegalHold,
    Profile,
    Restriction,
    RetentionAction,
)
from service.models.rights import (
    ContactChange,
    DataSubjectRequest,
    Disclosure,
    Objection,
    RequestAction,
)
from service.models.robinson import RobinsonExtract, RobinsonNumber

__all__ = [
    "ApiToken",
    "AuditCut",
    "AuditEvent",
    "Ban",
    "BounceCounter",
    "Breach",
    "CallList",
    "CallListDownload",
    "CallListEntry",
    "Campaign",
    "CampaignRecipient",
    "ConsentEvent",
    "ConsentState",
    "ConsentText",
    "Contact",
    "ContactChange",
    "ContactTag",
    "DataSubjectRequest",
    "DeliveryEventRecord",
    "Disclosure",
    "EngagementEvent",
    "Erasure",
    "FormVersion",
    "Interaction",
    "Layout",
    "LegalHold",
    "LoginAttempt",
    "Objection",
    "PortalLink",
    "Processor",
    "Profile",
    "PublicAttempt",
    "RecipientNotification",
    "RecoveryCode",
    "RequestAction",
    "Restriction",
    "RetentionAction",
    "RobinsonExtract",
    "RobinsonNumber",
    "Signup",
    "SignupForm",
    "SiteConsentEvent",
    "StaffLink",
    "StaffSession",
    "Suppression",
    "User",
]
