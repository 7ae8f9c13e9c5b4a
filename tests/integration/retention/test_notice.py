"""The transfer notice, delivered to a real SMTP server, and what the run
makes of a relay that accepts, refuses or defers it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date
from email.message import EmailMessage

import pytest
from sqlalchemy import select
from sqlmodel import col

from service.crypto import DataCipher
from service.db import SessionMaker, run
from service.delivery.smtp import SmtpConfig, SmtpPool
from service.embedded import MailCatcher
from service.models import Suppression
from service.retention.plan import plan
from service.retention.runner import Tools
from service.settings import Settings
from tests.integration.retention.conftest import (
    VENDOR,
    NewContact,
    NewProfile,
    actions,
    profile,
    run_on,
)
from tests.support.clock import FrozenClock
from tests.support.smtp import PickySink


@pytest.fixture
async def relay_tools(tools: Tools, settings: Settings) -> AsyncIterator[Tools]:
    """The run's tools with a real pool to the session's mail catcher."""
    async with SmtpPool(SmtpConfig.from_settings(settings), size=1) as pool:
        yield replace(tools, smtp=pool)


def unique(local: str) -> str:
    """An address of this test run only: the catcher keeps every run's mail."""
    return f"{local}.{uuid.uuid4().hex[:10]}@example.fi"


def delivered_to(catcher: MailCatcher, address: str) -> list[EmailMessage]:
    found = []
    for message in catcher.messages():
        assert isinstance(message, EmailMessage)
        if message["To"] == address:
            found.append(message)
    return found


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None and isinstance(part, EmailMessage)
    return str(part.get_content())


