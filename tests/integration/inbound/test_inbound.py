"""The inbound SMTP listener against real databases: mailto unsubscribes,
"stop" replies and delivery reports, sent over SMTP with aiosmtplib."""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest
from sqlmodel import col, select

from service.crypto import DataCipher
from service.db import SessionMaker, create_engine, create_sessionmaker, session_scope
from service.embedded import free_port
from service.inbound.server import MAX_MESSAGE_BYTES, InboundServer
from service.migrate import upgrade_async
from service.models import (
    BounceCounter,
    Campaign,
    CampaignRecipient,
    ConsentEvent,
    Suppression,
)
from service.models.enums import (
    Actor,
    CampaignChannel,
    CaptureMethod,
    ConsentAction,
    Purpose,
    RecipientStatus,
)
from service.settings import Settings, load_settings
from service.tokens import TokenSigner
from tests.conftest import TEST_DATA_KEY, TEST_SECRET
from tests.support.factories import MARKETING, create_contact

HOST = "127.0.0.1"
MAIL_FROM = "news@example.fi"
UNSUBSCRIBE = "unsubscribe@example.fi"
SIGNER = TokenSigner(TEST_SECRET)
CIPHER = DataCipher(TEST_DATA_KEY)


def inbound_settings(settings_env: dict[str, str], database_url: str) -> Settings:
    return load_settings(
        {
            **settings_env,
            "CONSENTRY_DATABASE_URL": database_url,
            "CONSENTRY_MAIL_FROM": MAIL_FROM,
            "CONSENTRY_INBOUND_HOST": HOST,
            "CONSENTRY_INBOUND_PORT": str(free_port()),
        }
    )


@pytest.fixture
def inbound(
    settings_env: dict[str, str], database_url: str, sessionmaker: SessionMaker
) -> Iterator[int]:
    """A running listener on a free port of 127.0.0.1, on an emptied database."""
    server = InboundServer(inbound_settings(settings_env, database_url))
    with server as (_, port):
        yield port


async def person(sessionmaker: SessionMaker, email: str = "maija@example.fi") -> int:
    """A contact who consented to email marketing."""
    return await create_contact(
        sessionmaker, cipher=CIPHER, consent=MARKETING, email=email, legal_basis="consent"
    )


async def ledger(
    sessionmaker: SessionMaker, contact_id: int
) -> list[tuple[ConsentAction, CaptureMethod, Actor, int | None]]:
    async with sessionmaker() as session:
        events = await session.exec(
            select(ConsentEvent)
            .where(ConsentEvent.contact_id == contact_id)
            .order_by(col(ConsentEvent.id))
        )
        return [(e.action, e.method, e.actor, e.campaign_id) for e in events.all()]


async def send(
    port: int,
    *,
    sender: str = "maija@example.fi",
    to: str = UNSUBSCRIBE,
    subject: str = "",
    body: str = "",
) -> None:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body or "\n")
    await aiosmtplib.send(message, hostname=HOST, port=port, sender=sender, recipients=[to])


def dsn(address: str, action: str, status: str, message_id: str = "<c3.r9.k@example.fi>") -> str:
    """A Postfix-style delivery report about one recipient."""
    return (
        "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\r\n"
        f"To: {MAIL_FROM}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B0"\r\n'
        "\r\n--B0\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--B0\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.net\r\n\r\n"
        f"Final-Recipient: rfc822; {address}\r\nAction: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; {status} <{address}>: see status\r\n"
        "\r\n--B0\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: {MAIL_FROM}\r\nTo: {address}\r\nMessage-ID: {message_id}\r\n"
        "\r\n--B0--\r\n"
    )


async def send_dsn(port: int, report: str, to: str = MAIL_FROM) -> None:
    # Delivery reports come with the null sender, which aiosmtplib.send refuses.
    async with aiosmtplib.SMTP(hostname=HOST, port=port) as smtp:
        await smtp.sendmail("", [to], report)


async def suppression_of(sessionmaker: SessionMaker, address: str) -> str | None:
    async with sessionmaker() as session:
        row = (
            await session.exec(
                select(Suppression).where(
                    Suppression.value_hash == CIPHER.lookup_hash("email", address)
                )
            )
        ).first()
        return None if row is None else f"{row.kind}:{row.reason}"


async def counter_of(sessionmaker: SessionMaker, address: str) -> tuple[int, int, str] | None:
    async with sessionmaker() as session:
        row = await session.get(BounceCounter, CIPHER.lookup_hash("email", address))
        return None if row is None else (row.soft_count, row.hard_count, row.last_status)


