"""Every kind of bounce mail (issue 15 items 2 and 3), sent over SMTP to the
real inbound listener, on SQLite and PostgreSQL: non-DSN formats read with
flufl.bounce (fixtures in tests/fixtures/bounces, see its README), VERP
return paths, and the one rule deciding what each bounce does."""

from __future__ import annotations

import re
from pathlib import Path

import aiosmtplib
import pytest
from sqlmodel import col, select

from service.db import SessionMaker, session_scope
from service.models import BounceCounter, Campaign, CampaignRecipient, Suppression
from service.models.bounces import DeliveryEventRecord
from service.models.enums import CampaignChannel, CampaignStatus, Purpose, RecipientStatus
from tests.integration.inbound.test_inbound import (
    HOST,
    MAIL_FROM,
    SIGNER,
    bounce_of,
    counter_of,
    dsn,
    inbound,
    person,
    send_dsn,
    sent_message,
    suppression_of,
)

__all__ = ["inbound"]

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "bounces"


def fixture(name: str, message_id: str = "") -> str:
    return (FIXTURES / name).read_text().replace("{message_id}", message_id)


def verp_address(message_id: str) -> str:
    """The return path the message went out with: news+c1.r2.TAG@example.fi."""
    token = message_id.strip("<>").partition("@")[0]
    local, _, domain = MAIL_FROM.partition("@")
    return f"{local}+{token}@{domain}"


async def events_of(sessionmaker: SessionMaker) -> list[tuple[str, str | None, int | None]]:
    async with sessionmaker() as session:
        rows = (
            await session.exec(select(DeliveryEventRecord).order_by(col(DeliveryEventRecord.id)))
        ).all()
    return [(row.source, row.bounce_class, row.recipient_id) for row in rows]


async def nothing_changed(sessionmaker: SessionMaker) -> bool:
    async with sessionmaker() as session:
        return (
            (await session.exec(select(Suppression))).all() == []
            and (await session.exec(select(BounceCounter))).all() == []
            and (await session.exec(select(DeliveryEventRecord))).all() == []
        )


# (fixture, the address it reports, class, suppression, counter)
FAMILIES = [
    ("exim-userunknown.eml", "gone@example.net", "bad_address", "email:bounce", (0, 1)),
    ("exim-banned-ip.eml", "blocked@example.net", "policy", None, None),
    ("qmail-unknown.eml", "qmail-gone@example.net", "bad_address", "email:bounce", (0, 1)),
    ("qmail-mailboxfull.eml", "full@example.net", "soft", None, (1, 0)),
    ("gmail-failure.eml", "gmail-gone@example.net", "bad_address", "email:bounce", (0, 1)),
    (
        "gmail-address-not-found.eml",
        "gmail-nobody@example.net",
        "bad_address",
        "email:bounce",
        (0, 1),
    ),
    ("plain-text.eml", "plain-gone@example.net", "bad_address", "email:bounce", (0, 1)),
]


@pytest.mark.parametrize(("name", "address", "bounce_class", "suppressed", "counted"), FAMILIES)
async def test_each_family_is_read_and_classified(
    inbound: int,
    sessionmaker: SessionMaker,
    name: str,
    address: str,
    bounce_class: str,
    suppressed: str | None,
    counted: tuple[int, int] | None,
) -> None:
    recipient_id, message_id = await sent_message(sessionmaker, await person(sessionmaker, address))
    # To the plain bounce address: the returned copy's Message-ID links it.
    await send_dsn(inbound, fixture(name, message_id))
    assert await events_of(sessionmaker) == [("mail", bounce_class, recipient_id)]
    assert await suppression_of(sessionmaker, address) == suppressed
    assert (await counter_of(sessionmaker, address) or (None,))[:2] == (counted or (None,))
    assert await bounce_of(sessionmaker, recipient_id) is not None


@pytest.mark.parametrize(("name", "address", "bounce_class", "suppressed", "counted"), FAMILIES)
async def test_a_family_about_no_message_of_ours_changes_nothing(
    inbound: int,
    sessionmaker: SessionMaker,
    name: str,
    address: str,
    bounce_class: str,
    suppressed: str | None,
    counted: tuple[int, int] | None,
) -> None:
    _, message_id = await sent_message(sessionmaker, await person(sessionmaker, address))
    guessed = re.sub(r"\.[^.@]+@", f".{'0' * 20}@", message_id)  # a guessed tag
    assert guessed != message_id
    await send_dsn(inbound, fixture(name, guessed))
    await send_dsn(inbound, fixture(name, "<someone-elses@example.org>"))
    assert await nothing_changed(sessionmaker)