def html_of(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None and isinstance(part, EmailMessage)
    return str(part.get_content())


async def test_the_notice_is_delivered_with_the_forbid_link_then_the_transfer_follows(
    new_contact: NewContact,
    new_profile: NewProfile,
    sessionmaker: SessionMaker,
    relay_tools: Tools,
    frozen_clock: FrozenClock,
    smtp_server: MailCatcher,
) -> None:
    address = unique("notice.fi")
    contact_id = await new_contact(email=address, nickname="Aino", language="fi")
    profile_id = await new_profile(contact_id, date(2024, 3, 10))

    assert (await run_on(sessionmaker, relay_tools, frozen_clock, date(2026, 2, 7))).items == []
    report = await run_on(sessionmaker, relay_tools, frozen_clock, date(2026, 2, 8))
    assert [(i.action, i.outcome) for i in report.items] == [("send_transfer_notice", "done")]

    [message] = delivered_to(smtp_server, address)
    assert message["Subject"] == "Käyttäytymisprofiilisi siirretään 10.3.2026"
    assert message["From"] == relay_tools.settings.mail_from
    assert message["List-Unsubscribe"] is None  # a notice, not marketing
    token = relay_tools.signer.sign("profile_transfer", profile_id)
    link = f"https://consentry.example.fi/f/{token}"
    text, html = text_of(message), html_of(message)
    for body in (text, html):
        assert link in body
        assert "Hei Aino," in body
        assert f"palveluntarjoajalle {VENDOR} 10.3.2026" in body
        assert "Valmennus Esimerkki Oy" in body
        assert "10.3.2024" in body  # completed on
    assert f'href="{link}"' in html
    assert relay_tools.signer.verify(token, "profile_transfer") == (profile_id,)

    sent = await profile(sessionmaker, profile_id)
    assert sent.transfer_notice_sent_at == frozen_clock.now
    assert await actions(sessionmaker) == [
        (
            "profile_transfer_notice",
            "send_transfer_notice",
            f"profile {profile_id}",
            date(2026, 2, 8),
        )
    ]
    # Once sent, not again.
    assert (await run_on(sessionmaker, relay_tools, frozen_clock, date(2026, 2, 9))).items == []
    assert len(delivered_to(smtp_server, address)) == 1
    # The transfer waits the notice's 30 days, then goes.
    assert (await run_on(sessionmaker, relay_tools, frozen_clock, date(2026, 3, 9))).items == []
    report = await run_on(sessionmaker, relay_tools, frozen_clock, date(2026, 3, 10))
    assert [(i.action, i.outcome) for i in report.items] == [("transfer", "done")]


async def test_a_late_notice_names_the_later_transfer_day(
    new_contact: NewContact,
    new_profile: NewProfile,
    sessionmaker: SessionMaker,
    relay_tools: Tools,
    frozen_clock: FrozenClock,
    smtp_server: MailCatcher,
) -> None:
    address = unique("notice.late")
    profile_id = await new_profile(
        await new_contact(email=address, full_name="Erik Ek", language="en"), date(2024, 3, 10)
    )
    # A run missed for weeks: the notice goes out on 1 March, the transfer
    # waits 30 days from it.
    report = await run_on(sessionmaker, relay_tools, frozen_clock, date(2026, 3, 1))
    assert report.done == 1
    [message] = delivered_to(smtp_server, address)
    assert message["Subject"] == "Your behavioural profile will be handed over on 31 March 2026"
    assert f"We will hand your profile over to {VENDOR} on 31 March 2026." in text_of(message)
    assert "Hello Erik Ek," in text_of(message)
    assert (await run_on(sessionmaker, relay_tools, frozen_clock, date(2026, 3, 30))).items == []
    report = await run_on(sessionmaker, relay_tools, frozen_clock, date(2026, 3, 31))
    assert [(i.reference, i.outcome) for i in report.items] == [(f"profile {profile_id}", "done")]


async def test_a_notice_in_swedish(
    new_contact: NewContact,
    new_profile: NewProfile,
    sessionmaker: SessionMaker,
    relay_tools: Tools,
    frozen_clock: FrozenClock,
    smtp_server: MailCatcher,
) -> None:
    address = unique("notice.sv")
    await new_profile(await new_contact(email=address, language="sv"), date(2024, 3, 10))
    await run_on(sessionmaker, relay_tools, frozen_clock, date(2026, 2, 8))
    [message] = delivered_to(smtp_server, address)
    assert message["Subject"] == "Din beteendeprofil överlämnas den 10.3.2026"
    assert "Förbjud överföringen" in html_of(message)


@pytest.mark.parametrize(
    ("local", "refused_for_good"), [("gone.notice", True), ("later.notice", False)]
)
async def test_a_refused_notice_is_not_recorded(
    new_contact: NewContact,
    new_profile: NewProfile,
    sessionmaker: SessionMaker,
    tools: Tools,
    settings: Settings,
    frozen_clock: FrozenClock,
    local: str,
    refused_for_good: bool,
) -> None:
    address = unique(local)
    profile_id = await new_profile(await new_contact(email=address), date(2024, 3, 10))
    with PickySink() as sink:
        config = replace(SmtpConfig.from_settings(settings), port=sink.port)
        async with SmtpPool(config, size=1) as pool:
            report = await run_on(
                sessionmaker, replace(tools, smtp=pool), frozen_clock, date(2026, 2, 8)
            )
    [item] = report.items
    assert item.outcome == "failed" and item.detail is not None
    assert address not in item.detail
    assert (await profile(sessionmaker, profile_id)).transfer_notice_sent_at is None
    assert await actions(sessionmaker) == []
    async with sessionmaker() as session:
        reasons = (await run(session, select(col(Suppression.reason)))).scalars().all()
        tomorrow = await plan(session, as_of=date(2026, 2, 9), settings=settings)
    [due] = tomorrow.items
    if refused_for_good:
        # The address is suppressed as a bounce: no notice can reach the
        # person, so the profile will be destroyed, not handed over.
        assert reasons == ["bounce"]
        assert due.skipped_because == "no_reachable_email"
    else:
        assert reasons == []
        assert (due.action, due.skipped_because, due.overdue) == (
            "send_transfer_notice",
            None,
            True,
        )


async def test_the_notice_does_not_depend_on_the_cipher(
    new_contact: NewContact,
    new_profile: NewProfile,
    sessionmaker: SessionMaker,
    relay_tools: Tools,
    frozen_clock: FrozenClock,
    smtp_server: MailCatcher,
) -> None:
    """The notice reads no profile content: a wrong data key fails only the transfer."""
    address = unique("notice.key")
    await new_profile(await new_contact(email=address), date(2024, 3, 10))
    other_key = replace(relay_tools, cipher=DataCipher("another-data-key-" + "x" * 32))
    report = await run_on(sessionmaker, other_key, frozen_clock, date(2026, 2, 8))
    assert report.done == 1
    assert len(delivered_to(smtp_server, address)) == 1
    report = await run_on(sessionmaker, other_key, frozen_clock, date(2026, 3, 10))
    assert [i.outcome for i in report.items] == ["failed"]
