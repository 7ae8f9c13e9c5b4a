"""The home page's figures (service.dashboard) and GET /api/v1/dashboard,
against a register seeded through the API: exact counts, the same as the
pages each figure links to, and only what the role may see. Also ``/``."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
from sqlmodel import col, select, update

from service import clock
from service.db import SessionMaker
from service.models import CampaignRecipient, DeliveryEventRecord
from service.models.enums import DeliveryEventKind, Role
from service.tokens import TokenSigner
from tests.conftest import TEST_SECRET
from tests.integration.web.conftest import Client, SignedIn
from tests.support.factories import add_phone_contact, add_recipient, record_consent
from tests.support.worker import drain


def figure(page: httpx.Response, element_id: str) -> int:
    found = re.search(rf'id="{element_id}"[^>]*data-count="(\d+)"', page.text)
    assert found is not None, (element_id, page.text)
    return int(found.group(1))


async def listed(admin: Client, channel: str) -> int:
    """The contact list's count of whom the gate lets through on ``channel``."""
    answer = await admin.get(f"/api/v1/contacts?channel={channel}&reason=eligible&limit=1")
    assert answer.status_code == 200, answer.text
    total: int = answer.json()["total"]
    return total


async def seed(admin: Client, client: Any, sessionmaker: SessionMaker, ctx: dict[str, Any]) -> int:
    """Three email recipients (one withdraws), one without consent, one phone
    contact; a campaign sent to the three, with one bounce, one complaint and
    one unsubscribe; two requests and two breaches due. The campaign's id."""
    first = await add_recipient(admin, "aino@example.fi", full_name="Aino Aaltonen")
    await add_recipient(admin, "bertta@example.fi", full_name="Bertta Berg")
    third = await add_recipient(admin, "cecilia@example.fi", full_name="Cecilia Co")
    await add_recipient(admin, "daniel@example.fi", full_name="Daniel Dahl", consent=())
    await add_phone_contact(admin, "Eero Ek", "+358401234567")

    body = {
        "name": "Autumn",
        "channel": "email",
        "purpose": "direct_marketing",
        "subject": "Hello",
        "body_html": "<p>Our autumn programme.</p>",
        "body_text": "Our autumn programme.",
    }
    created = await admin.post("/api/v1/campaigns", json=body)
    assert created.status_code == 201, created.text
    campaign_id: int = created.json()["id"]
    assert (await admin.post(f"/api/v1/campaigns/{campaign_id}/send")).status_code == 202
    await drain(ctx)
    # Aino unsubscribes from the message (one click), Bertta's mail bounces
    # back later, Cecilia complains.
    token = TokenSigner(TEST_SECRET).sign("unsubscribe", first, campaign_id)
    left = await client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"})
    assert left.status_code == 200, left.text
    async with sessionmaker() as db:
        await db.exec(
            update(CampaignRecipient)
            .where(
                col(CampaignRecipient.campaign_id) == campaign_id,
                col(CampaignRecipient.contact_id) != first,
                col(CampaignRecipient.contact_id) != third,
            )
            .values(bounce_status="5.1.1")
        )
        cecilia = (
            await db.exec(
                select(CampaignRecipient.id).where(
                    col(CampaignRecipient.campaign_id) == campaign_id,
                    col(CampaignRecipient.contact_id) == third,
                )
            )
        ).one()
        db.add(
            DeliveryEventRecord(
                kind=DeliveryEventKind.COMPLAINT,
                source="arf",
                value_hash="0" * 64,
                campaign_id=campaign_id,
                recipient_id=cecilia,
            )
        )
        await db.commit()
    # A grant and a withdrawal by staff, beside the signups' grants.
    await record_consent(admin, third, action="withdraw", channel="email")

    today = clock.today()
    for days_ago in (40, 27, 2):  # overdue, due within 7 days, not yet
        answer = await admin.post(
            "/api/v1/requests",
            json={
                "type": "access",
                "channel": "email",
                "received_on": (today - timedelta(days=days_ago)).isoformat(),
            },
        )
        assert answer.status_code == 201, answer.text
    now = clock.now()
    for hours in (80, 60, 1):  # overdue, due within the day, calm
        answer = await admin.post(
            "/api/v1/breaches",
            json={"discovered_at": (now - timedelta(hours=hours)).isoformat(), "nature": "x"},
        )
        assert answer.status_code == 201, answer.text
    return campaign_id