async def test_exchange_2003_without_a_copy_is_linked_by_its_verp_return_path(
    inbound: int, sessionmaker: SessionMaker
) -> None:
    address = "exchange-gone@example.net"
    recipient_id, message_id = await sent_message(sessionmaker, await person(sessionmaker, address))
    report = fixture("exchange2003-unknown.eml")
    # To the plain address it refers to nothing we sent.
    await send_dsn(inbound, report)
    assert await nothing_changed(sessionmaker)
    await send_dsn(inbound, report, to=verp_address(message_id))
    assert await events_of(sessionmaker) == [("mail", "bad_address", recipient_id)]
    assert await suppression_of(sessionmaker, address) == "email:bounce"


async def test_a_mangled_bounce_to_a_verp_address_names_the_rows_contact(
    inbound: int, sessionmaker: SessionMaker
) -> None:
    address = "mangled@example.net"
    recipient_id, message_id = await sent_message(sessionmaker, await person(sessionmaker, address))
    await send_dsn(inbound, fixture("mangled-verp-only.eml"), to=verp_address(message_id).upper())
    assert await suppression_of(sessionmaker, address) == "email:bounce"
    assert await bounce_of(sessionmaker, recipient_id) == "5.1.1"


async def test_a_dsn_about_an_alias_to_a_verp_address_is_the_contacts(
    inbound: int, sessionmaker: SessionMaker
) -> None:
    """A forwarding alias reports the address it expanded into, which no
    contact has; the return path still names the message and its contact."""
    address = "alias@example.net"
    _, message_id = await sent_message(sessionmaker, await person(sessionmaker, address))
    report = dsn("final@elsewhere.example", "failed", "5.1.1", "<not-quoted@example.net>")
    await send_dsn(inbound, report, to=verp_address(message_id))
    assert await suppression_of(sessionmaker, address) == "email:bounce"
    assert await suppression_of(sessionmaker, "final@elsewhere.example") is None


async def test_a_guessed_verp_token_and_a_vacation_reply_change_nothing(
    inbound: int, sessionmaker: SessionMaker
) -> None:
    address = "maija@example.net"
    recipient_id, message_id = await sent_message(sessionmaker, await person(sessionmaker, address))
    campaign_id = int(message_id.split(".")[0].removeprefix("<c"))
    async with sessionmaker() as session:
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None
    mangled = fixture("mangled-verp-only.eml")
    local, _, domain = MAIL_FROM.partition("@")
    guesses = [
        f"{local}+c{campaign_id}.r{recipient_id}.{'0' * 20}@{domain}",
        # Another row's genuine tag does not make this row's.
        f"{local}+c{campaign_id}.r{recipient_id}."
        f"{SIGNER.message_tag(campaign_id, recipient_id + 1, campaign.message_key)}@{domain}",
        f"{local}+c{campaign_id}.r{recipient_id}.{campaign.message_key}@{domain}",
        f"{local}+not-a-token@{domain}",
        f"{local}+@{domain}",
    ]
    for to in guesses:
        await send_dsn(inbound, mangled, to=to)
    await send_dsn(inbound, fixture("vacation-reply.eml"), to=verp_address(message_id))
    assert await nothing_changed(sessionmaker)
    assert await bounce_of(sessionmaker, recipient_id) is None


async def test_only_the_bounce_address_takes_a_plus_part(inbound: int) -> None:
    async with aiosmtplib.SMTP(hostname=HOST, port=inbound) as smtp:
        for refused in ("someone+c1.r2.abcdefabcdefabcdefab@example.fi", "news+x@example.net"):
            with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
                await smtp.sendmail("", [refused], "Subject: x\r\n\r\nx\r\n")
        await smtp.sendmail("", ["news+anything@EXAMPLE.fi"], "Subject: x\r\n\r\nx\r\n")


# -- the one rule on delivery reports ------------------------------------------------


async def test_a_full_mailbox_is_counted_not_suppressed(
    inbound: int, sessionmaker: SessionMaker
) -> None:
    """Before issue 15 any 5.x.x suppressed at once, 5.2.2 included."""
    address = "full@example.net"
    contact_id = await person(sessionmaker, address)
    for _ in range(2):
        _, message_id = await sent_message(sessionmaker, contact_id)
        await send_dsn(inbound, dsn(address, "failed", "5.2.2", message_id))
    assert await suppression_of(sessionmaker, address) is None
    assert await counter_of(sessionmaker, address) == (2, 0, "5.2.2")
    _, message_id = await sent_message(sessionmaker, contact_id)
    await send_dsn(inbound, dsn(address, "failed", "5.2.2", message_id))
    assert await suppression_of(sessionmaker, address) == "email:soft_bounce"


