"""The consent gate: every reason code, the channel rules, and the promise that
the set-based predicate and the per-contact answer never disagree."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlmodel import col, select

from service.consent.queries import Gate, GateContext
from service.crypto import DataCipher
from service.db import SessionMaker
from service.models import Contact, Suppression
from service.models.enums import Channel, Purpose, Reason
from tests.conftest import TEST_DATA_KEY
from tests.support.clock import FrozenClock
from tests.support.factories import (
    SERVED,
    add_contact,
    add_purchase,
    ban,
    grant,
    unique_email,
    withdraw,
)

Client = AsyncTestClient[Litestar]
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
pytestmark = pytest.mark.usefixtures("frozen_clock")


@pytest.fixture
def clock_start() -> datetime:
    return NOW


NewContact = Callable[..., Awaitable[int]]


@pytest.fixture
def new_contact(admin: Client) -> NewContact:
    """A contact with an address of its own, in service recently enough."""

    async def create(**overrides: Any) -> int:
        fields = {"email": unique_email(), "last_service_contact_at": SERVED}
        return await add_contact(admin, **{**fields, **overrides})

    return create


async def reasons(admin: Client, contact_id: int, **params: Any) -> list[str]:
    response = await admin.get(f"/api/v1/contacts/{contact_id}/eligibility", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["eligible"] is (body["reasons"] == [])
    return list(body["reasons"])


async def set_columns(sessionmaker: SessionMaker, contact_id: int, **values: Any) -> None:
    async with sessionmaker() as db:
        contact = await db.get(Contact, contact_id)
        assert contact is not None
        for name, value in values.items():
            setattr(contact, name, value)
        db.add(contact)
        await db.commit()


async def test_email_to_a_person_needs_consent(admin: Client, new_contact: NewContact) -> None:
    contact = await new_contact()
    assert await reasons(admin, contact) == ["no_consent"]
    await grant(admin, contact)
    assert await reasons(admin, contact) == []
    await withdraw(admin, contact)
    assert await reasons(admin, contact) == ["consent_withdrawn"]
    # Consent for email says nothing about SMS.
    assert await reasons(admin, contact, channel="sms") == ["no_consent", "no_address"]
    phone_contact = await new_contact(phone="0401234567")
    assert await reasons(admin, phone_contact, channel="sms") == ["no_consent"]
    await grant(admin, phone_contact, channel="sms")
    assert await reasons(admin, phone_contact, channel="sms") == []


async def test_soft_opt_in_for_customers_and_similar_products(
    admin: Client, new_contact: NewContact, sessionmaker: SessionMaker
) -> None:
    customer = await new_contact(is_customer=True)
    await add_purchase(admin, customer)
    prospect = await new_contact(is_customer=False)
    assert await reasons(admin, customer, similar_products=True) == []
    assert await reasons(admin, customer, similar_products=False) == ["no_consent"]
    assert await reasons(admin, prospect, similar_products=True) == ["no_consent"]
    # Opting out ends the soft opt-in.
    await withdraw(admin, customer)
    assert await reasons(admin, customer, similar_products=True) == ["consent_withdrawn"]
    objector = await new_contact(is_customer=True)
    await add_purchase(admin, objector)
    await set_columns(sessionmaker, objector, objected_at=NOW)
    assert await reasons(admin, objector, similar_products=True) == ["objected"]


SIMILAR = {"similar_products": True}


async def test_soft_opt_in_needs_a_purchase_in_which_the_address_was_obtained(
    admin: Client, new_contact: NewContact
) -> None:
    customer = await new_contact(is_customer=True)
    assert await reasons(admin, customer, **SIMILAR) == ["no_purchase_record"]
    # A purchase, a service contact: neither says where the address came from.
    await add_purchase(admin, customer, address_collected=False, refusal_offered=False)
    interactions = f"/api/v1/contacts/{customer}/interactions"
    service = {"kind": "service_contact", "occurred_on": SERVED}
    assert (await admin.post(interactions, json=service)).status_code == 201
    assert await reasons(admin, customer, **SIMILAR) == ["no_purchase_record"]
    # SMS asks the same of the same purchases.
    texted = await new_contact(is_customer=True, phone="0401234567")
    assert await reasons(admin, texted, channel="sms", **SIMILAR) == ["no_purchase_record"]
    await add_purchase(admin, texted)
    assert await reasons(admin, texted, channel="sms", **SIMILAR) == []


async def test_soft_opt_in_needs_the_person_told_they_may_refuse(
    admin: Client, new_contact: NewContact
) -> None:
    customer = await new_contact(is_customer=True)
    await add_purchase(admin, customer, refusal_offered=False)
    assert await reasons(admin, customer, **SIMILAR) == ["no_refusal_notice"]
    # Told at a purchase where the address was not obtained is not told at collection.
    await add_purchase(admin, customer, address_collected=False, refusal_offered=False)
    assert await reasons(admin, customer, **SIMILAR) == ["no_refusal_notice"]
    await add_purchase(admin, customer, product_group="workshops")
    assert await reasons(admin, customer, **SIMILAR) == []


async def test_evidence_is_no_lawful_basis_for_anyone_else(
    admin: Client, new_contact: NewContact
) -> None:
    """A purchase does not make a customer: ``is_customer`` stays a deliberate edit."""
    prospect = await new_contact(is_customer=False)
    await add_purchase(admin, prospect)
    assert await reasons(admin, prospect, **SIMILAR) == ["no_consent"]
    # Not a similar-products campaign: the evidence counts for nothing.
    customer = await new_contact(is_customer=True)
    await add_purchase(admin, customer)
    assert await reasons(admin, customer) == ["no_consent"]
    assert await reasons(admin, customer, purpose="email_tracking", **SIMILAR) == ["no_consent"]


async def test_a_withdrawal_beats_the_evidence_and_a_consent_needs_none(
    admin: Client, new_contact: NewContact
) -> None:
    customer = await new_contact(is_customer=True)
    await add_purchase(admin, customer)
    await withdraw(admin, customer)
    assert await reasons(admin, customer, **SIMILAR) == ["consent_withdrawn"]
    consenting = await new_contact(is_customer=True)
    await grant(admin, consenting)
    assert await reasons(admin, consenting, **SIMILAR) == []
    withdrawn = await new_contact(is_customer=True)
    await withdraw(admin, withdrawn)
    assert await reasons(admin, withdrawn, **SIMILAR) == ["consent_withdrawn"]


async def test_soft_opt_in_reasons_belong_to_its_context_only(
    admin: Client, new_contact: NewContact
) -> None:
    """Business contacts, phone and post are opt-out: no evidence asked, and
    the two reasons are no column of those audiences."""
    business = await new_contact(contact_type="business", is_customer=True)
    assert await reasons(admin, business, **SIMILAR) == []
    customer = await new_contact(
        is_customer=True,
        phone="0401234567",
        street_address="Katu 1",
        postal_code="00100",
        city="Helsinki",
    )
    for channel in ("phone", "post"):
        assert await reasons(admin, customer, channel=channel, **SIMILAR) == []
    today = date(2026, 11, 24)
    soft = {Reason.NO_PURCHASE_RECORD, Reason.NO_REFUSAL_NOTICE}
    for channel in Channel:
        for purpose in Purpose:
            for similar in (False, True):
                context = GateContext(
                    channel=channel, purpose=purpose, today=today, similar_products=similar
                )
                applies = (
                    similar
                    and purpose is Purpose.DIRECT_MARKETING
                    and channel in (Channel.EMAIL, Channel.SMS)
                )
                assert (soft <= set(Gate(context).reasons)) is applies, context
                assert bool(soft & set(Gate(context).reasons)) is applies, context


async def test_business_contacts_are_opt_out(admin: Client, new_contact: NewContact) -> None:
    business = await new_contact(contact_type="business")
    assert await reasons(admin, business) == []
    await withdraw(admin, business)
    assert await reasons(admin, business) == ["consent_withdrawn"]


@pytest.mark.parametrize("channel", ["phone", "post"])
async def test_phone_and_post_are_opt_out(
    admin: Client, new_contact: NewContact, channel: str
) -> None:
    contact = await new_contact(
        phone="0401234567", street_address="Katu 1", postal_code="00100", city="Helsinki"
    )
    assert await reasons(admin, contact, channel=channel) == []
    await withdraw(admin, contact, channel=channel)
    assert await reasons(admin, contact, channel=channel) == ["consent_withdrawn"]


async def test_bans_by_channel_and_for_all(
    admin: Client, new_contact: NewContact, frozen_clock: FrozenClock
) -> None:
    contact = await new_contact(phone="0401234567")
    await grant(admin, contact)
    phone_ban = await ban(admin, contact, channel="phone")
    assert await reasons(admin, contact, channel="phone") == ["channel_ban"]
    assert await reasons(admin, contact) == []
    all_ban = await ban(admin, contact, channel="all")
    assert await reasons(admin, contact, channel="phone") == ["direct_marketing_ban", "channel_ban"]
    assert await reasons(admin, contact) == ["direct_marketing_ban"]
    # Only the person's own new act lifts a direct-marketing ban (issue 17).
    frozen_clock.advance(minutes=5)
    again = (await grant(admin, contact, channel="phone"))["history"][-1]["id"]
    for banned in (all_ban, phone_ban):
        lifted = await admin.delete(
            f"/api/v1/contacts/{contact}/bans/{banned}",
            params={"consent_event_id": again, "reason": "the person asked for calls again"},
        )
        assert lifted.status_code == 200, lifted.text
    assert await reasons(admin, contact, channel="phone") == []
    # A purchase-registration ban is not a marketing ban.
    await ban(admin, contact, channel="all", kind="purchase_registration")
    assert await reasons(admin, contact) == []


async def test_restriction_and_objection(
    admin: Client, new_contact: NewContact, sessionmaker: SessionMaker
) -> None:
    contact = await new_contact(phone="0401234567")
    await grant(admin, contact)
    await set_columns(sessionmaker, contact, restricted_at=NOW)
    assert await reasons(admin, contact) == ["restricted"]
    assert await reasons(admin, contact, channel="phone") == ["restricted"]
    await set_columns(sessionmaker, contact, restricted_at=None, objected_at=NOW)
    assert await reasons(admin, contact) == ["objected"]


@pytest.mark.parametrize(
    ("last_contact", "today", "expired"),
    [
        ("2021-11-24", datetime(2026, 11, 24, 12, tzinfo=UTC), False),  # the day: still in
        ("2021-11-23", datetime(2026, 11, 24, 12, tzinfo=UTC), True),
        ("2021-11-25", datetime(2026, 11, 24, 12, tzinfo=UTC), False),
        # 29 Feb + 5 years is 28 Feb: kept on the 28th, gone on 1 March.
        ("2020-02-29", datetime(2025, 2, 28, 12, tzinfo=UTC), False),
        ("2020-02-29", datetime(2025, 3, 1, 12, tzinfo=UTC), True),
        ("2019-02-28", datetime(2024, 2, 29, 12, tzinfo=UTC), True),
        ("2019-03-01", datetime(2024, 2, 29, 12, tzinfo=UTC), False),
        # Helsinki's calendar: 23:30 UTC on 31 Dec is already 1 Jan there.
        ("2021-12-31", datetime(2026, 12, 31, 23, 30, tzinfo=UTC), True),
        ("2021-12-31", datetime(2026, 12, 31, 21, 30, tzinfo=UTC), False),
    ],
)
async def test_retention_boundary(
    admin: Client,
    new_contact: NewContact,
    frozen_clock: FrozenClock,
    last_contact: str,
    today: datetime,
    expired: bool,
) -> None:
    frozen_clock.set(today)
    contact = await new_contact(contact_type="business", last_service_contact_at=last_contact)
    assert await reasons(admin, contact) == (["retention_expired"] if expired else [])


async def test_without_a_service_contact_the_record_date_starts_the_clock(
    admin: Client, new_contact: NewContact, frozen_clock: FrozenClock
) -> None:
    frozen_clock.set(datetime(2020, 5, 10, 8, tzinfo=UTC))
    contact = await new_contact(contact_type="business", last_service_contact_at=None)
    frozen_clock.set(datetime(2025, 5, 10, 8, tzinfo=UTC))
    assert await reasons(admin, contact) == []
    frozen_clock.set(datetime(2025, 5, 11, 8, tzinfo=UTC))
    assert await reasons(admin, contact) == ["retention_expired"]


async def test_suppression_is_per_address(
    admin: Client, new_contact: NewContact, sessionmaker: SessionMaker
) -> None:
    contact = await new_contact(
        phone="0401234567", street_address="K 1", postal_code="00100", city="X"
    )
    await grant(admin, contact)
    cipher = DataCipher(TEST_DATA_KEY)
    email = (await admin.get(f"/api/v1/contacts/{contact}")).json()["email"]
    async with sessionmaker() as db:
        db.add(
            Suppression(
                value_hash=cipher.lookup_hash("email", email), kind="email", reason="bounce"
            )
        )
        await db.commit()
    assert await reasons(admin, contact) == ["suppressed"]
    assert await reasons(admin, contact, channel="phone") == []
    # A bounce is about one address, not the person: post still goes.
    assert await reasons(admin, contact, channel="post") == []
    async with sessionmaker() as db:
        db.add(
            Suppression(
                value_hash=cipher.lookup_hash("phone", "+358401234567"),
                kind="phone",
                reason="objection",
            )
        )
        await db.commit()
    assert await reasons(admin, contact, channel="phone") == ["suppressed"]
    assert await reasons(admin, contact, channel="post") == ["suppressed"]


async def test_no_address_per_channel(admin: Client, new_contact: NewContact) -> None:
    contact = await new_contact(email=None, contact_type="business", street_address="Katu 1")
    assert await reasons(admin, contact) == ["no_address"]
    assert await reasons(admin, contact, channel="phone") == ["no_address"]
    assert await reasons(admin, contact, channel="post") == ["no_address"]


async def test_tracking_always_needs_consent(admin: Client, new_contact: NewContact) -> None:
    business = await new_contact(contact_type="business")
    assert await reasons(admin, business, purpose="email_tracking") == ["no_consent"]
    await grant(admin, business, purpose="email_tracking")
    assert await reasons(admin, business, purpose="email_tracking") == []


async def test_several_reasons_at_once_in_a_fixed_order(
    admin: Client, new_contact: NewContact, sessionmaker: SessionMaker
) -> None:
    contact = await new_contact(last_service_contact_at="2010-01-01")
    await ban(admin, contact, channel="all")
    await ban(admin, contact, channel="email")
    await set_columns(sessionmaker, contact, restricted_at=NOW, objected_at=NOW)
    assert await reasons(admin, contact) == [
        "no_consent",
        "direct_marketing_ban",
        "channel_ban",
        "restricted",
        "objected",
        "retention_expired",
    ]


async def test_bad_parameters_and_unknown_contact(admin: Client, new_contact: NewContact) -> None:
    contact = await new_contact()
    response = await admin.get(f"/api/v1/contacts/{contact}/eligibility", params={"channel": "fax"})
    assert response.status_code == 422 and "channel" in response.json()["fields"]
    assert (await admin.get("/api/v1/contacts/999999/eligibility")).status_code == 404


async def test_the_set_predicate_agrees_with_every_single_answer(
    admin: Client, new_contact: NewContact, sessionmaker: SessionMaker
) -> None:
    """NULLs inside NOT (a OR b …) would silently drop people from a send list:
    build a mixed population and compare the set answer with each contact's."""
    ids = [
        await new_contact(),
        await new_contact(is_customer=True),
        await new_contact(contact_type="business"),
        await new_contact(email=None, phone="0401234567"),
        await new_contact(last_service_contact_at=None),
        await new_contact(last_service_contact_at="2001-01-01", contact_type="business"),
        # Customers with full, partial and no soft opt-in evidence.
        await new_contact(is_customer=True, phone="0401234568"),
        await new_contact(is_customer=True),
        await new_contact(is_customer=True),
    ]
    await grant(admin, ids[0])
    await withdraw(admin, ids[2])
    await ban(admin, ids[1], channel="email")
    await add_purchase(admin, ids[1])
    await add_purchase(admin, ids[6])
    await add_purchase(admin, ids[7], refusal_offered=False)
    ever_eligible: set[int] = set()
    for channel in Channel:
        for similar in (False, True):
            context = GateContext(
                channel=channel,
                purpose=Purpose.DIRECT_MARKETING,
                today=date(2026, 11, 24),
                similar_products=similar,
            )
            gate = Gate(context)
            async with sessionmaker() as db:
                rows = await db.exec(
                    select(col(Contact.id)).select_from(gate.source).where(gate.eligible())
                )
                set_answer = set(rows.all())
            single = {
                cid
                for cid in ids
                if not await reasons(admin, cid, channel=channel.value, similar_products=similar)
            }
            assert set_answer == single, (channel, similar)
            ever_eligible |= set_answer
    # The population is not all excluded; soft opt-in lets in the customer with
    # full evidence only (by email and SMS, as it has both addresses).
    assert ever_eligible == {ids[0], ids[3], ids[6]}
