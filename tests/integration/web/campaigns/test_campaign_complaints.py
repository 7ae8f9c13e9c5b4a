"""A campaign's spam complaints and complaint rate, as the API and the
campaign page's sending panel show them: counted from delivery_events."""

from __future__ import annotations

from typing import Any

from service.db import SessionMaker, session_scope
from service.models import Campaign, CampaignRecipient, DeliveryEventRecord
from service.models.enums import (
    CampaignChannel,
    CampaignStatus,
    DeliveryEventKind,
    RecipientStatus,
    Role,
)
from tests.integration.web.campaigns.conftest import compose
from tests.integration.web.conftest import Client, SignedIn

HTMX = {"HX-Request": "true"}


async def sent_with_complaints(
    sessionmaker: SessionMaker, campaign_id: int, *, sent: int, complaints: int
) -> None:
    """The campaign as sending and complaints leave it (rows only; what makes
    them is tested in tests/integration/inbound/test_complaints.py)."""
    async with session_scope(sessionmaker) as session:
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None
        campaign.status = CampaignStatus.SENDING
        session.add(campaign)
        rows = [
            CampaignRecipient(
                campaign_id=campaign_id,
                contact_id=None,
                channel=CampaignChannel.EMAIL,
                status=RecipientStatus.SENT,
            )
            for _ in range(sent)
        ]
        session.add_all(rows)
        await session.flush()
        session.add_all(
            DeliveryEventRecord(
                kind=DeliveryEventKind.COMPLAINT,
                source="arf",
                value_hash=f"h{n}",
                campaign_id=campaign_id,
                recipient_id=row.id,
                provider_event_id=f"c{campaign_id}.r{row.id}",
            )
            for n, row in enumerate(rows[:complaints])
        )
        # A bounce is no complaint.
        session.add(
            DeliveryEventRecord(
                kind=DeliveryEventKind.BOUNCE, source="dsn", value_hash="b", campaign_id=campaign_id
            )
        )


async def test_the_api_and_the_page_show_complaints_and_their_rate(
    signed_in: SignedIn, admin: Client, sessionmaker: SessionMaker
) -> None:
    marketer = await signed_in(Role.MARKETER)
    campaign_id = await compose(marketer)
    draft: dict[str, Any] = (await admin.get(f"/api/v1/campaigns/{campaign_id}")).json()
    assert (draft["complaints"], draft["complaint_rate"]) == (0, 0.0)
    progress = await marketer.get(f"/app/campaigns/{campaign_id}/progress", headers=HTMX)
    assert 'id="complaints"' not in progress.text

    await sent_with_complaints(sessionmaker, campaign_id, sent=400, complaints=3)
    read: dict[str, Any] = (await admin.get(f"/api/v1/campaigns/{campaign_id}")).json()
    assert (read["complaints"], read["complaint_rate"]) == (3, 0.0075)
    listed = (await admin.get("/api/v1/campaigns")).json()
    assert [c["complaints"] for c in listed if c["id"] == campaign_id] == [3]
    progress = await marketer.get(f"/app/campaigns/{campaign_id}/progress", headers=HTMX)
    assert progress.status_code == 200
    assert '<p id="complaints">Spam complaints: 3 (0.75 % of sent)</p>' in progress.text
