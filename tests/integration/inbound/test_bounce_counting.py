"""How often a bounce report by mail counts, and against which address
(issue 15 item 3, the reviewer's findings), over SMTP to the real inbound
listener on SQLite and PostgreSQL.

- A delay warning (a DSN's Action ``delayed``) changes nothing: the message
  is still being tried.
- One message counts at most once against its address, however often the
  remote MTA reports it and in whichever format (RFC 3464 or not).
- A report that names no address (a VERP-only bounce, an ARF with the
  recipient redacted) is charged to the contact's address only when that is
  still the address the message went to.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlmodel import col, select

from service import clock
from service.contacts import service as contacts
from service.contacts.schemas import ContactUpdate
from service.db import SessionMaker, session_scope
from service.models import CampaignRecipient, Contact, DeliveryEventRecord
from service.models.enums import ConsentAction
from tests.integration.inbound.test_bounce_mail import fixture, verp_address
from tests.integration.inbound.test_inbound import (
    CIPHER,
    bounce_of,
    counter_of,
    dsn,
    inbound,
    ledger,
    person,
    send_dsn,
    sent_message,
    suppression_of,
)

__all__ = ["inbound"]


async def events_of(sessionmaker: SessionMaker) -> list[tuple[str, str, str | None, str]]:
    async with sessionmaker() as session:
        rows = (
            await session.exec(select(DeliveryEventRecord).order_by(col(DeliveryEventRecord.id)))
        ).all()
    return [(row.kind.value, row.source, row.bounce_class, row.value_hash) for row in rows]


async def sent_an_hour_ago(sessionmaker: SessionMaker, contact_id: int) -> tuple[int, str]:
    """A sent row (and its Message-ID) whose message went out an hour ago."""
    recipient_id, message_id = await sent_message(sessionmaker, contact_id)
    async with session_scope(sessionmaker) as session:
        await session.exec(
            update(CampaignRecipient)
            .where(col(CampaignRecipient.id) == recipient_id)
            .values(sent_at=clock.now() - timedelta(hours=1))
        )
    return recipient_id, message_id


async def rectify(sessionmaker: SessionMaker, contact_id: int, **fields: str) -> None:
    """Staff change the contact (a ContactChange row is written)."""
    async with session_scope(sessionmaker) as session:
        contact = await session.get(Contact, contact_id)
        assert contact is not None
        await contacts.update(
            session, contact=contact, data=ContactUpdate.model_validate(fields), cipher=CIPHER
        )


# -- delay warnings and repeated reports ------------------------------------------


async def test_delay_warnings_and_the_final_failure_of_one_message_count_once(
    inbound: int, sessionmaker: SessionMaker
) -> None:
    """Before: two warnings and the final failure reached the limit (3) and
    suppressed a working address."""
    address = "full@example.net"
    recipient_id, message_id = await sent_message(sessionmaker, await person(sessionmaker, address))
    await send_dsn(inbound, dsn(address, "delayed", "4.2.2", message_id))
    await send_dsn(inbound, dsn(address, "delayed", "4.4.7", message_id))
    assert await counter_of(sessionmaker, address) is None
    assert await events_of(sessionmaker) == []
    assert await bounce_of(sessionmaker, recipient_id) is None
    await send_dsn(inbound, dsn(address, "failed", "5.2.2", message_id))
    # The same failure in another format (qmail's notice about the same
    # message) is the same message: still once.
    await send_dsn(inbound, fixture("qmail-mailboxfull.eml", message_id))
    assert await counter_of(sessionmaker, address) == (1, 0, "5.2.2")
    assert await suppression_of(sessionmaker, address) is None
    assert await events_of(sessionmaker) == [
        ("bounce", "dsn", "soft", CIPHER.lookup_hash("email", address))
    ]
    assert await bounce_of(sessionmaker, recipient_id) == "5.2.2"


async def test_the_same_report_sent_again_counts_once(
    inbound: int, sessionmaker: SessionMaker
) -> None:
    address = "full@example.net"
    _, message_id = await sent_message(sessionmaker, await person(sessionmaker, address))
    for _ in range(3):
        await send_dsn(inbound, dsn(address, "failed", "5.2.2", message_id))
    assert await counter_of(sessionmaker, address) == (1, 0, "5.2.2")
    assert await suppression_of(sessionmaker, address) is None
    assert len(await events_of(sessionmaker)) == 1


async def test_failures_of_three_different_messages_suppress_at_the_limit(
    inbound: int, sessionmaker: SessionMaker
) -> None:
    address = "full@example.net"
    contact_id = await person(sessionmaker, address)
    messages = [(await sent_message(sessionmaker, contact_id))[1] for _ in range(3)]
    await send_dsn(inbound, dsn(address, "failed", "5.2.2", messages[0]))
    await send_dsn(inbound, fixture("qmail-mailboxfull.eml", messages[1]))
    assert await suppression_of(sessionmaker, address) is None
    await send_dsn(inbound, dsn(address, "failed", "4.4.7", messages[2]))
    assert await counter_of(sessionmaker, address) == (3, 0, "4.4.7")
    assert await suppression_of(sessionmaker, address) == "email:soft_bounce"


# -- reports that name no address ---------------------------------------------------


async def test_a_verp_only_bounce_after_an_address_change_spares_the_new_address(
    inbound: int, sessionmaker: SessionMaker
) -> None:
    contact_id = await person(sessionmaker, "old@example.net")
    recipient_id, message_id = await sent_an_hour_ago(sessionmaker, contact_id)
    await rectify(sessionmaker, contact_id, email="new@example.net")
    await send_dsn(inbound, fixture("mangled-verp-only.eml"), to=verp_address(message_id))
    assert await suppression_of(sessionmaker, "new@example.net") is None
    assert await counter_of(sessionmaker, "new@example.net") is None
    # Counted for the campaign, against no address.
    assert await events_of(sessionmaker) == [("bounce", "mail", "bad_address", "")]
    assert await bounce_of(sessionmaker, recipient_id) == "5.1.1"


async def test_a_verp_only_bounce_without_an_address_change_suppresses(
    inbound: int, sessionmaker: SessionMaker
) -> None:
    address = "same@example.net"
    contact_id = await person(sessionmaker, address)
    _, message_id = await sent_an_hour_ago(sessionmaker, contact_id)
    # A change of something else is no change of address.
    await rectify(sessionmaker, contact_id, full_name="Maija Meikäläinen")
    await send_dsn(inbound, fixture("mangled-verp-only.eml"), to=verp_address(message_id))
    assert await suppression_of(sessionmaker, address) == "email:bounce"


async def test_a_redacted_complaint_after_an_address_change_withdraws_but_spares_the_address(
    inbound: int, sessionmaker: SessionMaker
) -> None:
    from tests.integration.inbound.test_complaints import report

    contact_id = await person(sessionmaker, "old@example.net")
    _, message_id = await sent_an_hour_ago(sessionmaker, contact_id)
    await rectify(sessionmaker, contact_id, email="new@example.net")
    # Yahoo's report redacts the recipient: only the Message-ID names them.
    raw = report("yahoo.eml", message_id).replace("\r\n", "\n").replace("\n", "\r\n")
    await send_dsn(inbound, raw)
    # The person complained: their consent is withdrawn ...
    assert (await ledger(sessionmaker, contact_id))[-1][0] is ConsentAction.WITHDRAW
    # ... but the address they have now never got that message.
    assert await suppression_of(sessionmaker, "new@example.net") is None
    assert await events_of(sessionmaker) == [("complaint", "arf", None, "")]