GRANTED = (ConsentAction.GRANT, CaptureMethod.WEB_FORM, Actor.STAFF, None)


# -- unsubscribe by mail -----------------------------------------------------------


async def test_the_mailto_token_withdraws_like_one_click(
    inbound: int, sessionmaker: SessionMaker
) -> None:
    contact_id = await person(sessionmaker)
    token = SIGNER.sign("unsubscribe", contact_id, 7)
    # Sent from another address: the token alone identifies the person.
    await send(inbound, sender="someone@elsewhere.example", subject=f"unsubscribe {token}")
    await send(inbound, sender="someone@elsewhere.example", subject=f"unsubscribe {token}")
    assert await ledger(sessionmaker, contact_id) == [
        GRANTED,
        (ConsentAction.WITHDRAW, CaptureMethod.MAILTO, Actor.PUBLIC_LINK, 7),
    ]


async def test_the_token_may_be_in_the_body(inbound: int, sessionmaker: SessionMaker) -> None:
    contact_id = await person(sessionmaker)
    token = SIGNER.sign("unsubscribe", contact_id, 3)
    await send(
        inbound,
        sender="nobody@elsewhere.example",
        subject="Unsubscribe",
        body=f"Please remove me.\n\nhttps://example.fi/u/{token}\n",
    )
    assert (await ledger(sessionmaker, contact_id))[-1] == (
        ConsentAction.WITHDRAW,
        CaptureMethod.MAILTO,
        Actor.PUBLIC_LINK,
        3,
    )


async def test_a_plain_stop_reply_from_a_registered_address_withdraws(
    inbound: int, sessionmaker: SessionMaker
) -> None:
    contact_id = await person(sessionmaker)
    other_id = await person(sessionmaker, "liisa@example.fi")
    await send(inbound, sender="Maija@Example.FI", subject="STOP", body="stop\n")
    assert await ledger(sessionmaker, contact_id) == [
        GRANTED,
        (ConsentAction.WITHDRAW, CaptureMethod.MAILTO, Actor.PUBLIC_LINK, None),
    ]
    assert await ledger(sessionmaker, other_id) == [GRANTED]


async def test_a_forged_token_from_an_unknown_address_changes_nothing(
    inbound: int, sessionmaker: SessionMaker
) -> None:
    contact_id = await person(sessionmaker)
    forged = TokenSigner("another-secret-" + "x" * 40).sign("unsubscribe", contact_id, 7)
    damaged = SIGNER.sign("unsubscribe", contact_id, 7)[:-2] + "zz"
    for token in (forged, damaged):
        # Accepted (a retry would change nothing), and ignored.
        await send(inbound, sender="mallory@evil.example", subject=f"unsubscribe {token}")
    assert await ledger(sessionmaker, contact_id) == [GRANTED]


async def test_an_auto_reply_from_a_registered_address_changes_nothing(
    inbound: int, sessionmaker: SessionMaker
) -> None:
    contact_id = await person(sessionmaker)
    message = EmailMessage()
    message["From"] = "maija@example.fi"
    message["To"] = UNSUBSCRIBE
    message["Subject"] = "Out of office"
    message["Auto-Submitted"] = "auto-replied"
    message.set_content("I am away until Monday.\n")
    await aiosmtplib.send(message, hostname=HOST, port=inbound)
    assert await ledger(sessionmaker, contact_id) == [GRANTED]


# -- delivery reports --------------------------------------------------------------


async def sent_message(sessionmaker: SessionMaker, contact_id: int) -> tuple[int, str]:
    """A campaign recipient row as sending leaves it, and its Message-ID."""
    async with session_scope(sessionmaker) as session:
        campaign = Campaign(
            name="Autumn", channel=CampaignChannel.EMAIL, purpose=Purpose.DIRECT_MARKETING
        )
        session.add(campaign)
        await session.flush()
        assert campaign.id is not None
        row = CampaignRecipient(
            campaign_id=campaign.id,
            contact_id=contact_id,
            channel=CampaignChannel.EMAIL,
            status=RecipientStatus.SENT,
        )
        session.add(row)
        await session.flush()
        assert row.id is not None
        tag = SIGNER.message_tag(campaign.id, row.id, campaign.message_key)
        return row.id, f"<c{campaign.id}.r{row.id}.{tag}@example.fi>"


