"""A register and a campaign written in bulk, for the tests that run real
worker processes against them (exactly-once, faults)."""

from __future__ import annotations

from sqlalchemy import insert
from sqlmodel import select

from service import clock
from service.campaigns import service as campaigns
from service.campaigns.schemas import CampaignCreate
from service.db import SessionMaker, session_scope
from service.models import ConsentEvent, ConsentState, Contact


def address(index: int) -> str:
    return f"p{index}@example.fi"


async def seed_campaign(
    sessionmaker: SessionMaker,
    *,
    eligible: int,
    ineligible: int = 0,
    names: dict[int, str] | None = None,
) -> int:
    """Contacts p0… with consent for email marketing (the first ``eligible``)
    and without it (the next ``ineligible``), and a campaign asked to send.

    ``names`` overrides the name of some contacts: rows the API would refuse
    today, as an older version or a hand-made import may have left them."""
    now, today = clock.now(), clock.today()
    names = names or {}
    total = eligible + ineligible
    async with session_scope(sessionmaker) as session:
        await session.exec(
            insert(Contact),
            params=[
                {
                    "full_name": names.get(i, f"Person {i}"),
                    "email": address(i),
                    "language": "fi",
                    "gender": "unspecified",
                    "contact_type": "person",
                    "legal_basis": "consent",
                    "source": "self",
                    "is_customer": False,
                    "last_service_contact_at": today,
                    "recorded_at": now,
                    "updated_at": now,
                }
                for i in range(total)
            ],
        )
        ids = (await session.exec(select(Contact.id).order_by(Contact.id))).all()  # type: ignore[arg-type]
        events = [
            {
                "contact_id": cid,
                "channel": "email",
                "purpose": "direct_marketing",
                "action": "grant",
                "source": "self",
                "method": "web_form",
                "notice_version": "1",
                "actor": "staff",
                "occurred_at": now,
            }
            for cid in ids[:eligible]
        ]
        await session.exec(insert(ConsentEvent), params=events)
        event_ids = (await session.exec(select(ConsentEvent.id).order_by(ConsentEvent.id))).all()  # type: ignore[arg-type]
        await session.exec(
            insert(ConsentState),
            params=[
                {
                    "contact_id": cid,
                    "channel": "email",
                    "purpose": "direct_marketing",
                    "action": "grant",
                    "event_id": eid,
                    "updated_at": now,
                }
                for cid, eid in zip(ids[:eligible], event_ids, strict=True)
            ],
        )
        campaign = await campaigns.create(
            session,
            data=CampaignCreate(
                name="Fault test",
                channel="email",  # type: ignore[arg-type]
                subject="Hello {{ contact.name }}",
                body_html="<p>Hello {{ contact.name }}</p>",
                body_text="Hello {{ contact.name }}",
            ),
            user_id=None,
        )
        await campaigns.request_send(session, campaign=campaign)
        assert campaign.id is not None
        return campaign.id
