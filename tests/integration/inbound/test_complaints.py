"""Spam complaints end to end: ARF reports in the shapes real feedback loops
send (tests/fixtures/arf) go over SMTP to the real inbound listener, on
SQLite and PostgreSQL; what they change is read back from the database."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import aiosmtplib
import pytest
from sqlmodel import col, select

from service.campaigns import service as campaigns_service
from service.crypto import DataCipher
from service.db import SessionMaker, session_scope
from service.delivery import verp
from service.embedded import free_port
from service.inbound.complaints import record_complaint
from service.inbound.events import Source
from service.inbound.server import InboundServer
from service.models import (
    Campaign,
    CampaignRecipient,
    ConsentEvent,
    DeliveryEventRecord,
    Suppression,
)
from service.models.enums import (
    Actor,
    CampaignChannel,
    CampaignStatus,
    CaptureMethod,
    ConsentAction,
    DeliveryEventKind,
    Purpose,
    RecipientStatus,
)
from service.settings import Settings, load_settings
from service.tokens import TokenSigner
from tests.conftest import TEST_DATA_KEY, TEST_SECRET
from tests.support.factories import MARKETING, create_contact

HOST = "127.0.0.1"
MAIL_FROM = "news@example.com"
BOUNCES = "bounces@example.com"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "arf"
PROVIDERS = [
    "yahoo.eml",
    "aol.eml",
    "microsoft-jmrp.eml",
    "generic-abuse.eml",
    "returnpath-no-report-type.eml",
]
SIGNER = TokenSigner(TEST_SECRET)
CIPHER = DataCipher(TEST_DATA_KEY)
GRANTED = (ConsentAction.GRANT, CaptureMethod.WEB_FORM, Actor.STAFF, None)


def complaint_settings(settings_env: dict[str, str], database_url: str, **more: str) -> Settings:
    return load_settings(
        {
            **settings_env,
            "CONSENTRY_DATABASE_URL": database_url,
            "CONSENTRY_MAIL_FROM": MAIL_FROM,
            "CONSENTRY_BOUNCE_ADDRESS": BOUNCES,
            "CONSENTRY_INBOUND_HOST": HOST,
            "CONSENTRY_INBOUND_PORT": str(free_port()),
            **more,
        }
    )


@pytest.fixture
def inbound(
    settings_env: dict[str, str], database_url: str, sessionmaker: SessionMaker
) -> Iterator[int]:
    """A running listener on a free port of 127.0.0.1, on an emptied database."""
    with InboundServer(complaint_settings(settings_env, database_url)) as (_, port):
        yield port


def report(name: str, message_id: str, recipient: str = "someone@example.net") -> str:
    text = (FIXTURES / name).read_text()
    return text.replace("{{message_id}}", message_id).replace("{{recipient}}", recipient)


async def send_report(port: int, raw: str, to: str = BOUNCES) -> None:
    # Feedback loops send with their own sender; some with the null one.
    async with aiosmtplib.SMTP(hostname=HOST, port=port) as smtp:
        await smtp.sendmail("", [to], raw.replace("\r\n", "\n").replace("\n", "\r\n"))


async def person(sessionmaker: SessionMaker, email: str) -> int:
    return await create_contact(
        sessionmaker, cipher=CIPHER, consent=MARKETING, email=email, legal_basis="consent"
    )


async def campaign(
    sessionmaker: SessionMaker,
    contact_ids: list[int],
    *,
    also_sent: int = 0,
    status: CampaignStatus = CampaignStatus.SENDING,
) -> tuple[int, list[str]]:
    """A campaign as sending leaves it: a sent row per contact (their
    Message-IDs returned) and ``also_sent`` more to people since erased."""
    async with session_scope(sessionmaker) as session:
        row = Campaign(
            name="Autumn",
            channel=CampaignChannel.EMAIL,
            purpose=Purpose.DIRECT_MARKETING,
            status=status,
        )
        session.add(row)
        await session.flush()
        assert row.id is not None
        campaign_id, key = row.id, row.message_key
        recipients = [
            CampaignRecipient(
                campaign_id=campaign_id,
                contact_id=contact_id,
                channel=CampaignChannel.EMAIL,
                status=RecipientStatus.SENT,
            )
            for contact_id in contact_ids
        ]
        session.add_all(recipients)
        session.add_all(
            CampaignRecipient(
                campaign_id=campaign_id,
                contact_id=None,
                channel=CampaignChannel.EMAIL,
                status=RecipientStatus.SENT,
            )
            for _ in range(also_sent)
        )
        await session.flush()
        ids = []
        for recipient in recipients:
            assert recipient.id is not None
            tag = SIGNER.message_tag(campaign_id, recipient.id, key)
            ids.append(f"<c{campaign_id}.r{recipient.id}.{tag}@example.com>")
        return campaign_id, ids


async def ledger(
    sessionmaker: SessionMaker, contact_id: int
) -> list[tuple[ConsentAction, CaptureMethod, Actor, int | None]]:
    async with sessionmaker() as session:
        events = await session.exec(
            select(ConsentEvent)
            .where(
                ConsentEvent.contact_id == contact_id, ConsentEvent.purpose == "direct_marketing"
            )
            .order_by(col(ConsentEvent.id))
        )
        return [(e.action, e.method, e.actor, e.campaign_id) for e in events.all()]


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


async def events(sessionmaker: SessionMaker) -> list[tuple[str, str, int | None, int | None]]:
    async with sessionmaker() as session:
        rows = await session.exec(select(DeliveryEventRecord).order_by(col(DeliveryEventRecord.id)))
        return [(r.kind.value, r.source, r.campaign_id, r.recipient_id) for r in rows.all()]


async def read_campaign(
    sessionmaker: SessionMaker, campaign_id: int
) -> tuple[str, str | None, int, float]:
    async with sessionmaker() as session:
        row = await session.get(Campaign, campaign_id)
        assert row is not None
        read = await campaigns_service.read(session, row)
        return read.status.value, read.pause_reason, read.complaints, read.complaint_rate


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_providers_report_withdraws_suppresses_and_counts(
    inbound: int, sessionmaker: SessionMaker, provider: str
) -> None:
    address = "kaisa@example.net"
    contact_id = await person(sessionmaker, address)
    bystander = await person(sessionmaker, "liisa@example.net")
    campaign_id, (message_id, _) = await campaign(
        sessionmaker, [contact_id, bystander], also_sent=998
    )
    # Most providers redact the recipient: the Message-ID alone finds them.
    await send_report(inbound, report(provider, message_id, recipient=address))
    assert await ledger(sessionmaker, contact_id) == [
        GRANTED,
        (ConsentAction.WITHDRAW, CaptureMethod.COMPLAINT, Actor.SYSTEM, campaign_id),
    ]
    assert await suppression_of(sessionmaker, address) == "email:complaint"
    assert await events(sessionmaker) == [("complaint", "arf", campaign_id, _row(message_id))]
    # One complaint in 1000 sent: counted, under the 0.3 % that pauses.
    assert await read_campaign(sessionmaker, campaign_id) == ("sending", None, 1, 0.001)
    assert await ledger(sessionmaker, bystander) == [GRANTED]
    assert await suppression_of(sessionmaker, "liisa@example.net") is None


def _row(message_id: str) -> int:
    found = re.match(r"<c\d+\.r(\d+)\.", message_id)
    assert found is not None
    return int(found.group(1))


async def test_the_campaign_pauses_when_its_complaint_rate_reaches_the_limit(
    inbound: int, sessionmaker: SessionMaker
) -> None:
    people = [await person(sessionmaker, f"p{n}@example.net") for n in range(3)]
    campaign_id, message_ids = await campaign(sessionmaker, people, also_sent=597)
    await send_report(inbound, report("yahoo.eml", message_ids[0]))
    # 1 of 600 is 0.17 %: still sending.
    assert (await read_campaign(sessionmaker, campaign_id))[0] == "sending"
    await send_report(inbound, report("aol.eml", message_ids[1]))
    status, reason, complaints, rate = await read_campaign(sessionmaker, campaign_id)
    assert (status, complaints, round(rate, 5)) == ("paused", 2, 0.00333)
    assert reason == (
        "paused: complaint rate 0.33 % (2 of 600 sent) reached "
        "CONSENTRY_COMPLAINT_PAUSE_RATE (0.30 %)"
    )
    # Another complaint while paused is counted; the pause and its reason stay.
    await send_report(inbound, report("microsoft-jmrp.eml", message_ids[2]))
    assert await read_campaign(sessionmaker, campaign_id) == ("paused", reason, 3, 0.005)


async def test_a_finished_campaign_is_counted_but_not_paused(
    inbound: int, sessionmaker: SessionMaker
) -> None:
    contact_id = await person(sessionmaker, "kaisa@example.net")
    campaign_id, (message_id,) = await campaign(
        sessionmaker, [contact_id], status=CampaignStatus.DONE
    )
    await send_report(inbound, report("generic-abuse.eml", message_id))
    assert await read_campaign(sessionmaker, campaign_id) == ("done", None, 1, 1.0)


async def test_a_complaint_about_no_message_of_ours_changes_nothing(
    inbound: int, sessionmaker: SessionMaker, caplog: pytest.LogCaptureFixture
) -> None:
    address = "kaisa@example.net"
    contact_id = await person(sessionmaker, address)
    other = await person(sessionmaker, "liisa@example.net")
    campaign_id, (message_id, others_id) = await campaign(sessionmaker, [contact_id, other])
    row = _row(message_id)
    async with sessionmaker() as session:
        key = (await session.get(Campaign, campaign_id)).message_key  # type: ignore[union-attr]
    # What the other recipient knows (their own tag) makes no tag of this row.
    their_tag = others_id.split(".")[2].split("@")[0]
    forged = [
        "<0000000000fffffffff0000000000000@example.org>",
        re.sub(r"\.[^.@]+@", ".wrongkey@", message_id),
        re.sub(r"\.[^.@]+@", f".{their_tag}@", message_id),
        re.sub(r"\.[^.@]+@", f".{key}@", message_id),
        message_id.replace(f".r{row}.", f".r{row + 1000}."),
        message_id.replace(f"<c{campaign_id}.", f"<c{campaign_id + 1}."),
        "",  # redacted altogether
    ]
    with caplog.at_level("INFO", logger="service.inbound"):
        for fake in forged:
            # Named in Original-Rcpt-To too: an address alone proves nothing.
            await send_report(inbound, report("generic-abuse.eml", fake, recipient=address))
    assert await ledger(sessionmaker, contact_id) == [GRANTED]
    assert await suppression_of(sessionmaker, address) is None
    assert await events(sessionmaker) == []
    ignored = [r for r in caplog.records if "refers to no message we sent" in r.getMessage()]
    assert len(ignored) == len(forged)
    assert not any(address in r.getMessage() for r in caplog.records)


async def test_a_row_not_sent_changes_nothing(inbound: int, sessionmaker: SessionMaker) -> None:
    contact_id = await person(sessionmaker, "kaisa@example.net")
    _, (message_id,) = await campaign(sessionmaker, [contact_id])
    async with session_scope(sessionmaker) as session:
        row = await session.get(CampaignRecipient, _row(message_id))
        assert row is not None
        row.status = RecipientStatus.QUEUED
        session.add(row)
    await send_report(inbound, report("yahoo.eml", message_id))
    assert await ledger(sessionmaker, contact_id) == [GRANTED]
    assert await events(sessionmaker) == []


async def test_a_repeated_report_counts_once(inbound: int, sessionmaker: SessionMaker) -> None:
    contact_id = await person(sessionmaker, "kaisa@example.net")
    campaign_id, (message_id,) = await campaign(sessionmaker, [contact_id], also_sent=99)
    # The same report again (a retried delivery), and another loop's about the same message.
    await send_report(inbound, report("yahoo.eml", message_id))
    await send_report(inbound, report("yahoo.eml", message_id))
    await send_report(inbound, report("returnpath-no-report-type.eml", message_id))
    assert await events(sessionmaker) == [("complaint", "arf", campaign_id, _row(message_id))]
    assert len(await ledger(sessionmaker, contact_id)) == 2
    assert (await read_campaign(sessionmaker, campaign_id))[2:] == (1, 0.01)


async def test_a_report_to_the_unsubscribe_address_is_a_complaint_not_a_mailto(
    inbound: int, sessionmaker: SessionMaker
) -> None:
    """The quoted original carries our signed unsubscribe link; the report is
    still read as what it is."""
    contact_id = await person(sessionmaker, "kaisa@example.net")
    campaign_id, (message_id,) = await campaign(sessionmaker, [contact_id], also_sent=999)
    token = SIGNER.sign("unsubscribe", contact_id, campaign_id)
    raw = report("yahoo.eml", message_id).replace("/u/REDACTED", f"/u/{token}")
    raw = raw.replace("Autumn offers for you.", f"Autumn offers. Unsubscribe: {token}")
    await send_report(inbound, raw, to="unsubscribe@example.com")
    assert await ledger(sessionmaker, contact_id) == [
        GRANTED,
        (ConsentAction.WITHDRAW, CaptureMethod.COMPLAINT, Actor.SYSTEM, campaign_id),
    ]


@pytest.mark.parametrize("kind", ["not-spam", "virus", "auth-failure", "other"])
async def test_feedback_that_is_no_complaint_changes_nothing(
    inbound: int, sessionmaker: SessionMaker, kind: str
) -> None:
    contact_id = await person(sessionmaker, "kaisa@example.net")
    _, (message_id,) = await campaign(sessionmaker, [contact_id])
    raw = report("generic-abuse.eml", message_id).replace(
        "Feedback-Type: abuse", f"Feedback-Type: {kind}"
    )
    await send_report(inbound, raw)
    assert await ledger(sessionmaker, contact_id) == [GRANTED]
    assert await suppression_of(sessionmaker, "kaisa@example.net") is None
    assert await events(sessionmaker) == []


async def test_hostile_reports_are_accepted_and_change_nothing(
    inbound: int, sessionmaker: SessionMaker
) -> None:
    address = "kaisa@example.net"
    contact_id = await person(sessionmaker, address)
    campaign_id, (message_id,) = await campaign(sessionmaker, [contact_id])
    genuine = report("generic-abuse.eml", message_id)
    nested = genuine
    for depth in range(60):
        nested = (
            "MIME-Version: 1.0\n"
            f'Content-Type: multipart/report; report-type=feedback-report; boundary="n{depth}"\n\n'
            f"--n{depth}\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\n\n"
            f"--n{depth}\nContent-Type: message/rfc822\n\n{nested}\n--n{depth}--\n"
        )
    hostile = [
        genuine.replace("Feedback-Type: abuse", "X-Nothing: abuse"),
        genuine.replace("Content-Type: message/feedback-report", "Content-Type: text/plain"),
        genuine.replace("Feedback-Type: abuse", "Feedback-Type: abuse\n" + "X-Pad: y\n" * 20_000),
        genuine.replace("boundary=", "boundary=broken-").replace("--part1", "--nope"),
        nested,
        'Content-Type: multipart/report; report-type=feedback-report; boundary="z"\n\n'
        + "--z\nContent-Type: text/plain\n\nx\n" * 500
        + "--z--\n",
        "Subject: complaint about message from 192.0.2.1\nFrom: staff@hotmail.com\n\nplain\n",
    ]
    for raw in hostile:
        # Every one answered 250: a retry would change nothing.
        await send_report(inbound, raw)
    assert await ledger(sessionmaker, contact_id) == [GRANTED]
    assert await events(sessionmaker) == []
    # The listener still works, and the genuine report still counts.
    await send_report(inbound, genuine, to=MAIL_FROM)
    assert await suppression_of(sessionmaker, address) == "email:complaint"
    assert (await read_campaign(sessionmaker, campaign_id))[2] == 1


# -- reports whose original is redacted: the VERP return path names it ----------


def redacted(name: str, recipient: str = "someone@example.net") -> str:
    """A report whose original lost its Message-ID, as Yahoo, AOL and
    Microsoft often send them (the report's own Message-ID stays)."""
    return re.sub(r"(?m)^Message-ID: *\n", "", report(name, "", recipient))


def return_path(message_id: str) -> str:
    """The VERP return path the message went out with (campaigns.sending)."""
    return verp.address(BOUNCES, message_id.strip("<>").split("@")[0])


def quoting(raw: str, original_mail_from: str) -> str:
    """The report with ``original_mail_from`` as its Original-Mail-From."""
    quoted, count = re.subn(
        r"(?m)^Original-Mail-From: .*$", f"Original-Mail-From: <{original_mail_from}>", raw
    )
    assert count == 1
    return quoted


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_redacted_report_to_the_verp_return_path_finds_its_message(
    inbound: int, sessionmaker: SessionMaker, provider: str, caplog: pytest.LogCaptureFixture
) -> None:
    address = "kaisa@example.net"
    contact_id = await person(sessionmaker, address)
    bystander = await person(sessionmaker, "liisa@example.net")
    campaign_id, (message_id, _) = await campaign(
        sessionmaker, [contact_id, bystander], also_sent=998
    )
    raw = redacted(provider)
    assert "{{message_id}}" not in raw and message_id not in raw
    with caplog.at_level("INFO", logger="service.inbound"):
        await send_report(inbound, raw, to=return_path(message_id))
    assert await ledger(sessionmaker, contact_id) == [
        GRANTED,
        (ConsentAction.WITHDRAW, CaptureMethod.COMPLAINT, Actor.SYSTEM, campaign_id),
    ]
    assert await suppression_of(sessionmaker, address) == "email:complaint"
    assert await events(sessionmaker) == [("complaint", "arf", campaign_id, _row(message_id))]
    assert await read_campaign(sessionmaker, campaign_id) == ("sending", None, 1, 0.001)
    assert await ledger(sessionmaker, bystander) == [GRANTED]
    assert await suppression_of(sessionmaker, "liisa@example.net") is None
    assert any("found by its VERP return path" in r.getMessage() for r in caplog.records)
    assert not any(address in r.getMessage() for r in caplog.records)
    # The same message reported again, by its Message-ID this time: counted once.
    await send_report(inbound, report(provider, message_id))
    assert len(await events(sessionmaker)) == 1
    assert len(await ledger(sessionmaker, contact_id)) == 2


async def test_a_redacted_report_to_a_forged_verp_return_path_changes_nothing(
    inbound: int, sessionmaker: SessionMaker, caplog: pytest.LogCaptureFixture
) -> None:
    address = "kaisa@example.net"
    contact_id = await person(sessionmaker, address)
    other = await person(sessionmaker, "liisa@example.net")
    queued = await person(sessionmaker, "maija@example.net")
    campaign_id, (message_id, others_id, queued_id) = await campaign(
        sessionmaker, [contact_id, other, queued]
    )
    async with session_scope(sessionmaker) as session:
        key = (await session.get(Campaign, campaign_id)).message_key  # type: ignore[union-attr]
        not_sent = await session.get(CampaignRecipient, _row(queued_id))
        assert not_sent is not None
        not_sent.status = RecipientStatus.QUEUED
        session.add(not_sent)
    row, tag = _row(message_id), message_id.split(".")[2].split("@")[0]
    their_tag = others_id.split(".")[2].split("@")[0]
    forged = [
        verp.token(campaign_id, row, "0" * 20),
        verp.token(campaign_id, row, their_tag),  # what the other recipient knows
        verp.token(campaign_id, row, key[:64].lower()),
        verp.token(campaign_id, row + 1000, tag),
        verp.token(campaign_id + 1, row, tag),
        queued_id.strip("<>").split("@")[0],  # genuine, but that row was not sent
    ]
    with caplog.at_level("INFO", logger="service.inbound"):
        for token in forged:
            # Delivered to the forged return path, and quoting it too; the
            # report names the address as well: an address alone proves nothing.
            raw = quoting(redacted("generic-abuse.eml", address), verp.address(BOUNCES, token))
            await send_report(inbound, raw, to=verp.address(BOUNCES, token))
    for someone, their_address in ((contact_id, address), (queued, "maija@example.net")):
        assert await ledger(sessionmaker, someone) == [GRANTED]
        assert await suppression_of(sessionmaker, their_address) is None
    assert await events(sessionmaker) == []
    ignored = [r for r in caplog.records if "refers to no message we sent" in r.getMessage()]
    assert len(ignored) == len(forged)
    assert not any(address in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("provider", ["yahoo.eml", "generic-abuse.eml"])
async def test_a_redacted_report_quoting_the_verp_return_path_finds_its_message(
    inbound: int, sessionmaker: SessionMaker, provider: str
) -> None:
    """Delivered to the plain bounce address (a feedback loop registered for
    it), its Original-Mail-From is the return path the message went out with."""
    address = "kaisa@example.net"
    contact_id = await person(sessionmaker, address)
    campaign_id, (message_id,) = await campaign(sessionmaker, [contact_id], also_sent=999)
    # The recipient it names is an alias of the person's: the row decides.
    raw = quoting(redacted(provider, "k.alias@example.net"), return_path(message_id))
    await send_report(inbound, raw, to=BOUNCES)
    assert await ledger(sessionmaker, contact_id) == [
        GRANTED,
        (ConsentAction.WITHDRAW, CaptureMethod.COMPLAINT, Actor.SYSTEM, campaign_id),
    ]
    assert await suppression_of(sessionmaker, address) == "email:complaint"
    assert await suppression_of(sessionmaker, "k.alias@example.net") is None
    assert await events(sessionmaker) == [("complaint", "arf", campaign_id, _row(message_id))]


async def test_a_forged_return_path_does_not_hide_a_genuine_quoted_one(
    inbound: int, sessionmaker: SessionMaker
) -> None:
    """The return path the report reached is tried first, then the one it
    quotes; a guessed first one only falls through to the second."""
    contact_id = await person(sessionmaker, "kaisa@example.net")
    campaign_id, (message_id,) = await campaign(sessionmaker, [contact_id])
    guessed = verp.address(BOUNCES, verp.token(campaign_id, _row(message_id), "f" * 20))
    raw = quoting(redacted("yahoo.eml"), return_path(message_id).upper())
    await send_report(inbound, raw, to=guessed)
    assert await events(sessionmaker) == [("complaint", "arf", campaign_id, _row(message_id))]


async def test_a_redacted_report_with_no_verp_anywhere_changes_nothing(
    inbound: int, sessionmaker: SessionMaker, caplog: pytest.LogCaptureFixture
) -> None:
    address = "kaisa@example.net"
    contact_id = await person(sessionmaker, address)
    await campaign(sessionmaker, [contact_id])
    with caplog.at_level("INFO", logger="service.inbound"):
        # Original-Mail-From is the plain From address; the report names the person.
        for provider in ("yahoo.eml", "generic-abuse.eml", "returnpath-no-report-type.eml"):
            await send_report(inbound, redacted(provider, address), to=BOUNCES)
    assert await ledger(sessionmaker, contact_id) == [GRANTED]
    assert await suppression_of(sessionmaker, address) is None
    assert await events(sessionmaker) == []
    ignored = [r for r in caplog.records if "refers to no message we sent" in r.getMessage()]
    assert len(ignored) == 3


# -- record_complaint as the ESP webhooks call it --------------------------------


async def test_an_esp_event_by_address_withdraws_every_holder_and_counts_once(
    settings_env: dict[str, str], database_url: str, sessionmaker: SessionMaker
) -> None:
    settings = complaint_settings(settings_env, database_url)
    address = "kaisa@example.net"
    contact_id = await person(sessionmaker, address)
    campaign_id, _ = await campaign(sessionmaker, [contact_id], also_sent=9)
    value_hash = CIPHER.lookup_hash("email", address)
    summaries = []
    for _ in range(2):
        async with session_scope(sessionmaker) as session:
            summaries.append(
                await record_complaint(
                    session,
                    contact_id=None,
                    campaign_id=campaign_id,
                    recipient_id=None,
                    value_hash=value_hash,
                    source=Source.MAILGUN.value,
                    provider_event_id="evt-1",
                    settings=settings,
                )
            )
    assert summaries[1] == "a complaint (mailgun) already recorded was ignored"
    assert "withdrawn for 1 contact(s)" in summaries[0] and address not in summaries[0]
    assert "campaign" in summaries[0] and "(paused)" in summaries[0]
    assert await ledger(sessionmaker, contact_id) == [
        GRANTED,
        (ConsentAction.WITHDRAW, CaptureMethod.COMPLAINT, Actor.SYSTEM, campaign_id),
    ]
    assert await suppression_of(sessionmaker, address) == "email:complaint"
    assert await events(sessionmaker) == [("complaint", "mailgun", campaign_id, None)]
    # 1 of 10 sent is over the limit: paused, naming the rate.
    status, reason, complaints, rate = await read_campaign(sessionmaker, campaign_id)
    assert (status, complaints, rate) == ("paused", 1, 0.1)
    assert reason is not None and "complaint rate 10.00 %" in reason
    # The same event from another provider is another event.
    async with session_scope(sessionmaker) as session:
        await record_complaint(
            session,
            contact_id=contact_id,
            campaign_id=None,
            recipient_id=None,
            value_hash=value_hash,
            source=Source.SES.value,
            provider_event_id="evt-1",
            settings=settings,
        )
    assert len(await events(sessionmaker)) == 2
    async with sessionmaker() as session:
        kinds = (await session.exec(select(DeliveryEventRecord.kind))).all()
    assert set(kinds) == {DeliveryEventKind.COMPLAINT}
