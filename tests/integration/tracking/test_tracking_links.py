"""Open pixel and click redirects, end to end: only people who allow tracking
get a pixel and personal links; everyone else's clicks are counted, not
attributed; a click goes only to a link the campaign contains."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlmodel import col, select

from service.db import SessionMaker, session_scope
from service.models import CampaignRecipient, EngagementEvent
from service.settings import Settings, load_settings
from service.tokens import TokenSigner
from service.tracking import events
from tests.conftest import TEST_SECRET
from tests.support.clock import FrozenClock
from tests.support.factories import SERVED, add_campaign, add_contact, add_recipient
from tests.support.smtp import PickySink
from tests.support.worker import drain, worker_context

Client = AsyncTestClient[Litestar]
SIGNER = TokenSigner(TEST_SECRET)
OFFER = "https://example.fi/offer?from=mail"


@pytest.fixture
def sink() -> Iterator[PickySink]:
    with PickySink() as server:
        yield server


@pytest.fixture
def settings(settings: Settings, settings_env: dict[str, str], sink: PickySink) -> Settings:
    return load_settings(
        {
            **settings_env,
            "CONSENTRY_DATABASE_URL": settings.database_url,
            "CONSENTRY_REDIS_URL": settings.redis_url or "",
            "CONSENTRY_SMTP_HOST": "127.0.0.1",
            "CONSENTRY_SMTP_PORT": str(sink.port),
            "CONSENTRY_PUBLIC_URL": "https://consentry.example.fi",
        }
    )


@pytest.fixture
async def ctx(settings: Settings, sessionmaker: SessionMaker) -> AsyncIterator[dict[str, Any]]:
    async with worker_context(settings, sessionmaker) as context:
        await context["redis"].flushdb()
        yield context


async def test_tracking_only_for_those_who_allow_it(
    admin: Client, ctx: dict[str, Any], sink: PickySink, sessionmaker: SessionMaker
) -> None:
    people = {}
    for email, purposes in (
        ("tracked@example.fi", ["direct_marketing", "email_tracking"]),
        ("private@example.fi", ["direct_marketing"]),
    ):
        people[email] = await add_recipient(admin, email, consent=purposes)
    body = {
        "name": "Offer",
        "channel": "email",
        "subject": "Offer",
        "body_html": f'<p><a href="{OFFER}">See the offer</a> '
        '<a href="https://example.fi/?n={{ contact.name }}">you</a></p>',
        "body_text": f"See the offer: {OFFER}",
    }
    campaign_id = await add_campaign(admin, send=True, **body)
    await drain(ctx)

    html = {
        to: message.get_body(("html",)).get_content()  # type: ignore[union-attr]
        for to, message in sink.accepted
    }
    text = {
        to: message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        for to, message in sink.accepted
    }
    tracked, private = html["tracked@example.fi"], html["private@example.fi"]
    assert "/t/o/" in tracked and "/t/o/" not in private
    assert "?only=tracking" in tracked and "?only=tracking" not in private
    assert OFFER not in tracked and OFFER not in private
    assert OFFER in text["tracked@example.fi"]  # text parts are left as written
    assert "https://example.fi/?n=" in tracked  # a personalised link is not a campaign link
    click_tokens = {
        to: re.search(r"/t/c/([\w.-]+)", page).group(1)  # type: ignore[union-attr]
        for to, page in html.items()
    }
    assert SIGNER.verify(click_tokens["tracked@example.fi"], "click") == (
        people["tracked@example.fi"],
        campaign_id,
        0,
    )
    assert SIGNER.verify(click_tokens["private@example.fi"], "click") == (0, campaign_id, 0)

    pixel = re.search(r"/t/o/([\w.-]+\.gif)", tracked).group(1)  # type: ignore[union-attr]
    opened = await admin.get(f"/t/o/{pixel}", headers={"Authorization": ""})
    assert opened.status_code == 200 and opened.headers["content-type"] == "image/gif"
    assert opened.headers["cache-control"].startswith("no-store")
    for token in click_tokens.values():
        clicked = await admin.get(f"/t/c/{token}", follow_redirects=False)
        assert clicked.status_code == 302 and clicked.headers["location"] == OFFER
        assert "set-cookie" not in clicked.headers
    elsewhere = SIGNER.sign("click", people["tracked@example.fi"], campaign_id, 7)
    assert (await admin.get(f"/t/c/{elsewhere}", follow_redirects=False)).status_code == 404
    forged = click_tokens["private@example.fi"][:-3] + "AAA"
    assert (await admin.get(f"/t/c/{forged}", follow_redirects=False)).status_code == 400
    assert (await admin.get("/t/o/garbage.gif")).status_code == 400

    stored = await events.drain(ctx["redis"], sessionmaker, consumer="test")
    assert stored == 3
    async with sessionmaker() as db:
        rows = (await db.exec(select(EngagementEvent).order_by(col(EngagementEvent.id)))).all()
    # Messages arrive in any order over four connections; compare as a set.
    assert {(r.kind.value, r.contact_id, r.campaign_id, r.link_index) for r in rows} == {
        ("open", people["tracked@example.fi"], campaign_id, None),
        ("click", people["tracked@example.fi"], campaign_id, 0),
        ("click", None, campaign_id, 0),
    }
    assert len(rows) == 3


async def test_the_stop_tracking_link_preselects_only_tracking(admin: Client) -> None:
    contact_id = await add_contact(admin, last_service_contact_at=SERVED)
    token = SIGNER.sign("unsubscribe", contact_id, 1)
    page = (await admin.get(f"/u/{token}?only=tracking")).text
    assert 'value="tracking" checked' in page
    assert 'value="email" checked' not in page


async def test_engagement_older_than_the_retention_age_is_purged(
    ctx: dict[str, Any], sessionmaker: SessionMaker, frozen_clock: FrozenClock
) -> None:
    from datetime import timedelta

    from service.retention.cli import run_today

    now = frozen_clock.now
    async with sessionmaker() as db:
        for age in (10, 394, 396, 800):
            db.add(
                EngagementEvent(
                    stream_id=f"0-{age}",
                    kind="open",
                    automated=False,
                    occurred_at=now - timedelta(days=age),
                )
            )
        await db.commit()
    report = await run_today(sessionmaker, ctx["settings"])
    assert [item.reference for item in report.items] == ["2 engagement events"]
    async with sessionmaker() as db:
        kept = sorted(
            (now - e.occurred_at).days for e in (await db.exec(select(EngagementEvent))).all()
        )
    assert kept == [10, 394]


async def test_campaign_statistics_json_and_csv(
    admin: Client, ctx: dict[str, Any], sink: PickySink, sessionmaker: SessionMaker
) -> None:
    contact_id = await add_recipient(
        admin, "s@example.fi", consent=("direct_marketing", "email_tracking")
    )
    body = {
        "name": "Stats",
        "channel": "email",
        "subject": "S",
        "body_html": f'<a href="{OFFER}">o</a>',
        "body_text": "t",
    }
    campaign_id = await add_campaign(admin, send=True, **body)
    await drain(ctx)
    html = sink.accepted[0][1].get_body(("html",)).get_content()  # type: ignore[union-attr]
    pixel = re.search(r"/t/o/([\w.-]+\.gif)", html).group(1)  # type: ignore[union-attr]
    click = re.search(r"/t/c/([\w.-]+)", html).group(1)  # type: ignore[union-attr]
    chrome = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
    )
    await admin.get(f"/t/o/{pixel}", headers={"User-Agent": chrome})
    await admin.get(f"/t/o/{pixel}", headers={"User-Agent": chrome})
    await admin.get(f"/t/o/{pixel}", headers={"User-Agent": "GoogleImageProxy"})  # a prefetch
    await admin.get(f"/t/c/{click}", headers={"User-Agent": chrome}, follow_redirects=False)
    unsubscribe = SIGNER.sign("unsubscribe", contact_id, campaign_id)
    await admin.post(f"/u/{unsubscribe}", data={"List-Unsubscribe": "One-Click"})
    await events.drain(ctx["redis"], sessionmaker, consumer="stats")

    stats = (await admin.get(f"/api/v1/campaigns/{campaign_id}/statistics")).json()
    assert {k: stats[k] for k in ("sent", "opens", "unique_opens", "clicks", "unique_clicks")} == {
        "sent": 1,
        "opens": 2,
        "unique_opens": 1,
        "clicks": 1,
        "unique_clicks": 1,
    }
    assert stats["click_through_rate"] == 1.0 and stats["unsubscribes"] == 1
    assert stats["bounces"] == 0
    assert stats["by_browser"] == {"Chrome": {"opens": 2, "clicks": 1}}
    assert stats["by_os"] == {"Windows": {"opens": 2, "clicks": 1}}
    assert sum(hour["opens"] for hour in stats["by_hour"].values()) == 2
    csv_answer = await admin.get(f"/api/v1/campaigns/{campaign_id}/statistics.csv")
    assert csv_answer.headers["content-type"].startswith("text/csv")
    assert "total,unique_opens,1," in csv_answer.text and "browser,Chrome,2,1" in csv_answer.text


async def test_a_returned_message_counts_as_a_bounce_only_when_permanent(
    admin: Client, ctx: dict[str, Any], sessionmaker: SessionMaker
) -> None:
    for index in range(3):
        await add_recipient(admin, f"b{index}@example.fi")
    body = {
        "name": "Bounces",
        "channel": "email",
        "subject": "S",
        "body_html": "h",
        "body_text": "t",
    }
    campaign_id = await add_campaign(admin, send=True, **body)
    await drain(ctx)
    # What the inbound listener writes when it links a delivery report.
    async with session_scope(sessionmaker) as session:
        rows = (
            await session.exec(
                select(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign_id)
            )
        ).all()
        assert len(rows) == 3
        for row, status in zip(rows, ("5.1.1", "4.4.1"), strict=False):
            row.bounced_at, row.bounce_status = datetime.now(UTC), status

    stats = (await admin.get(f"/api/v1/campaigns/{campaign_id}/statistics")).json()
    assert (stats["sent"], stats["bounces"]) == (3, 1)