async def test_a_hard_bounce_suppresses_the_address(
    inbound: int, sessionmaker: SessionMaker
) -> None:
    contact_id = await person(sessionmaker, "gone@example.net")
    _, message_id = await sent_message(sessionmaker, contact_id)
    await send_dsn(inbound, dsn("Gone@Example.net", "failed", "5.1.1", message_id))
    assert await suppression_of(sessionmaker, "gone@example.net") == "email:bounce"
    assert await counter_of(sessionmaker, "gone@example.net") == (0, 1, "5.1.1")
    # The same report again (a remote MTA that sends it twice): one message
    # counts once, and the suppression stays one row.
    await send_dsn(inbound, dsn("gone@example.net", "failed", "5.1.1", message_id))
    assert await counter_of(sessionmaker, "gone@example.net") == (0, 1, "5.1.1")


async def test_soft_bounces_suppress_on_reaching_the_limit(
    inbound: int, sessionmaker: SessionMaker
) -> None:
    address = "full@example.net"
    contact_id = await person(sessionmaker, address)
    messages = [(await sent_message(sessionmaker, contact_id))[1] for _ in range(3)]
    await send_dsn(inbound, dsn(address, "failed", "4.4.1", messages[0]))
    await send_dsn(inbound, dsn(address, "failed", "4.2.2", messages[1]))
    assert await suppression_of(sessionmaker, address) is None
    assert await counter_of(sessionmaker, address) == (2, 0, "4.2.2")
    await send_dsn(inbound, dsn(address, "failed", "4.4.7", messages[2]), to=MAIL_FROM.upper())
    assert await suppression_of(sessionmaker, address) == "email:soft_bounce"
    assert await counter_of(sessionmaker, address) == (3, 0, "4.4.7")


