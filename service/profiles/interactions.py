"""The events of the customer relationship (the notice §7): service contacts,
contact initiatives by the person, and purchases.

Every kind counts as a service contact for retention: a purchase is the
person dealing with the company. The contact's ``last_service_contact_at``
is the latest of them (an event recorded late never moves it back).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.errors import Conflict, InvalidInput
from service.models import Ban, Contact, Interaction
from service.models.enums import BanKind, InteractionKind
from service.profiles.schemas import InteractionCreate, InteractionRead
from service.profiles.service import refuse_if_restricted

# Purchase details are small facts (product, amount), not documents.
MAX_DETAILS_CHARS = 10_000


async def has_purchase_registration_ban(session: AsyncSession, *, contact_id: int) -> bool:
    """A ban on registering purchases in force (the notice §7), on any channel."""
    rows = await session.exec(
        select(Ban.id).where(
            Ban.contact_id == contact_id,
            Ban.kind == BanKind.PURCHASE_REGISTRATION,
            col(Ban.lifted_at).is_(None),
        )
    )
    return rows.first() is not None


def check(data: InteractionCreate) -> None:
    if data.details is not None:
        if data.kind is not InteractionKind.PURCHASE:
            raise InvalidInput(
                "only a purchase has details", fields={"details": "only for kind purchase"}
            )
        if len(json.dumps(data.details, ensure_ascii=False)) > MAX_DETAILS_CHARS:
            raise InvalidInput(
                "the purchase details are too large",
                fields={"details": f"must be at most {MAX_DETAILS_CHARS} characters"},
            )


async def record(
    session: AsyncSession, *, contact: Contact, data: InteractionCreate, user_id: int | None
) -> Interaction:
    assert contact.id is not None
    check(data)
    refuse_if_restricted(contact)
    if data.kind is InteractionKind.PURCHASE and await has_purchase_registration_ban(
        session, contact_id=contact.id
    ):
        raise Conflict(
            f"contact {contact.id} has banned registering their purchases",
            reason="purchase_registration_ban",
        )
    interaction = Interaction(
        contact_id=contact.id, **data.model_dump(), recorded_by_user_id=user_id
    )
    session.add(interaction)
    latest = contact.last_service_contact_at
    if latest is None or data.occurred_on > latest:
        contact.last_service_contact_at = data.occurred_on
        contact.updated_at = clock.now()
        session.add(contact)
    await session.flush()
    return interaction


async def list_(session: AsyncSession, *, contact_id: int) -> Sequence[Interaction]:
    """The contact's interactions, newest first."""
    rows = await session.exec(
        select(Interaction)
        .where(Interaction.contact_id == contact_id)
        .order_by(col(Interaction.occurred_on).desc(), col(Interaction.id).desc())
    )
    return rows.all()


def to_read(interaction: Interaction) -> InteractionRead:
    return InteractionRead.model_validate(interaction, from_attributes=True)
