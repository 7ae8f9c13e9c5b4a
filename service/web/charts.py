"""A campaign's statistics as charts: inline SVG drawn on the server (no
script), each with a table saying the same. The numbers are
service.campaigns.statistics' (the API's ``GET …/statistics``); this module
only lays them out, for the statistics page of service.web.campaign_stats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from service import clock, i18n
from service.campaigns.statistics import Breakdown, Statistics
from service.dashboard.schemas import ConsentWeek
from service.i18n import _
from service.labels import N_

# Up to three days the series is shown by the hour, beyond that by the day.
MAX_HOURS = 72
WIDTH = 640  # the viewBox width; the SVG itself scales to its container
SERIES = (("opens", N_("Opens")), ("clicks", N_("Clicks")))  # translated when drawn


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
        return not any(value for _label, values in self.rows for value in values)


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
    top = _scale_top(max((v for _label, values in chart.rows for v in values), default=0))
    y = 8.0
    for label, values in chart.rows:
        group = len(values) * bar + (len(values) - 1) * gap
        chart.labels.append(Label(label[:24], left - 8, y + group / 2 + 4, "end"))
        for (css, _name), value in zip(series, values, strict=True):
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
    top = _scale_top(max((v for _label, values in chart.rows for v in values), default=0))
    slot = plot / max(len(chart.rows), 1)
    bar = min(slot * 0.8 / len(series), 24.0)
    every = max(1, math.ceil(len(chart.rows) / 8))  # at most eight time labels
    for tick in (0, top // 2, top) if top > 1 else (0, top):
        y = 8 + height - height * tick / top
        chart.labels.append(Label(str(tick), left - 6, y + 4, "end"))
    for index, (label, values) in enumerate(chart.rows):
        x = left + index * slot + (slot - bar * len(series)) / 2
        for offset, ((css, _name), value) in enumerate(zip(series, values, strict=True)):
            h = height * value / top
            chart.bars.append(Bar(css, value, x + offset * bar, 8 + height - h, bar, h))
        if index % every == 0:
            chart.labels.append(Label(label, left + index * slot + slot / 2, 8 + height + 18))
    chart.height = 8 + height + bottom
    chart.legend = series
    return chart


def time_rows(by_hour: dict[str, Breakdown]) -> tuple[str, list[tuple[str, list[int]]]]:
    """The hourly series (UTC keys) in Helsinki time, by hour or by day, gaps
    filled with zeros so the chart's spacing is time's. An hour is written
    02.11. 10:00 (short enough for the axis), a day the language's way."""
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
    days: dict[date, list[int]] = {}
    day = first.astimezone(clock.LOCAL_ZONE).date()
    while day <= last.astimezone(clock.LOCAL_ZONE).date():
        days[day] = [0, 0]
        day += timedelta(days=1)
    for moment, entry in hours.items():
        bucket = days[moment.astimezone(clock.LOCAL_ZONE).date()]
        bucket[0] += entry.opens
        bucket[1] += entry.clicks
    return "day", [(i18n.format_date(day), counts) for day, counts in days.items()]


def charts_of(stats: Statistics) -> list[Chart]:
    unit, over_time = time_rows(stats.by_hour)
    series = [(css, i18n.gettext(name)) for css, name in SERIES]
    names = [name for _css, name in series]

    def by(table: dict[str, Breakdown]) -> list[tuple[str, list[int]]]:
        ordered = sorted(
            table.items(), key=lambda item: (-(item[1].opens + item[1].clicks), item[0])
        )
        return [(name, [entry.opens, entry.clicks]) for name, entry in ordered]

    outcomes = [
        (_("Sent"), [stats.sent]),
        (_("Unsubscribed"), [stats.unsubscribes]),
        (_("Bounced"), [stats.bounces]),
        (_("Failed"), [stats.failed]),
    ]
    return [
        columns_over_time(
            Chart(
                "time",
                _("Opens and clicks over time"),
                _("Opens and clicks per hour, Helsinki time.")
                if unit == "hour"
                else _("Opens and clicks per day, Helsinki time."),
                [_("Hour") if unit == "hour" else _("Day"), *names],
                over_time,
            ),
            series,
        ),
        bars_across(
            Chart(
                "browser",
                _("By browser"),
                _("Opens and clicks per browser."),
                [_("Browser"), *names],
                by(stats.by_browser),
            ),
            series,
        ),
        bars_across(
            Chart(
                "os",
                _("By operating system"),
                _("Opens and clicks per operating system."),
                [_("Operating system"), *names],
                by(stats.by_os),
            ),
            series,
        ),
        bars_across(
            Chart(
                "outcomes",
                _("Unsubscribes and bounces"),
                _("Messages sent, and how many recipients unsubscribed, bounced or failed."),
                [_("Outcome"), _("Recipients")],
                outcomes,
            ),
            [("total", _("Recipients"))],
        ),
    ]


CONSENT_SERIES = [("granted", "Granted"), ("withdrawn", "Withdrawn")]


def consent_chart(weeks: list[ConsentWeek], *, words: dict[str, str]) -> Chart:
    """The dashboard's consents granted and withdrawn per week. ``words``:
    the title, summary and column names in the member's language."""
    series = [(css, words[css]) for css, _words in CONSENT_SERIES]
    return columns_over_time(
        Chart(
            "consents",
            words["title"],
            words["summary"],
            [words["week"], *(name for _css, name in series)],
            [(week.week.strftime("%d.%m."), [week.granted, week.withdrawn]) for week in weeks],
        ),
        series,
    )
