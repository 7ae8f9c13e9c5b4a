"""Replies to campaign mail through the real inbound listener: a stop reply
becomes an open objection in the requests register, staff confirm it into a
ban in one step, other replies are forwarded to a real SMTP sink."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import Iterator
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlmodel import col, select

from service.crypto import DataCipher
from service.db import SessionMaker
from service.delivery import dkim
from service.embedded import free_port
from service.inbound.server import InboundServer
from service.models import Ban, DataSubjectRequest, RequestAction, Suppression
from service.models.enums import RequestChannel, RequestStatus, RequestType, Role
from service.settings import Settings, load_settings
from tests.conftest import TEST_DATA_KEY, TokenFactory
from tests.support.clock import FrozenClock
from tests.support.factories import MARKETING, create_contact
from tests.support.smtp import PickySink

HOST = "127.0.0.1"
MAIL_FROM = "news@example.fi"
REPLY_TO = "replies@example.fi"
FORWARD_TO = "service@example.fi"
CIPHER = DataCipher(TEST_DATA_KEY)
Client = AsyncTestClient[Litestar]
# Quoted under every reply: our own campaign, which says "unsubscribe" and "stop".
ORIGINAL = (
    "\n\nOn Mon, 26 Jan 2026 at 10:00, Shop <news@example.fi> wrote:\n"
    "> Autumn offers! Stop by our shop.\n"
    "> To unsubscribe, click here. STOP to opt out.\n"
)


@pytest.fixture
def clock_start() -> datetime:
    return datetime(2026, 1, 31, 10, 0, tzinfo=UTC)  # noon in Helsinki


class RawSink:
    """A real SMTP server keeping each message's bytes as they arrived."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[tuple[str, list[str], bytes]] = []
        self._controller = Controller(self, hostname=HOST, port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 2.0.0 kept"

    def __enter__(self) -> RawSink:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()


def reply_settings(
    settings_env: dict[str, str], database_url: str, relay_port: int | None, **more: str
) -> Settings:
    env = {
        **settings_env,
        "CONSENTRY_DATABASE_URL": database_url,
        "CONSENTRY_MAIL_FROM": f"Shop <{MAIL_FROM}>",
        "CONSENTRY_REPLY_TO": REPLY_TO,
        "CONSENTRY_INBOUND_HOST": HOST,
        "CONSENTRY_INBOUND_PORT": str(free_port()),
        **more,
    }
    if relay_port is not None:
        env |= {"CONSENTRY_SMTP_HOST": HOST, "CONSENTRY_SMTP_PORT": str(relay_port)}
    return load_settings(env)


@pytest.fixture
def sink() -> Iterator[RawSink]:
    with RawSink() as running:
        yield running


@pytest.fixture
def inbound(
    settings_env: dict[str, str],
    database_url: str,
    sessionmaker: SessionMaker,
    sink: RawSink,
    frozen_clock: FrozenClock,
) -> Iterator[int]:
    """The listener, forwarding other replies to FORWARD_TO through ``sink``."""
    settings = reply_settings(
        settings_env, database_url, sink.port, CONSENTRY_REPLY_FORWARD_TO=FORWARD_TO
    )
    with InboundServer(settings) as (_, port):
        yield port


async def person(sessionmaker: SessionMaker, email_address: str = "maija@example.fi") -> int:
    return await create_contact(
        sessionmaker, cipher=CIPHER, consent=MARKETING, email=email_address, legal_basis="consent"
    )


def reply(
    body: str,
    *,
    sender: str = "Maija Meikäläinen <maija@example.fi>",
    to: str = MAIL_FROM,
    subject: str = "Re: Autumn offers",
    html: str | None = None,
    **headers: str,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = "<reply-1@mail.example.fi>"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


async def send(port: int, message: EmailMessage | bytes, *, to: str = MAIL_FROM) -> None:
    if isinstance(message, EmailMessage):  # the envelope sender: its From address
        await aiosmtplib.send(message, hostname=HOST, port=port, recipients=[to])
        return
    async with aiosmtplib.SMTP(hostname=HOST, port=port) as smtp:
        await smtp.sendmail("maija@example.fi", [to], message)


async def requests_in(sessionmaker: SessionMaker) -> list[DataSubjectRequest]:
    async with sessionmaker() as session:
        found = await session.exec(select(DataSubjectRequest).order_by(col(DataSubjectRequest.id)))
        return list(found.all())


# -- stop requests -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "to", "phrase"),
    [
        ("Lopeta, kiitos." + ORIGINAL, MAIL_FROM, "lopeta"),
        ("Hej,\nsluta skicka dessa, tack.\n\nMvh Maija" + ORIGINAL, REPLY_TO, "sluta skicka"),
        ("Please remove me from this list." + ORIGINAL, MAIL_FROM, "remove me"),
    ],
)
async def test_a_stop_reply_is_an_open_objection_with_its_deadline(
    inbound: int,
    sessionmaker: SessionMaker,
    sink: RawSink,
    caplog: pytest.LogCaptureFixture,
    body: str,
    to: str,
    phrase: str,
) -> None:
    contact_id = await person(sessionmaker)
    await person(sessionmaker, "liisa@example.fi")
    with caplog.at_level("INFO", logger="service.inbound"):
        await send(inbound, reply(body, to=to), to=to)
    (filed,) = await requests_in(sessionmaker)
    assert filed.type is RequestType.OBJECTION
    assert filed.channel is RequestChannel.REPLY
    assert filed.status is RequestStatus.OPEN
    assert filed.contact_id == contact_id
    assert filed.received_on == date(2026, 1, 31)
    assert filed.due_on == date(2026, 2, 28)
    # The phrase found, not the message; no address for a matched contact.
    assert filed.requester is None
    assert filed.description is not None and f'"{phrase}"' in filed.description
    assert "maija" not in filed.description.lower()
    assert sink.received == []  # a stop request is filed, not forwarded
    assert "objection request(s) opened for 1 contact(s)" in caplog.text
    assert "maija" not in caplog.text.lower()


async def test_a_second_stop_reply_while_one_is_open_files_nothing_more(
    inbound: int, sessionmaker: SessionMaker
) -> None:
    await person(sessionmaker)
    await send(inbound, reply("STOP"))
    await send(inbound, reply("lopeta!!"))
    assert len(await requests_in(sessionmaker)) == 1


async def test_staff_confirm_it_into_a_ban_in_one_step(
    inbound: int, sessionmaker: SessionMaker, client: Client, make_token: TokenFactory
) -> None:
    contact_id = await person(sessionmaker)
    await send(inbound, reply("Älä lähetä enää näitä." + ORIGINAL))
    (filed,) = await requests_in(sessionmaker)
    officer = {"Authorization": f"Bearer {await make_token(Role.PRIVACY_OFFICER)}"}
    marketer = {"Authorization": f"Bearer {await make_token(Role.MARKETER)}"}
    url = f"/api/v1/requests/{filed.id}/confirm-ban"

    # The privacy officer's queue shows it, open, with its deadline.
    queue = await client.get("/api/v1/requests?status=open", headers=officer)
    assert [(r["id"], r["channel"], r["due_on"]) for r in queue.json()["items"]] == [
        (filed.id, "reply", "2026-02-28")
    ]
    eligible = await client.get(f"/api/v1/contacts/{contact_id}/eligibility", headers=officer)
    assert eligible.json()["eligible"] is True

    assert (await client.post(url, headers=marketer)).status_code == 403
    confirmed = await client.post(url, headers=officer)
    assert confirmed.status_code == 200, confirmed.text
    body = confirmed.json()
    assert body["status"] == "done"
    assert body["verification_method"] == "registered_email_reply"
    assert body["answered_in_time"] is True
    assert [a["action"] for a in body["actions"]] == ["verified", "objection", "closed"]

    eligible = await client.get(f"/api/v1/contacts/{contact_id}/eligibility", headers=officer)
    # Out, with the ban's reason (and the objection's and suppression's with it).
    assert eligible.json()["eligible"] is False
    assert "direct_marketing_ban" in eligible.json()["reasons"]
    async with sessionmaker() as session:
        (ban,) = (await session.exec(select(Ban).where(Ban.contact_id == contact_id))).all()
        assert ban.channel.value == "all"
        assert (await session.exec(select(Suppression))).first() is not None
        actions = await session.exec(select(RequestAction.action))
        assert sorted(actions.all()) == ["closed", "objection", "verified"]
    # Once: the request is closed now.
    again = await client.post(url, headers=officer)
    assert again.status_code == 409
    assert again.json()["reason"] == "closed"


async def test_a_sender_no_contact_has_is_an_unmatched_open_request(
    inbound: int, sessionmaker: SessionMaker, client: Client, make_token: TokenFactory
) -> None:
    contact_id = await person(sessionmaker)
    stranger = "Someone <someone@elsewhere.example>"
    await send(inbound, reply("Avregistrera mig", sender=stranger))
    await send(inbound, reply("unsubscribe", sender=stranger))  # still the one request
    (filed,) = await requests_in(sessionmaker)
    assert filed.contact_id is None
    assert filed.requester == "someone@elsewhere.example"
    assert filed.status is RequestStatus.OPEN
    officer = {"Authorization": f"Bearer {await make_token(Role.PRIVACY_OFFICER)}"}
    url = f"/api/v1/requests/{filed.id}/confirm-ban"
    refused = await client.post(url, headers=officer)
    assert refused.status_code == 409
    assert refused.json()["reason"] == "no_contact"
    # Staff find the person and link the request: then one step bans.
    linked = await client.patch(
        f"/api/v1/requests/{filed.id}", json={"contact_id": contact_id}, headers=officer
    )
    assert linked.status_code == 200, linked.text
    assert (await client.post(url, headers=officer)).status_code == 200


async def test_a_stop_in_the_quoted_original_only_does_not_count(
    inbound: int, sessionmaker: SessionMaker, sink: RawSink
) -> None:
    await person(sessionmaker)
    await send(inbound, reply("Thanks, see you on Saturday!" + ORIGINAL))
    html = (
        "<div>Kiitos, nähdään!</div><div class='gmail_quote'><blockquote>"
        "Lopeta tilaus: unsubscribe</blockquote></div>"
    )
    await send(inbound, reply("Kiitos, nähdään!" + ORIGINAL, html=html))
    assert await requests_in(sessionmaker) == []
    assert len(sink.received) == 2  # forwarded instead


async def test_an_out_of_office_reply_does_nothing(
    inbound: int, sessionmaker: SessionMaker, sink: RawSink
) -> None:
    await person(sessionmaker)
    for automatic in (
        reply("I am away. Stop.", Auto_Submitted="auto-replied"),
        reply("Olen lomalla. Lopeta.", subject="Automaattinen vastaus: Autumn offers"),
        reply("Away", subject="Out of office", X_Autoreply="yes"),
        reply("stop", Precedence="bulk"),
    ):
        await send(inbound, automatic)
    assert await requests_in(sessionmaker) == []
    assert sink.received == []


# -- forwarding ----------------------------------------------------------------------


async def test_a_normal_reply_is_forwarded_unaltered(
    inbound: int, sessionmaker: SessionMaker, sink: RawSink
) -> None:
    original = reply("Do you still have the blue one in size 40?" + ORIGINAL, to=REPLY_TO)
    raw = original.as_bytes(policy=email.policy.SMTP)
    await send(inbound, raw, to=REPLY_TO)
    ((envelope_sender, recipients, content),) = sink.received
    assert recipients == [FORWARD_TO]
    assert envelope_sender == MAIL_FROM
    assert raw.rstrip(b"\r\n") in content  # byte for byte
    wrapper = email.message_from_bytes(content, policy=email.policy.default)
    assert isinstance(wrapper, EmailMessage)
    assert wrapper["From"] == MAIL_FROM
    assert wrapper["Reply-To"] == "maija@example.fi"
    parts = wrapper.iter_attachments()
    (attached,) = [p for p in parts if p.get_content_type() == "message/rfc822"]
    inner = attached.get_content()
    assert inner["Message-ID"] == "<reply-1@mail.example.fi>"
    assert await requests_in(sessionmaker) == []


async def test_a_relay_failure_answers_451_and_nothing_is_lost(
    settings_env: dict[str, str],
    database_url: str,
    sessionmaker: SessionMaker,
    frozen_clock: FrozenClock,
) -> None:
    with PickySink() as picky:
        # The picky sink answers "later@…" with a temporary 451.
        settings = reply_settings(
            settings_env, database_url, picky.port, CONSENTRY_REPLY_FORWARD_TO="later@example.fi"
        )
        with InboundServer(settings) as (_, port):
            with pytest.raises(aiosmtplib.SMTPDataError) as refused:
                await send(port, reply("Is the shop open on Sunday?"))
            assert refused.value.code == 451
        assert picky.accepted == []
    # No relay listening at all: the same.
    settings = reply_settings(
        settings_env, database_url, free_port(), CONSENTRY_REPLY_FORWARD_TO=FORWARD_TO
    )
    with InboundServer(settings) as (_, port):
        with pytest.raises(aiosmtplib.SMTPDataError) as refused:
            await send(port, reply("Is the shop open on Sunday?"))
        assert refused.value.code == 451


async def test_without_a_forward_address_replies_are_counted_in_the_log(
    settings_env: dict[str, str],
    database_url: str,
    sessionmaker: SessionMaker,
    caplog: pytest.LogCaptureFixture,
    frozen_clock: FrozenClock,
) -> None:
    server = InboundServer(reply_settings(settings_env, database_url, None))
    with server as (_, port), caplog.at_level("INFO", logger="service.inbound"):
        await send(port, reply("Nice offers!"))
        await send(port, reply("Lopeta"))
    notes = [r.getMessage() for r in caplog.records]
    unforwarded = "a reply was received and not forwarded: CONSENTRY_REPLY_FORWARD_TO is unset"
    assert sum(unforwarded in note for note in notes) == 1
    assert len(await requests_in(sessionmaker)) == 1  # the stop is filed all the same
    assert not any("maija" in note.lower() for note in notes)


# -- reports to the From address keep going the bounce way ---------------------------


async def test_reports_and_bounces_to_the_from_address_are_no_replies(
    inbound: int, sessionmaker: SessionMaker, sink: RawSink
) -> None:
    report = (
        "From: MAILER-DAEMON@mx.example.net\r\nTo: news@example.fi\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nPlease stop. Unsubscribe.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        "Final-Recipient: rfc822; gone@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "\r\n--B--\r\n"
    )
    # An Exim-style bounce, from a misconfigured MTA with a return path of its
    # own, returning our original (which says "unsubscribe" and "STOP").
    exim = (
        "From: Mail Delivery System <Mailer-Daemon@mx.example.net>\r\nTo: news@example.fi\r\n"
        "Subject: Mail delivery failed: returning message to sender\r\n"
        "X-Failed-Recipients: gone@example.net\r\n\r\n"
        "This message was created automatically by mail delivery software.\r\n\r\n"
        "------ This is a copy of the message, including all the headers. ------\r\n"
        "Subject: Autumn offers\r\n\r\nTo unsubscribe, click here. STOP to opt out.\r\n"
    )
    async with aiosmtplib.SMTP(hostname=HOST, port=inbound) as smtp:
        await smtp.sendmail("", [MAIL_FROM], report)
        await smtp.sendmail("mailer-daemon@mx.example.net", [MAIL_FROM], exim)
    assert await requests_in(sessionmaker) == []
    assert sink.received == []


# -- hostile mail --------------------------------------------------------------------


async def test_hostile_mail_never_raises_out_of_the_handler(
    inbound: int, sessionmaker: SessionMaker, sink: RawSink
) -> None:
    await person(sessionmaker)
    hostile = [
        # Nearly 10 MB of HTML with the stop at the very end, past what is read.
        b"From: maija@example.fi\r\nSubject: Re: x\r\nContent-Type: text/html\r\n\r\n"
        + b"<div><p>hello\r\n" * 600_000
        + b"lopeta</p>\r\n",
        b'From: maija@example.fi\r\nContent-Type: multipart/mixed; boundary="x"\r\n\r\n'
        b"--x\r\n--x\r\nContent-Type: \r\n\r\n\xff\xfe\r\n",
        b"From: =?utf-8?b?!!!?= <maija@example.fi>\r\nSubject: =?klingon?q?Lopeta?=\r\n"
        b"Content-Type: text/plain; charset=klingon-9\r\n\r\nLopeta \xe4\xe4\xff\r\n",
        b"From: maija@example.fi\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64 at all\r\n",
        b"From: <<<>>>\r\nSubject: \x00\x01\r\n\r\n" + (b"\xff" * 100 + b"\r\n") * 1000,
        b"\x00\x01\x02 not a message at all \xff\r\n",
    ]
    for raw in hostile:
        await send(inbound, raw)  # each answered 250: none raised out of the handler
    # The listener is still well: a plain stop after all that is filed.
    await send(inbound, reply("stop"))
    filed = await requests_in(sessionmaker)
    assert all(r.status is RequestStatus.OPEN for r in filed)
    assert any(r.contact_id is not None for r in filed)


async def test_many_replies_at_once_are_each_handled(
    inbound: int, sessionmaker: SessionMaker, sink: RawSink
) -> None:
    for n in range(5):
        await person(sessionmaker, f"person{n}@example.fi")
    await asyncio.gather(
        *(
            send(inbound, reply(text, sender=f"person{n}@example.fi"))
            for n, text in enumerate(["stop", "lopeta", "Hello!", "avregistrera", "Thanks"])
        )
    )
    assert len(await requests_in(sessionmaker)) == 3
    assert len(sink.received) == 2


async def test_a_forwarded_reply_is_dkim_signed(
    settings_env: dict[str, str],
    database_url: str,
    sessionmaker: SessionMaker,
    sink: RawSink,
    frozen_clock: FrozenClock,
    tmp_path: Path,
) -> None:
    """It goes From our own address, so it is signed like all our mail."""
    key = dkim.SigningKey("cs1", MAIL_FROM.rpartition("@")[2], dkim.generate())
    key_file = tmp_path / "dkim.pem"
    key_file.write_bytes(dkim.pem(key.private))
    settings = reply_settings(
        settings_env,
        database_url,
        sink.port,
        CONSENTRY_REPLY_FORWARD_TO=FORWARD_TO,
        CONSENTRY_DKIM_SELECTOR="cs1",
        CONSENTRY_DKIM_KEY_FILE=str(key_file),
    )
    with InboundServer(settings) as (_, port):
        await send(port, reply("Do you deliver to Åland?"), to=REPLY_TO)
    ((_, _, content),) = sink.received
    assert content.startswith(b"DKIM-Signature: ")
    assert dkim.verify(content, dkim.record_lookup(key.record_value()))
