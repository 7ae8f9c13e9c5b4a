"""Every table, imported here so that ``SQLModel.metadata`` knows them all."""

from service.models.auth import ApiToken, User
from service.models.bounces import BounceCounter
from service.models.campaigns import (
    CallList,
    CallListDownload,
    CallListEntry,
    Campaign,
    CampaignRecipient,
)
from service.models.consent import Ban, ConsentEvent, ConsentState, Suppression
from service.models.contacts import Contact, ContactTag
from service.models.engagement import EngagementEvent

__all__ = [
    "ApiToken",
    "Ban",
    "BounceCounter",
    "CallList",
    "CallListDownload",
    "CallListEntry",
    "Campaign",
    "CampaignRecipient",
    "ConsentEvent",
    "ConsentState",
    "Contact",
    "ContactTag",
    "EngagementEvent",
    "Suppression",
    "User",
]
