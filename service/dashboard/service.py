"""The register's health: contacts and who may be reached on each channel,
consents granted and withdrawn week by week, what came back from the recent
campaigns, and the requests and breaches due. Each part only for a role that
may see it (``Dashboard``'s docstring); counts only, never a person.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.auth.permissions import Permission
from service.breaches import service as breaches
from service.campaigns import statistics
from service.consent.queries import GateContext
from service.dashboard import queries
from service.dashboard.schemas import CampaignHealth, ConsentWeek, Dashboard, Due, People, Reach
from service.models.enums import Channel, ConsentAction, Purpose
from service.requests import deadlines
from service.requests import service as requests
from service.rules import local_midnight

WEEKS = 12  # the consent chart's span, this week included
RECENT_CAMPAIGNS = 10
CHANNELS = (Channel.EMAIL, Channel.SMS, Channel.PHONE, Channel.POST)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


async def people(session: AsyncSession, *, today: date, weeks: int = WEEKS) -> People:
    contacts, unconfirmed = await queries.contact_counts(session)
    reach = [
        Reach(
            channel=channel,
            reachable=await queries.reachable(
                session,
                GateContext(channel=channel, purpose=Purpose.DIRECT_MARKETING, today=today),
            ),
        )
        for channel in CHANNELS
    ]
    first = _monday(today) - timedelta(weeks=weeks - 1)
    counts = {first + timedelta(weeks=i): [0, 0] for i in range(weeks)}
    since = local_midnight(first).astimezone(UTC)
    for day, action, n in await queries.consent_days(session, since=since):
        bucket = counts.get(_monday(day))
        if bucket is not None:  # a UTC day just before the local Monday
            bucket[0 if action is ConsentAction.GRANT else 1] += n
    return People(
        contacts=contacts,
        unconfirmed=unconfirmed,
        reach=reach,
        consents=[
            ConsentWeek(week=week, granted=granted, withdrawn=withdrawn)
            for week, (granted, withdrawn) in counts.items()
        ],
    )


async def recent_campaigns(
    session: AsyncSession, *, limit: int = RECENT_CAMPAIGNS
) -> list[CampaignHealth]:
    campaigns = await queries.recent_campaigns(session, limit=limit)
    outcomes = await statistics.outcomes_of(session, [c.id for c in campaigns if c.id is not None])
    return [
        CampaignHealth(
            id=campaign.id,
            name=campaign.name,
            channel=campaign.channel,
            status=campaign.status,
            started_at=campaign.started_at,
            **outcomes[campaign.id].model_dump(),
        )
        for campaign in campaigns
        if campaign.id is not None
    ]


async def requests_due(session: AsyncSession) -> Due:
    """The requests register's own views' counts."""
    _, overdue = await requests.list_(session, overdue=True, limit=1, offset=0)
    _, soon = await requests.list_(
        session, due_within_days=deadlines.DUE_SOON_DAYS, limit=1, offset=0
    )
    return Due(overdue=overdue, due_soon=soon, due_soon_days=deadlines.DUE_SOON_DAYS)


async def breaches_due(session: AsyncSession) -> Due:
    overdue, soon = await breaches.counts(session)
    return Due(overdue=overdue, due_soon=soon)


async def overview(session: AsyncSession, *, can: Callable[[Permission], bool]) -> Dashboard:
    """What a role may see of the dashboard; the rest is None."""
    return Dashboard(
        people=await people(session, today=clock.today())
        if can(Permission.CONTACTS_READ)
        else None,
        campaigns=await recent_campaigns(session) if can(Permission.STATISTICS_READ) else None,
        requests=await requests_due(session) if can(Permission.RIGHTS_MANAGE) else None,
        breaches=await breaches_due(session) if can(Permission.BREACHES_MANAGE) else None,
    )
