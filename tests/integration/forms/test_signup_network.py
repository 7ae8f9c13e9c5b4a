"""A signup keeps the sender's network cut to the configured prefix
(``IP_V4_PREFIX``), as the privacy notice says and the portal does, not to
a fixed /24: on submitting, on confirming, and in the ledger's evidence."""

from __future__ import annotations

import dataclasses

import pytest
from arq.connections import ArqRedis
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlmodel import col, select

from service.db import SessionMaker
from service.embedded import MailCatcher
from service.models import ConsentEvent, Contact, Signup
from service.settings import Settings
from tests.integration.forms.conftest import PUBLIC_URL
from tests.support.forms import (
    add_form,
    link_in,
    mails_to,
    run_confirmation_job,
    take_confirmation_job,
    unique_address,
)

Client = AsyncTestClient[Litestar]
COARSE = "203.0.0.0/16"  # VISITOR_IP 203.0.113.77 under IP_V4_PREFIX=16


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The forms' test settings with people's networks cut to a /16."""
    return dataclasses.replace(settings, ip_v4_prefix=16)


async def test_a_signup_keeps_the_network_at_the_configured_prefix(
    visitor: Client,
    redis: ArqRedis,
    sessionmaker: SessionMaker,
    settings: Settings,
    smtp_server: MailCatcher,
) -> None:
    assert settings.ip_v4_prefix == 16
    form = await add_form(sessionmaker, fields={"email": True})
    address = unique_address("netta")
    answer = await visitor.post(
        f"/s/{form.slug}",
        data={"email": address, "language": "fi", "consent": "email.direct_marketing"},
    )
    assert answer.status_code == 200, answer.text
    async with sessionmaker() as session:
        signup = (
            await session.exec(
                select(Signup)
                .join(Contact, col(Contact.id) == Signup.contact_id)
                .where(Contact.email == address)
            )
        ).one()
    assert signup.submission_ip == COARSE
    assert signup.id is not None
    assert await take_confirmation_job(redis, signup.id)
    assert await run_confirmation_job(settings, sessionmaker, signup.id) == "sent"
    [mail] = mails_to(smtp_server, address)
    confirmed = await visitor.post(link_in(mail).removeprefix(PUBLIC_URL))
    assert confirmed.status_code == 200, confirmed.text

    async with sessionmaker() as session:
        confirmed_signup = await session.get(Signup, signup.id)
        assert confirmed_signup is not None and confirmed_signup.confirmation_ip == COARSE
        [event] = (
            await session.exec(
                select(ConsentEvent).where(ConsentEvent.contact_id == signup.contact_id)
            )
        ).all()
    assert (event.evidence_ip, event.submission_ip) == (COARSE, COARSE)