async def test_a_policy_block_never_touches_the_address(
    inbound: int, sessionmaker: SessionMaker
) -> None:
    address = "blocked@example.net"
    contact_id = await person(sessionmaker, address)
    sent = [await sent_message(sessionmaker, contact_id) for _ in range(4)]
    for _, message_id in sent:
        await send_dsn(inbound, dsn(address, "failed", "5.7.1", message_id))
    assert await suppression_of(sessionmaker, address) is None
    assert await counter_of(sessionmaker, address) is None
    assert await events_of(sessionmaker) == [("dsn", "policy", rid) for rid, _ in sent]
    assert await bounce_of(sessionmaker, sent[0][0]) == "5.7.1"


async def sending_campaign(sessionmaker: SessionMaker, contact_ids: list[int]) -> list[str]:
    """A campaign still sending whose messages to these contacts went out;
    their Message-IDs."""
    async with session_scope(sessionmaker) as session:
        campaign = Campaign(
            name="Spring",
            channel=CampaignChannel.EMAIL,
            purpose=Purpose.DIRECT_MARKETING,
            status=CampaignStatus.SENDING,
        )
        session.add(campaign)
        await session.flush()
        assert campaign.id is not None
        rows = [
            CampaignRecipient(
                campaign_id=campaign.id,
                contact_id=contact_id,
                channel=CampaignChannel.EMAIL,
                status=RecipientStatus.SENT,
            )
            for contact_id in contact_ids
        ]
        session.add_all(rows)
        await session.flush()
        return [
            f"<c{campaign.id}.r{row.id}."
            f"{SIGNER.message_tag(campaign.id, row.id or 0, campaign.message_key)}@example.fi>"
            for row in rows
        ]


async def test_policy_reports_pause_a_sending_campaign_with_the_reason(
    inbound: int, sessionmaker: SessionMaker
) -> None:
    addresses = [f"r{i}@example.net" for i in range(12)]
    contacts = [await person(sessionmaker, address) for address in addresses]
    message_ids = await sending_campaign(sessionmaker, contacts)
    campaign_id = int(message_ids[0].split(".")[0].removeprefix("<c"))
    for address, message_id in list(zip(addresses, message_ids, strict=True))[:9]:
        await send_dsn(inbound, dsn(address, "failed", "5.7.1", message_id))
    async with sessionmaker() as session:
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None and campaign.status is CampaignStatus.SENDING
    await send_dsn(inbound, dsn(addresses[9], "failed", "5.7.1", message_ids[9]))
    async with sessionmaker() as session:
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None
    assert campaign.status is CampaignStatus.PAUSED
    assert campaign.pause_reason == (
        "paused: 10 of the last 12 messages were refused by policy (5.7.x)"
        " — the sending IP or content is blocked"
    )
    async with sessionmaker() as session:
        assert (await session.exec(select(Suppression))).all() == []


async def test_no_address_reaches_the_log(
    inbound: int, sessionmaker: SessionMaker, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO"):
        for name, address, *_ in FAMILIES:
            _, message_id = await sent_message(sessionmaker, await person(sessionmaker, address))
            await send_dsn(inbound, fixture(name, message_id))
            await send_dsn(inbound, fixture(name, message_id), to=verp_address(message_id))
        # A mail no detector can read (flufl.bounce's Yale detector fails on it).
        await send_dsn(inbound, "X-Failed-Recipients: <>\r\n\r\n550 5.1.1 x@example.net\r\n")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "bounce mail: 1 bad address; 1 suppressed" in logged
    assert "@example.net" not in logged and "Traceback" not in caplog.text


async def test_a_feedback_report_to_a_verp_return_path_is_a_complaint(
    inbound: int, sessionmaker: SessionMaker
) -> None:
    """Some feedback loops send to the return path: the complaint is read there too."""
    from tests.integration.inbound.test_complaints import report

    address = "kaisa@example.net"
    recipient_id, message_id = await sent_message(sessionmaker, await person(sessionmaker, address))
    raw = report("yahoo.eml", message_id, address).replace("\r\n", "\n").replace("\n", "\r\n")
    await send_dsn(inbound, raw, to=verp_address(message_id))
    async with sessionmaker() as session:
        rows = (await session.exec(select(DeliveryEventRecord))).all()
    assert [(r.kind.value, r.recipient_id) for r in rows] == [("complaint", recipient_id)]
    # A complaint is no bounce: the bounce counters are untouched.
    assert await counter_of(sessionmaker, address) is None
