"""The dashboard's figures, as the API returns them and the home page shows them."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from service.models.enums import CampaignChannel, CampaignStatus, Channel


class Reach(BaseModel):
    channel: Channel
    reachable: int = Field(
        description="Contacts the consent gate lets through for direct marketing on the "
        "channel today: the contact list's `reason=eligible` on that channel."
    )


class ConsentWeek(BaseModel):
    week: date = Field(description="The Monday the week starts (days counted in UTC).")
    granted: int = Field(description="Consent grants recorded that week, any channel or purpose.")
    withdrawn: int = Field(description="Consent withdrawals recorded that week.")


class People(BaseModel):
    contacts: int = Field(description="Contacts in the register.")
    unconfirmed: int = Field(
        description="Of them, signups not confirmed yet (the gate's `unconfirmed`)."
    )
    reach: list[Reach]
    consents: list[ConsentWeek] = Field(description="The last weeks, oldest first.")


class CampaignHealth(BaseModel):
    """What came back from one recent campaign (its statistics' rules)."""

    id: int
    name: str
    channel: CampaignChannel
    status: CampaignStatus
    started_at: datetime | None
    sent: int
    bounces: int
    complaints: int
    unsubscribes: int


class Due(BaseModel):
    overdue: int
    due_soon: int = Field(
        description="Requests: open and due within `due_soon_days` days, overdue ones "
        "included (the register's view). Breaches: the authority's 72 hours end within "
        "the next day."
    )
    due_soon_days: int | None = None


class Dashboard(BaseModel):
    """Each part is null when the caller's role may not see it: people
    needs contacts:read, campaigns statistics:read, requests rights:manage,
    breaches breaches:manage."""

    people: People | None
    campaigns: list[CampaignHealth] | None = Field(
        description="The latest campaigns that started sending, newest first."
    )
    requests: Due | None
    breaches: Due | None