async def test_a_report_about_no_message_of_ours_changes_nothing(
    inbound: int, sessionmaker: SessionMaker, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 13: a forged report naming an address we mail suppressed it."""
    address = "maija@example.fi"
    contact_id = await person(sessionmaker, address)
    recipient_id, message_id = await sent_message(sessionmaker, contact_id)
    guessed = re.sub(r"\.[^.@]+@", ".wrongkey@", message_id)
    other_row = message_id.replace(f".r{recipient_id}.", f".r{recipient_id + 1000}.")
    # What another recipient of the campaign knows: the campaign, its key, and
    # the tag of their own message. None of it makes this row's tag.
    campaign_id = int(message_id.split(".")[0].removeprefix("<c"))
    async with sessionmaker() as session:
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None
    their_tag = SIGNER.message_tag(campaign_id, recipient_id + 1, campaign.message_key)
    forged = [
        dsn(address, "failed", "5.1.1", "<nothing-of-ours@mx.example.net>"),
        dsn(address, "failed", "5.1.1", guessed),
        dsn(address, "failed", "5.1.1", other_row),
        dsn(address, "failed", "5.1.1", re.sub(r"\.[^.@]+@", f".{their_tag}@", message_id)),
        dsn(
            address,
            "failed",
            "5.1.1",
            re.sub(r"\.[^.@]+@", f".{campaign.message_key}@", message_id),
        ),
        # No original at all: nothing to tie the report to.
        dsn(address, "failed", "5.1.1").split("--B0\r\nContent-Type: text/rfc822")[0]
        + "--B0--\r\n",
    ]
    with caplog.at_level("INFO", logger="service.inbound"):
        for report in forged:
            # Answered as any report is: the forger learns nothing.
            await send_dsn(inbound, report)
    async with sessionmaker() as session:
        assert (await session.exec(select(Suppression))).all() == []
        assert (await session.exec(select(BounceCounter))).all() == []
    assert await bounce_of(sessionmaker, recipient_id) is None
    ignored = [r.getMessage() for r in caplog.records if "refers to no message" in r.getMessage()]
    assert len(ignored) == len(forged)
    assert not any(address in r.getMessage() for r in caplog.records)
    # The genuine report for the same address still suppresses it.
    await send_dsn(inbound, dsn(address, "failed", "5.1.1", message_id))
    assert await suppression_of(sessionmaker, address) == "email:bounce"
    assert await bounce_of(sessionmaker, recipient_id) == "5.1.1"


async def test_a_report_for_a_row_not_sent_changes_nothing(
    inbound: int, sessionmaker: SessionMaker
) -> None:
    contact_id = await person(sessionmaker)
    recipient_id, message_id = await sent_message(sessionmaker, contact_id)
    async with session_scope(sessionmaker) as session:
        row = await session.get(CampaignRecipient, recipient_id)
        assert row is not None
        row.status = RecipientStatus.QUEUED
        session.add(row)
    await send_dsn(inbound, dsn("maija@example.fi", "failed", "5.1.1", message_id))
    assert await suppression_of(sessionmaker, "maija@example.fi") is None


async def bounce_of(sessionmaker: SessionMaker, recipient_id: int) -> str | None:
    async with sessionmaker() as session:
        row = await session.get(CampaignRecipient, recipient_id)
        assert row is not None and row.status is RecipientStatus.SENT
        return None if row.bounced_at is None else row.bounce_status


async def test_a_report_is_linked_to_the_message_it_returns(
    inbound: int, sessionmaker: SessionMaker
) -> None:
    contact_id = await person(sessionmaker, "gone@example.net")
    recipient_id, message_id = await sent_message(sessionmaker, contact_id)
    # A guessed Message-ID (wrong key) and a report about another address link nothing.
    guessed = re.sub(r"\.[^.@]+@", ".wrongkey@", message_id)
    assert guessed != message_id
    await send_dsn(inbound, dsn("gone@example.net", "failed", "5.1.1", guessed))
    await send_dsn(inbound, dsn("other@example.net", "failed", "5.1.1", message_id))
    assert await bounce_of(sessionmaker, recipient_id) is None

    # A delay warning: the message is still being tried, nothing is marked.
    await send_dsn(inbound, dsn("gone@example.net", "delayed", "4.4.1", message_id))
    assert await bounce_of(sessionmaker, recipient_id) is None
    await send_dsn(inbound, dsn("gone@example.net", "failed", "5.1.1", message_id))
    assert await bounce_of(sessionmaker, recipient_id) == "5.1.1"
    await send_dsn(inbound, dsn("gone@example.net", "delayed", "4.4.7", message_id))
    assert await bounce_of(sessionmaker, recipient_id) == "5.1.1"


async def test_malformed_reports_and_other_mail_are_accepted_and_ignored(
    inbound: int, sessionmaker: SessionMaker
) -> None:
    broken = dsn("gone@example.net", "failed", "5.1.1").replace("Final-Recipient", "X-Nothing")
    await send_dsn(inbound, broken)
    await send_dsn(inbound, "Subject: hello\r\n\r\nnot a report\r\n")
    success = dsn("fine@example.net", "delivered", "2.0.0")
    await send_dsn(inbound, success)
    # A report sent to the unsubscribe address is neither a report nor a request.
    await send_dsn(inbound, dsn("gone@example.net", "failed", "5.1.1"), to=UNSUBSCRIBE)
    async with sessionmaker() as session:
        assert (await session.exec(select(Suppression))).all() == []
        assert (await session.exec(select(BounceCounter))).all() == []


# -- the SMTP conversation -----------------------------------------------------------


async def test_unknown_recipients_are_refused(inbound: int) -> None:
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await send(inbound, to="someone@example.fi", subject="hello")
    (error,) = refused.value.recipients
    assert error.code == 550
    assert "5.1.1" in error.message


async def test_messages_over_the_size_limit_are_refused(inbound: int) -> None:
    body = ("x" * 99 + "\n") * (MAX_MESSAGE_BYTES // 100 + 1)
    with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
        await send(inbound, subject="big", body=body)
    assert refused.value.code == 552


async def test_a_database_failure_answers_451_and_the_retry_succeeds(
    settings_env: dict[str, str], tmp_path: Path
) -> None:
    # A database without tables yet: every transaction fails.
    url = f"sqlite+aiosqlite:///{tmp_path / 'later.db'}"
    server = InboundServer(inbound_settings(settings_env, url))
    with server as (_, port):
        report = dsn("gone@example.net", "failed", "5.1.1")
        with pytest.raises(aiosmtplib.SMTPDataError) as refused:
            await send_dsn(port, report)
        assert refused.value.code == 451
        await upgrade_async(url)
        engine = create_engine(url)
        try:
            later = create_sessionmaker(engine)
            _, message_id = await sent_message(later, await person(later, "gone@example.net"))
            await send_dsn(port, dsn("gone@example.net", "failed", "5.1.1", message_id))
            assert await suppression_of(later, "gone@example.net") == "email:bounce"
        finally:
            await engine.dispose()


def test_start_refuses_a_port_in_use(settings_env: dict[str, str], tmp_path: Path) -> None:
    import socket

    from service.embedded import EmbeddedServiceError

    settings = inbound_settings(settings_env, f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    with socket.socket() as busy:
        busy.bind((HOST, 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(EmbeddedServiceError, match=f"cannot listen on {HOST}:{port}"):
            InboundServer(settings, port=port).start()
