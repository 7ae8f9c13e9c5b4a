"""The numbers of a campaign under ``/app``: its audience (who the consent gate
lets through now, and why the others are left out, down to the people behind
each count), its progress while sending, and its statistics, drawn as inline
SVG on the server (no script) with a table saying the same, and the CSV.

The numbers are the JSON API's (service.campaigns: ``audience``,
``queries.counts``, ``statistics``); this module only lays them out. It
also holds what all campaign pages share, so that campaigns.py (the composer)
and campaign_send.py build on it without importing each other in a circle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.audit import trail
from service.auth.middleware import requires
from service.auth.permissions import Permission
from service.auth.service import Principal
from service.campaigns import queries, service, statistics
from service.campaigns.schemas import CampaignRead
from service.campaigns.statistics import Breakdown, Statistics
from service.errors import NotFound
from service.models import Campaign
from service.models.enums import CampaignChannel, CampaignStatus, FailureReason, Reason
from service.settings import Settings
from service.web.render import page

Session = NamedDependency[AsyncSession]
StaffRequest = Request[Principal, Any, State]
PageNumber = Annotated[int, QueryParameter(name="page")]
BASE = "/app/campaigns"
PAGE_SIZE = 50
READ = [requires(Permission.CAMPAIGNS_READ)]
PEOPLE = [requires(Permission.CAMPAIGNS_READ), requires(Permission.CONTACTS_READ)]
LIVE = frozenset({CampaignStatus.SCHEDULED, CampaignStatus.SENDING})
_ADDRESS = {CampaignChannel.EMAIL: "email address", CampaignChannel.PHONE: "phone number"}
STATS = [requires(Permission.STATISTICS_READ)]
# Up to three days the series is shown by the hour, beyond that by the day.
MAX_HOURS = 72
WIDTH = 640  # the viewBox width; the SVG itself scales to its container
SERIES = (("opens", "Opens"), ("clicks", "Clicks"))


# What each reason code of the consent gate means, in words a marketer reads.
# {channel} and {address} follow the campaign.
EXPLANATIONS: dict[Reason, str] = {
    Reason.NO_CONSENT: "no consent for {channel} marketing and no other lawful basis "
    "(a business contact, or an existing customer offered similar products)",
    Reason.CONSENT_WITHDRAWN: "withdrew their consent to {channel} marketing, or opted out of it",
    Reason.DIRECT_MARKETING_BAN: "banned all direct marketing to them",
    Reason.CHANNEL_BAN: "banned direct marketing to them by {channel}",
    Reason.RESTRICTED: "the processing of their data is restricted (GDPR art. 18), "
    "e.g. while a request of theirs is handled",
    Reason.OBJECTED: "objected to the processing of their data (GDPR art. 21)",
    Reason.RETENTION_EXPIRED: "the retention period of their data has passed; "
    "they are due for deletion, not for marketing",
    Reason.SUPPRESSED: "their {address} is on the suppression list "
    "(it bounced, or belonged to someone erased or objecting)",
    Reason.NO_ADDRESS: "no {address} recorded",
    Reason.ROBINSON_LISTED: "their phone number is in the Robinson do-not-call register",
    Reason.FREQUENCY_CAP: "already received the most messages the frequency cap allows "
    "in its period",
    Reason.OUTSIDE_SEGMENT: "outside the campaign's segment (its languages, tags or contact types)",
}


def explain(reason: Reason, channel: CampaignChannel) -> str:
    return EXPLANATIONS[reason].format(channel=channel.value, address=_ADDRESS[channel])


def settings_of(request: StaffRequest) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def is_htmx(request: StaffRequest) -> bool:
    return request.headers.get("hx-request") == "true"


def not_found(request: StaffRequest, exc: NotFound) -> Response[str]:
    return page(request, "campaigns/missing", title="Not found", status=404, detail=exc.detail)


# -- audience and progress -------------------------------------------------------


# Why recipients failed (service.models.enums.FailureReason), for people.
FAILURE_WORDS = {
    FailureReason.RENDER_ERROR.value: "the template failed for their data",
    FailureReason.ADDRESS_NOT_DELIVERABLE.value: "their address cannot be delivered to",
    FailureReason.REJECTED.value: "refused by the receiving server",
    FailureReason.TEMPORARY_FAILURES.value: 'gave up after repeated "try later" answers',
    FailureReason.UNEXPECTED_ERROR.value: "an unexpected error",
}


@dataclass(frozen=True, slots=True)
class Progress:
    """The send list so far, for the progress bar."""

    status: CampaignStatus
    total: int
    sent: int
    skipped: int
    failed: int
    send_at: str | None  # Helsinki time, as the schedule form takes it
    failures: tuple[tuple[str, int], ...] = ()  # (what went wrong, in words; how many)

    @property
    def handled(self) -> int:
        return self.sent + self.skipped + self.failed

    @property
    def live(self) -> bool:
        return self.status in LIVE


def progress_of(read: CampaignRead) -> Progress:
    counts = read.counts
    return Progress(
        status=read.status,
        total=counts.queued + counts.sent + counts.skipped + counts.failed,
        sent=counts.sent,
        skipped=counts.skipped,
        failed=counts.failed,
        failures=tuple(
            (FAILURE_WORDS.get(reason, reason), n) for reason, n in sorted(read.failures.items())
        ),
        send_at=(
            read.send_at.astimezone(clock.LOCAL_ZONE).strftime("%d.%m.%Y %H:%M")
            if read.send_at
            else None
        ),
    )


async def audience_values(
    db_session: AsyncSession, campaign: Campaign, settings: Settings
) -> dict[str, Any]:
    audience = await service.audience(db_session, campaign=campaign, settings=settings)
    return {
        "audience": audience,
        "reasons": [
            (reason, count, explain(reason, campaign.channel))
            for reason, count in sorted(audience.excluded.items(), key=lambda item: -item[1])
        ],
    }


# -- charts ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bar:
    series: str  # a CSS class: the colour
    value: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True, slots=True)
class Label:
    text: str
    x: float
    y: float
    anchor: str = "middle"


@dataclass
class Chart:
    """One chart: its bars and labels, and the same numbers as table rows."""

    key: str
    title: str
    summary: str
    columns: list[str]
    rows: list[tuple[str, list[int]]]
    height: float = 0
    bars: list[Bar] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any(value for _, values in self.rows for value in values)


def _scale_top(largest: int) -> int:
    """A round top for the value axis: 1, 2 or 5 times a power of ten."""
    if largest <= 1:
        return 1
    power = int(10 ** int(math.log10(largest)))
    for step in (1, 2, 5, 10):
        if step * power >= largest:
            return step * power
    return 10 * power


def bars_across(chart: Chart, series: list[tuple[str, str]]) -> Chart:
    """Horizontal bars: one group per row, one bar per series."""
    left, right, bar, gap, group_gap = 150.0, 60.0, 14.0, 3.0, 12.0
    plot = WIDTH - left - right
    top = _scale_top(max((v for _, values in chart.rows for v in values), default=0))
    y = 8.0
    for label, values in chart.rows:
        group = len(values) * bar + (len(values) - 1) * gap
        chart.labels.append(Label(label[:24], left - 8, y + group / 2 + 4, "end"))
        for (css, _), value in zip(series, values, strict=True):
            width = plot * value / top
            chart.bars.append(Bar(css, value, left, y, width, bar))
            chart.labels.append(Label(str(value), left + width + 4, y + bar - 3, "start"))
            y += bar + gap
        y += group_gap - gap
    chart.height = max(y, 40.0)
    chart.legend = series if len(series) > 1 else []
    return chart


def columns_over_time(chart: Chart, series: list[tuple[str, str]]) -> Chart:
    """Vertical bars per time bucket, side by side per series, with a value axis."""
    left, bottom, height = 44.0, 34.0, 200.0
    plot = WIDTH - left - 8
    top = _scale_top(max((v for _, values in chart.rows for v in values), default=0))
    slot = plot / max(len(chart.rows), 1)
    bar = min(slot * 0.8 / len(series), 24.0)
    every = max(1, math.ceil(len(chart.rows) / 8))  # at most eight time labels
    for tick in (0, top // 2, top) if top > 1 else (0, top):
        y = 8 + height - height * tick / top
        chart.labels.append(Label(str(tick), left - 6, y + 4, "end"))
    for index, (label, values) in enumerate(chart.rows):
        x = left + index * slot + (slot - bar * len(series)) / 2
        for offset, ((css, _), value) in enumerate(zip(series, values, strict=True)):
            h = height * value / top
            chart.bars.append(Bar(css, value, x + offset * bar, 8 + height - h, bar, h))
        if index % every == 0:
            chart.labels.append(Label(label, left + index * slot + slot / 2, 8 + height + 18))
    chart.height = 8 + height + bottom
    chart.legend = series
    return chart


def time_rows(by_hour: dict[str, Breakdown]) -> tuple[str, list[tuple[str, list[int]]]]:
    """The hourly series (UTC keys) in Helsinki time, by hour or by day, gaps
    filled with zeros so the chart's spacing is time's."""
    hours = {
        datetime.strptime(key, "%Y-%m-%dT%H:00Z").replace(tzinfo=UTC): value
        for key, value in by_hour.items()
    }
    if not hours:
        return "hour", []
    first, last = min(hours), max(hours)
    if last - first < timedelta(hours=MAX_HOURS):
        rows = []
        moment = first
        while moment <= last:
            entry = hours.get(moment, Breakdown())
            local = moment.astimezone(clock.LOCAL_ZONE)
            rows.append((local.strftime("%d.%m. %H:00"), [entry.opens, entry.clicks]))
            moment += timedelta(hours=1)
        return "hour", rows
    days: dict[str, list[int]] = {}
    day = first.astimezone(clock.LOCAL_ZONE).date()
    while day <= last.astimezone(clock.LOCAL_ZONE).date():
        days[day.strftime("%d.%m.%Y")] = [0, 0]
        day += timedelta(days=1)
    for moment, entry in hours.items():
        bucket = days[moment.astimezone(clock.LOCAL_ZONE).strftime("%d.%m.%Y")]
        bucket[0] += entry.opens
        bucket[1] += entry.clicks
    return "day", list(days.items())


def charts_of(stats: Statistics) -> list[Chart]:
    unit, over_time = time_rows(stats.by_hour)
    names = [name for _, name in SERIES]

    def by(table: dict[str, Breakdown]) -> list[tuple[str, list[int]]]:
        ordered = sorted(
            table.items(), key=lambda item: (-(item[1].opens + item[1].clicks), item[0])
        )
        return [(name, [entry.opens, entry.clicks]) for name, entry in ordered]

    outcomes = [
        ("Sent", [stats.sent]),
        ("Unsubscribed", [stats.unsubscribes]),
        ("Bounced", [stats.bounces]),
        ("Failed", [stats.failed]),
    ]
    return [
        columns_over_time(
            Chart(
                "time",
                "Opens and clicks over time",
                f"Opens and clicks per {unit}, Helsinki time.",
                [unit.capitalize(), *names],
                over_time,
            ),
            list(SERIES),
        ),
        bars_across(
            Chart(
                "browser",
                "By browser",
                "Opens and clicks per browser.",
                ["Browser", *names],
                by(stats.by_browser),
            ),
            list(SERIES),
        ),
        bars_across(
            Chart(
                "os",
                "By operating system",
                "Opens and clicks per operating system.",
                ["Operating system", *names],
                by(stats.by_os),
            ),
            list(SERIES),
        ),
        bars_across(
            Chart(
                "outcomes",
                "Unsubscribes and bounces",
                "Messages sent, and how many recipients unsubscribed, bounced or failed.",
                ["Outcome", "Recipients"],
                outcomes,
            ),
            [("total", "Recipients")],
        ),
    ]


class StatisticsPages(Controller):
    path = BASE
    include_in_schema = False
    exception_handlers = {NotFound: not_found}

    @get("/{campaign_id:int}/audience", guards=READ)
    async def audience_panel(
        self, request: StaffRequest, db_session: Session, campaign_id: FromPath[int]
    ) -> Response[str]:
        """The panel alone: for htmx to refresh, or as a page without it."""
        campaign = await service.get(db_session, campaign_id)
        values = await audience_values(db_session, campaign, settings_of(request))
        name = "campaigns/_audience" if is_htmx(request) else "campaigns/audience"
        read = await service.read(db_session, campaign)
        return page(request, name, title=f"Audience of {campaign.name}", campaign=read, **values)

    @get("/{campaign_id:int}/audience/{reason:str}", guards=PEOPLE)
    async def audience_reason(
        self,
        request: StaffRequest,
        db_session: Session,
        campaign_id: FromPath[int],
        reason: FromPath[str],
        page_number: PageNumber = 1,
    ) -> Response[str]:
        """The people behind one count: names only, each a link to their page."""
        campaign = await service.get(db_session, campaign_id)
        if reason != "eligible" and reason not in {r.value for r in Reason}:
            raise NotFound(f"no audience reason {reason[:40]!r}")
        code = None if reason == "eligible" else Reason(reason)
        number = max(page_number, 1)
        gate = service.gate_for(
            campaign, settings_of(request), today=clock.today(), now=clock.now()
        )
        people = await queries.audience_members(
            db_session, gate, reason=code, limit=PAGE_SIZE + 1, offset=(number - 1) * PAGE_SIZE
        )
        trail.note(db_session, request, action="campaign.audience_read", status_code=200)
        trail.annotate(db_session, count=len(people[:PAGE_SIZE]))
        return page(
            request,
            "campaigns/reason",
            title=f"{campaign.name}: {'eligible' if code is None else code.value}",
            campaign=await service.read(db_session, campaign),
            code=code,
            explanation=explain(code, campaign.channel) if code else None,
            people=people[:PAGE_SIZE],
            page_number=number,
            more=len(people) > PAGE_SIZE,
        )

    @get("/{campaign_id:int}/statistics", guards=STATS)
    async def statistics_page(
        self, request: StaffRequest, db_session: Session, campaign_id: FromPath[int]
    ) -> Response[str]:
        campaign = await service.get(db_session, campaign_id)
        assert campaign.id is not None
        stats = await statistics.of_campaign(db_session, campaign.id)
        return page(
            request,
            "campaigns/statistics",
            title=f"Statistics: {campaign.name}",
            campaign=campaign,
            stats=stats,
            charts=charts_of(stats),
            width=WIDTH,
        )

    @get("/{campaign_id:int}/statistics.csv", guards=STATS, media_type="text/csv")
    async def statistics_csv(
        self, db_session: Session, campaign_id: FromPath[int]
    ) -> Response[str]:
        """The API's CSV, under /app so that the session cookie reaches it."""
        campaign = await service.get(db_session, campaign_id)
        assert campaign.id is not None
        body = statistics.as_csv(await statistics.of_campaign(db_session, campaign.id))
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="campaign-{campaign.id}.csv"',
                "Cache-Control": "no-store",
            },
        )