async def test_the_dashboard_counts_the_register_exactly(
    signed_in: SignedIn,
    admin: Client,
    client: Any,
    ctx: dict[str, Any],
    sessionmaker: SessionMaker,
) -> None:
    campaign_id = await seed(admin, client, sessionmaker, ctx)
    answer = await admin.get("/api/v1/dashboard")
    assert answer.status_code == 200, answer.text
    figures = answer.json()

    people = figures["people"]
    assert (people["contacts"], people["unconfirmed"]) == (5, 0)
    reach = {row["channel"]: row["reachable"] for row in people["reach"]}
    # Bertta alone: Aino unsubscribed, Cecilia withdrew, Daniel never consented.
    # Eero by phone (no consent needed, no Robinson extract); SMS needs consent.
    assert reach == {"email": 1, "sms": 0, "phone": 1, "post": 0}
    for channel, count in reach.items():
        assert count == await listed(admin, channel), channel
    weeks = people["consents"]
    assert len(weeks) == 12
    assert (
        weeks[-1]["week"] == (clock.today() - timedelta(days=clock.today().weekday())).isoformat()
    )
    # Four signups' grants (Daniel gave none); Aino's unsubscribe and Cecilia's withdrawal.
    assert sum(w["granted"] for w in weeks) == 3
    assert sum(w["withdrawn"] for w in weeks) == 2

    [campaign] = figures["campaigns"]
    assert campaign["id"] == campaign_id and campaign["name"] == "Autumn"
    stats = (await admin.get(f"/api/v1/campaigns/{campaign_id}/statistics")).json()
    read = (await admin.get(f"/api/v1/campaigns/{campaign_id}")).json()
    got = {k: campaign[k] for k in ("sent", "bounces", "complaints", "unsubscribes")}
    assert got == {"sent": 3, "bounces": 1, "complaints": 1, "unsubscribes": 1}
    assert (got["sent"], got["bounces"], got["unsubscribes"]) == (
        stats["sent"],
        stats["bounces"],
        stats["unsubscribes"],
    )
    assert got["complaints"] == read["complaints"]

    assert figures["requests"] == {"overdue": 1, "due_soon": 2, "due_soon_days": 7}
    assert figures["breaches"] == {"overdue": 1, "due_soon": 1, "due_soon_days": None}

    # The page shows the same, each figure a link to where it is explained.
    home = await (await signed_in(Role.ADMIN)).get("/app")
    assert home.status_code == 200, home.text
    assert figure(home, "figure-contacts") == 5
    for channel, count in reach.items():
        assert figure(home, f"reach-{channel}") == count
        assert f'href="/app/contacts?channel={channel}&amp;reason=eligible"' in home.text
    assert figure(home, "figure-requests-overdue") == 1
    assert figure(home, "figure-requests-soon") == 2
    assert figure(home, "figure-breaches-overdue") == 1
    assert figure(home, "figure-breaches-soon") == 1
    assert f'<tr id="campaign-{campaign_id}">' in home.text
    assert f'href="/app/campaigns/{campaign_id}/statistics"' in home.text
    assert 'href="/app/privacy?show=overdue"' in home.text
    assert '<figure class="chart" id="chart-consents"' in home.text
    assert "aino" not in home.text.lower()  # counts, never a person


async def test_each_role_sees_what_it_may(
    signed_in: SignedIn,
    admin: Client,
    client: Any,
    ctx: dict[str, Any],
    sessionmaker: SessionMaker,
) -> None:
    await seed(admin, client, sessionmaker, ctx)
    sections = {
        Role.VIEWER: ("recent-campaigns", "register"),
        Role.MARKETER: ("recent-campaigns", "register"),
        Role.PRIVACY_OFFICER: ("register", "requests-due", "breaches-due"),
        Role.CALLER: (),
    }
    every = {"register", "recent-campaigns", "requests-due", "breaches-due"}
    for role, shown in sections.items():
        home = await (await signed_in(role)).get("/app")
        assert home.status_code == 200, (role, home.text)
        for section in every:
            present = f'<section class="card" id="{section}"' in home.text
            assert present == (section in shown), (role, section)
    # The API: a part the role may not see is null; a caller gets none of it.
    viewer = (await (await signed_in(Role.VIEWER)).get("/api/v1/dashboard")).json()
    assert viewer["people"]["contacts"] == 5 and len(viewer["campaigns"]) == 1
    assert viewer["requests"] is None and viewer["breaches"] is None
    officer = (await (await signed_in(Role.PRIVACY_OFFICER)).get("/api/v1/dashboard")).json()
    assert officer["campaigns"] is None and officer["requests"]["overdue"] == 1
    caller = await (await signed_in(Role.CALLER)).get("/api/v1/dashboard")
    assert caller.status_code == 403


async def test_the_root_leads_to_the_staff_pages(client: Any) -> None:
    root = await client.get("/", follow_redirects=False)
    assert root.status_code in (302, 303, 307) and root.headers["location"] == "/app"
    app = await client.get("/app", follow_redirects=False)
    assert app.status_code == 303 and app.headers["location"].startswith("/app/login")
