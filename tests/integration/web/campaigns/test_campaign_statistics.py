"""The statistics page: charts as inline SVG with tables of the same numbers,
the numbers the API gives, and the CSV under /app."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from service import i18n
from service.campaigns.statistics import Breakdown
from service.db import SessionMaker
from service.models import EngagementEvent
from service.models.engagement import EngagementKind
from service.models.enums import Role
from service.web.charts import _scale_top, time_rows
from tests.integration.web.campaigns.conftest import compose, send_confirmed
from tests.integration.web.conftest import Client, SignedIn
from tests.support.factories import add_recipient
from tests.support.worker import drain

START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # 10:00 in Helsinki


async def engagement(
    sessionmaker: SessionMaker, campaign_id: int, events: list[tuple[str, str, str, int, bool]]
) -> None:
    """(kind, browser, os, hours after START, automated) per event."""
    async with sessionmaker() as db:
        for number, (kind, browser, system, hours, automated) in enumerate(events):
            db.add(
                EngagementEvent(
                    stream_id=f"{campaign_id}-{number}",
                    kind=EngagementKind(kind),
                    campaign_id=campaign_id,
                    browser_family=browser,
                    os_family=system,
                    automated=automated,
                    occurred_at=START + timedelta(hours=hours),
                )
            )
        await db.commit()


def table_rows(page: str, chart: str) -> list[tuple[str, ...]]:
    figure = page[page.index(f'<figure class="chart" id="chart-{chart}"') :]
    figure = figure[: figure.index("</figure>")]
    body = figure[figure.index("<tbody>") : figure.index("</tbody>")]
    return [
        (label, *re.findall(r"<td>(\d+)</td>", cells))
        for label, cells in re.findall(r'<th scope="row">([^<]*)</th>((?:<td>\d+</td>)+)', body)
    ]


async def test_the_page_draws_the_apis_numbers_and_the_csv_downloads(
    signed_in: SignedIn, admin: Client, ctx: dict[str, Any], sessionmaker: SessionMaker
) -> None:
    await add_recipient(admin, "aino@example.fi", full_name="Aino Aaltonen")
    await add_recipient(admin, "bertta@example.fi", full_name="Bertta Berg")
    marketer = await signed_in(Role.MARKETER)
    campaign_id = await compose(marketer)
    url = f"/app/campaigns/{campaign_id}"
    assert (await send_confirmed(marketer, campaign_id)).status_code == 303
    await drain(ctx)
    await engagement(
        sessionmaker,
        campaign_id,
        [
            ("open", "Firefox", "Windows", 0, False),
            ("open", "Firefox", "Windows", 2, False),
            ("open", "Chrome", "Android", 2, False),
            ("click", "Chrome", "Android", 2, False),
            ("click", "Scanner", "Linux", 1, True),  # a link scanner: left out
        ],
    )
    api = (await admin.get(f"/api/v1/campaigns/{campaign_id}/statistics")).json()
    assert (api["opens"], api["clicks"], api["sent"]) == (3, 1, 2)

    shown = await marketer.get(f"{url}/statistics")
    assert shown.status_code == 200
    main = shown.text.split('<main id="main"')[1]
    assert main.count("<svg") == 4 and "<script" not in main  # drawn on the server
    assert 'role="img"' in shown.text and "<desc id=" in shown.text
    assert re.search(r"<dt>Opens</dt><dd>3 \(", shown.text)
    assert table_rows(shown.text, "browser") == [("Chrome", "1", "1"), ("Firefox", "2", "0")]
    assert table_rows(shown.text, "os") == [("Android", "1", "1"), ("Windows", "2", "0")]
    # By the hour, in Helsinki time, with the empty hour between.
    assert table_rows(shown.text, "time") == [
        ("02.11. 10:00", "1", "0"),
        ("02.11. 11:00", "0", "0"),
        ("02.11. 12:00", "2", "1"),
    ]
    assert table_rows(shown.text, "outcomes") == [
        ("Sent", "2"),
        ("Unsubscribed", str(api["unsubscribes"])),
        ("Bounced", str(api["bounces"])),
        ("Failed", str(api["failed"])),
    ]
    # One bar per number in the time chart: opens and clicks of three hours.
    time_chart = shown.text[shown.text.index('id="chart-time"') :].split("</svg>")[0]
    assert time_chart.count('<rect class="bar opens"') == 3
    assert time_chart.count('<rect class="bar clicks"') == 3

    csv = await marketer.get(f"{url}/statistics.csv")
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    assert (
        csv.headers["content-disposition"] == f'attachment; filename="campaign-{campaign_id}.csv"'
    )
    assert csv.text == (await admin.get(f"/api/v1/campaigns/{campaign_id}/statistics.csv")).text
    assert "browser,Firefox,2,0" in csv.text


async def test_statistics_are_for_readers_of_statistics(signed_in: SignedIn, admin: Client) -> None:
    campaign_id = await compose(await signed_in(Role.MARKETER))
    viewer = await signed_in(Role.VIEWER)
    empty = await viewer.get(f"/app/campaigns/{campaign_id}/statistics")
    assert empty.status_code == 200
    assert "No opens or clicks yet." in empty.text and empty.text.count("<svg") == 1
    caller = await signed_in(Role.CALLER)
    for path in ("statistics", "statistics.csv"):
        answer = await caller.get(f"/app/campaigns/{campaign_id}/{path}")
        assert answer.status_code == 403 and "Not for your role" in answer.text
    missing = await viewer.get("/app/campaigns/424242/statistics")
    assert missing.status_code == 404


def test_long_series_are_shown_by_the_day() -> None:
    hours = {
        "2026-11-01T21:00Z": Breakdown(opens=1),  # 23:00 in Helsinki: the 1st
        "2026-11-01T22:00Z": Breakdown(opens=2, clicks=1),  # 00:00: the 2nd
        "2026-11-05T10:00Z": Breakdown(clicks=4),
    }
    with i18n.use("fi"):
        unit, rows = time_rows(hours)
    assert unit == "day"
    assert rows == [
        ("1.11.2026", [1, 0]),
        ("2.11.2026", [2, 1]),
        ("3.11.2026", [0, 0]),
        ("4.11.2026", [0, 0]),
        ("5.11.2026", [0, 4]),
    ]
    with i18n.use("en"):
        assert time_rows(hours)[1][0] == ("1 Nov 2026", [1, 0])
    assert [_scale_top(n) for n in (0, 1, 3, 10, 11, 240)] == [1, 1, 5, 10, 20, 500]
