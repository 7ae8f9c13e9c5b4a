"""Complaints (ARF reports and ESP complaint events): a PLACEHOLDER.

Another part of issue 15 writes this module (ARF parsing and what a
complaint does: the withdrawal, the suppression, the campaign's complaint
rate). Only the signature that service.inbound.events.record calls is here,
so the bounce side runs and is tested on its own; the merge replaces it.
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from service.settings import Settings


async def record_complaint(
    session: AsyncSession,
    *,
    contact_id: int | None,
    campaign_id: int | None,
    recipient_id: int | None,
    value_hash: str,
    source: str,
    provider_event_id: str | None,
    settings: Settings,
) -> str:
    """Placeholder: records nothing and says so (the real one comes with the
    complaints part of issue 15)."""
    return "complaint not recorded (placeholder)"
