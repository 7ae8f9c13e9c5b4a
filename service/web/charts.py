"""A campaign's statistics as charts: inline SVG drawn on the server (no
script), each with a table saying the same. The numbers are
service.campaigns.statistics' (the API's ``GET …/statistics``); this module
only lays them out, for the statistics page of service.web.campaign_stats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from service import clock
from service.campaigns.statistics import Breakdown, Statistics
from service.dashboard.schemas import ConsentWeek

# Up to three days the series is shown by the hour, beyond that by the day.
MAX_HOURS = 72
WIDTH = 640  # the viewBox width; the SVG itself scales to its container
SERIES = (("opens", "Opens"), ("clicks", "Clicks"))


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


CONSENT_SERIES = [("granted", "Granted"), ("withdrawn", "Withdrawn")]


def consent_chart(weeks: list[ConsentWeek], *, words: dict[str, str]) -> Chart:
    """The dashboard's consents granted and withdrawn per week. ``words``:
    the title, summary and column names in the member's language."""
    series = [(css, words[css]) for css, _ in CONSENT_SERIES]
    return columns_over_time(
        Chart(
            "consents",
            words["title"],
            words["summary"],
            [words["week"], *(name for _, name in series)],
            [(week.week.strftime("%d.%m."), [week.granted, week.withdrawn]) for week in weeks],
        ),
        series,
    )
