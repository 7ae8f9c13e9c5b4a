"""The one recording function (service.inbound.events.record) as a webhook
controller calls it: trusted events believed by address, untrusted ones only
for a message of ours, de-duplicated by the provider's event id; on SQLite
and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from service.db import SessionMaker, session_scope
from service.inbound.events import DeliveryEvent, EventKind, Source, record
from service.models.bounces import DeliveryEventRecord
from service.settings import Settings
from tests.integration.inbound.test_inbound import (
    CIPHER,
    SIGNER,
    bounce_of,
    counter_of,
    person,
    sent_message,
    suppression_of,
)


async def recorded(sessionmaker: SessionMaker, settings: Settings, *events: DeliveryEvent) -> str:
    async with session_scope(sessionmaker) as session:
        return await record(session, events, cipher=CIPHER, signer=SIGNER, settings=settings)


async def rows(sessionmaker: SessionMaker) -> list[tuple[str, str | None, str, int | None]]:
    async with sessionmaker() as session:
        found = (
            await session.exec(select(DeliveryEventRecord).order_by(col(DeliveryEventRecord.id)))
        ).all()
    return [(r.source, r.bounce_class, r.value_hash, r.recipient_id) for r in found]


def bounce(address: str, status: str, **fields: object) -> DeliveryEvent:
    return DeliveryEvent(
        kind=EventKind.BOUNCE,
        source=fields.pop("source", Source.MAILGUN),  # type: ignore[arg-type]
        address=address,
        status=status,
        permanent=status.startswith("5"),
        **fields,  # type: ignore[arg-type]
    )


async def test_a_trusted_event_is_believed_by_address_and_counted_once(
    sessionmaker: SessionMaker, settings: Settings
) -> None:
    address = "gone@example.net"
    event = bounce(address, "5.1.1", trusted=True, provider_event_id="evt-1")
    summary = await recorded(sessionmaker, settings, event)
    assert summary == "1 bad address; 1 suppressed"
    # The provider sends it again: recorded before, nothing counted twice.
    assert await recorded(sessionmaker, settings, event) == "1 recorded before"
    assert await suppression_of(sessionmaker, address) == "email:bounce"
    assert await counter_of(sessionmaker, address) == (0, 1, "5.1.1")
    assert await rows(sessionmaker) == [
        ("mailgun", "bad_address", CIPHER.lookup_hash("email", address), None)
    ]
    # The same id from another provider is another event.
    await recorded(
        sessionmaker,
        settings,
        bounce(address, "5.1.1", trusted=True, source=Source.SES, provider_event_id="evt-1"),
    )
    assert len(await rows(sessionmaker)) == 2


async def test_a_trusted_event_is_linked_to_our_message(
    sessionmaker: SessionMaker, settings: Settings
) -> None:
    address = "linked@example.net"
    recipient_id, message_id = await sent_message(sessionmaker, await person(sessionmaker, address))
    await recorded(
        sessionmaker,
        settings,
        bounce(address, "4.2.2", trusted=True, message_id=message_id, provider_event_id="a"),
        # Our Message-ID, another address: believed by address, linked to nothing.
        bounce("other@example.net", "5.7.1", trusted=True, message_id=message_id),
    )
    assert sorted(await rows(sessionmaker)) == sorted(
        [
            ("mailgun", "soft", CIPHER.lookup_hash("email", address), recipient_id),
            ("mailgun", "policy", CIPHER.lookup_hash("email", "other@example.net"), None),
        ]
    )
    assert await bounce_of(sessionmaker, recipient_id) == "4.2.2"
    assert await counter_of(sessionmaker, address) == (1, 0, "4.2.2")


async def test_an_untrusted_event_needs_a_message_of_ours(
    sessionmaker: SessionMaker, settings: Settings
) -> None:
    address = "maija@example.net"
    recipient_id, message_id = await sent_message(sessionmaker, await person(sessionmaker, address))
    summary = await recorded(
        sessionmaker,
        settings,
        bounce(address, "5.1.1", source=Source.DSN),
        bounce(address, "5.1.1", source=Source.DSN, message_id="<c1.r1.guess@example.fi>"),
        bounce("other@example.net", "5.1.1", source=Source.DSN, message_id=message_id),
        bounce("", "5.1.1", source=Source.MAIL, message_id=message_id),
        bounce(address, "5.1.1", source=Source.MAIL, verp="c1.r1.0000000000000000"),
    )
    assert summary == "5 ignored: they refer to no message we sent"
    assert await rows(sessionmaker) == []
    summary = await recorded(
        sessionmaker, settings, bounce(address, "5.1.1", source=Source.DSN, message_id=message_id)
    )
    assert summary == "1 bad address; 1 suppressed"
    assert await bounce_of(sessionmaker, recipient_id) == "5.1.1"


async def test_one_bad_event_does_not_stop_the_others(
    sessionmaker: SessionMaker, settings: Settings
) -> None:
    summary = await recorded(
        sessionmaker,
        settings,
        bounce("", "5.1.1", trusted=True),  # names nobody: nothing to do
        bounce("a@example.net", "9.9.9", trusted=True, diagnostic="\x00" * 10_000),
        bounce("b@example.net", "5.2.2", trusted=True, provider_event_id="x" * 5000),
    )
    assert summary == "2 soft; 1 ignored: it refers to no message we sent"
    assert await counter_of(sessionmaker, "a@example.net") == (1, 0, "4.0.0")


async def test_a_complaint_goes_to_the_complaints_module(
    sessionmaker: SessionMaker, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    address = "angry@example.net"
    contact_id = await person(sessionmaker, address)
    recipient_id, message_id = await sent_message(sessionmaker, contact_id)
    calls: list[dict[str, object]] = []

    async def record_complaint(session: object, **kwargs: object) -> str:
        calls.append(kwargs)
        return "complaint recorded"

    from service.inbound import complaints

    monkeypatch.setattr(complaints, "record_complaint", record_complaint)
    event = DeliveryEvent(
        kind=EventKind.COMPLAINT,
        source=Source.ARF,
        address=address,
        message_id=message_id,
    )
    summary = await recorded(sessionmaker, settings, event)
    assert summary == "1 complaint; complaint recorded"
    campaign_id = int(message_id.split(".")[0].removeprefix("<c"))
    assert calls == [
        {
            "contact_id": contact_id,
            "campaign_id": campaign_id,
            "recipient_id": recipient_id,
            "value_hash": CIPHER.lookup_hash("email", address),
            "source": "arf",
            "provider_event_id": None,
            "settings": settings,
        }
    ]


async def test_a_bounce_mail_listing_many_addresses_counts_once_for_its_message(
    sessionmaker: SessionMaker, settings: Settings
) -> None:
    address = "alias@example.net"
    _, message_id = await sent_message(sessionmaker, await person(sessionmaker, address))
    token = message_id.strip("<>").partition("@")[0]
    summary = await recorded(
        sessionmaker,
        settings,
        *(
            bounce(f"expanded{i}@elsewhere.example", "4.2.2", source=Source.MAIL, verp=token)
            for i in range(50)
        ),
        bounce(address, "5.1.1", source=Source.MAIL, verp=token),
    )
    assert summary == "1 bad address; 1 suppressed; 50 merged (one message)"
    assert await counter_of(sessionmaker, address) == (0, 1, "5.1.1")
    assert await counter_of(sessionmaker, "expanded0@elsewhere.example") is None
