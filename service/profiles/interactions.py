"""The events of the customer relationship (the notice §7): service contacts,
contact initiatives by the person, and purchases.

Every kind counts as a service contact for retention: a purchase is the
person dealing with the company. The contact's ``last_service_contact_at``
is the latest of them (an event recorded late never moves it back).

A purchase also carries soft opt-in's evidence (SVPL 200 § 3 mom): its
product group, whether the person's address was obtained in it
(``address_collected``) and whether they were told then that they may refuse
marketing (``refusal_offered``). The consent gate reads them
(``service.consent.queries``: ``no_purchase_record``, ``no_refusal_notice``).
A purchase-registration ban refuses the whole purchase, its product group
and evidence included: the product group is a purchase detail. Soft opt-in
then cannot rest on a purchase made under the ban; purchases recorded before
the ban stay (the ban stops registering, it erases nothing) and still count.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.errors import Conflict, InvalidInput
from service.labels import N_
from service.models import Ban, Contact, Interaction
from service.models.enums import BanKind, InteractionKind
from service.profiles.schemas import InteractionCreate, InteractionRead
from service.profiles.service import refuse_if_restricted

# Purchase details are small facts (product, amount), not documents.
MAX_DETAILS_CHARS = 10_000
# What only a purchase carries: its details and soft opt-in's evidence.
PURCHASE_ONLY = ("details", "product_group", "address_collected", "refusal_offered")


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
    """What the schema alone cannot say: purchase details and soft opt-in's
    evidence belong to a purchase, and an address obtained in one needs the
    purchase's product group (what the law's "similar products" is measured
    against)."""
    if data.kind is not InteractionKind.PURCHASE:
        only = {
            name: "only for kind purchase"
            for name in PURCHASE_ONLY
            if getattr(data, name) not in (None, False)
        }
        if only:
            raise InvalidInput(f"only a purchase has {', '.join(only)}", fields=only)
    if data.address_collected and data.product_group is None:
        raise InvalidInput(
            N_("an address obtained in a purchase needs the purchase's product group"),
            fields={"product_group": N_("required when address_collected is true")},
        )
    if data.refusal_offered and not data.address_collected:
        # The law asks for the notice when the address is collected.
        raise InvalidInput(
            N_("the notice of the right to refuse is recorded with the address's collection"),
            fields={"refusal_offered": N_("only with address_collected true")},
        )
    details = data.details
    if details is not None and len(json.dumps(details, ensure_ascii=False)) > MAX_DETAILS_CHARS:
        raise InvalidInput(
            N_("the purchase details are too large"),
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
