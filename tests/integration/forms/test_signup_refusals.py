"""Who gets nothing from a signup, with the very same answer as everybody
else: a suppressed, banned or objected address, a filled honeypot, and
anyone over a rate limit."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, update
from sqlmodel import col, select

from service.crypto import DataCipher
from service.db import SessionMaker, session_scope
from service.embedded import MailCatcher
from service.forms.signup import ADDRESS_LIMIT, NETWORK_LIMIT
from service.models import ConsentEvent, Contact, Signup
from service.models.enums import SuppressionKind, SuppressionReason
from service.settings import Settings
from service.suppressions import service as suppressions
from tests.support.factories import add_contact, ban
from tests.support.forms import (
    add_form,
    link_in,
    mails_to,
    run_confirmation_job,
    unique_address,
)

Client = AsyncTestClient[Litestar]
OFFER = "email.direct_marketing"


async def count(sessionmaker: SessionMaker, model: Any) -> int:
    async with sessionmaker() as session:
        return int((await session.exec(select(func.count()).select_from(model))).one())


async def sign_up(visitor: Client, slug: str, email: str, **extra: str) -> Any:
    return await visitor.post(
        f"/s/{slug}", data={"email": email, "consent": OFFER, "language": "en", **extra}
    )


async def test_a_blocked_known_address_gets_no_mail_and_no_change(
    admin: Client,
    visitor: Client,
    sessionmaker: SessionMaker,
    cipher: DataCipher,
    settings: Settings,
    smtp_server: MailCatcher,
) -> None:
    form = await add_form(sessionmaker)
    addresses = {kind: unique_address(kind) for kind in ("ok", "suppressed", "banned", "objected")}
    ids = {}
    for kind, address in addresses.items():
        ids[kind] = await add_contact(admin, email=address, full_name=f"Person {kind}")
    async with session_scope(sessionmaker) as session:
        await suppressions.record(
            session,
            value_hash=cipher.lookup_hash("email", addresses["suppressed"]),
            kind=SuppressionKind.EMAIL,
            reason=SuppressionReason.BOUNCE,
        )
        await session.exec(
            update(Contact)  # type: ignore[call-overload]
            .where(col(Contact.id) == ids["objected"])
            .values(objected_at=func.now())
        )
    await ban(admin, ids["banned"], channel="email")
    # A suppressed address nobody holds any more (an erased person) is not registered again.
    gone = unique_address("erased")
    async with session_scope(sessionmaker) as session:
        await suppressions.record(
            session,
            value_hash=cipher.lookup_hash("email", gone),
            kind=SuppressionKind.EMAIL,
            reason=SuppressionReason.ERASURE,
        )

    answers = {
        kind: await sign_up(visitor, form.slug, address) for kind, address in addresses.items()
    }
    answers["erased"] = await sign_up(visitor, form.slug, gone)
    assert {a.status_code for a in answers.values()} == {200}
    assert len({a.text for a in answers.values()}) == 1

    async with sessionmaker() as session:
        signed = (await session.exec(select(Signup.contact_id))).all()
        emails = (await session.exec(select(Contact.email))).all()
    assert signed == [ids["ok"]]  # the blocked got no signup row
    assert gone not in emails
    assert await count(sessionmaker, ConsentEvent) == 0
    async with sessionmaker() as session:
        signup_id = (await session.exec(select(Signup.id))).one()
    assert signup_id is not None
    assert await run_confirmation_job(settings, sessionmaker, signup_id) == "sent"
    for kind in ("suppressed", "banned", "objected"):
        assert mails_to(smtp_server, addresses[kind]) == []
    assert len(mails_to(smtp_server, addresses["ok"])) == 1


async def test_a_ban_after_the_signup_stops_the_mail_and_the_grant(
    admin: Client,
    visitor: Client,
    sessionmaker: SessionMaker,
    settings: Settings,
    smtp_server: MailCatcher,
) -> None:
    form = await add_form(sessionmaker)
    address = unique_address("later.banned")
    await sign_up(visitor, form.slug, address)
    async with sessionmaker() as session:
        signup = (await session.exec(select(Signup))).one()
    assert signup.id is not None
    assert await run_confirmation_job(settings, sessionmaker, signup.id) == "sent"
    path = link_in(mails_to(smtp_server, address)[-1]).split("consentry.example.fi", 1)[1]
    await ban(admin, signup.contact_id)
    assert (await visitor.post(path)).status_code == 400
    assert await count(sessionmaker, ConsentEvent) == 0
    assert await run_confirmation_job(settings, sessionmaker, signup.id) == "not due"


async def test_a_filled_honeypot_does_nothing_at_all(
    visitor: Client, sessionmaker: SessionMaker
) -> None:
    form = await add_form(sessionmaker)
    human = await sign_up(visitor, form.slug, unique_address("human"))
    bot = await sign_up(visitor, form.slug, unique_address("bot"), website="https://spam.example")
    assert (bot.status_code, bot.text) == (human.status_code, human.text)
    assert await count(sessionmaker, Contact) == 1
    assert await count(sessionmaker, Signup) == 1


async def test_over_a_rate_limit_the_answer_is_the_same_and_nothing_is_kept(
    visitor: Client, sessionmaker: SessionMaker
) -> None:
    form = await add_form(sessionmaker)
    address = unique_address("often")
    answers = [await sign_up(visitor, form.slug, address) for _ in range(ADDRESS_LIMIT.count + 2)]
    assert len({(a.status_code, a.text) for a in answers}) == 1
    assert await count(sessionmaker, Signup) == 1  # reused while pending, within the limit

    # The network's limit: every address of this one network counts.
    remaining = NETWORK_LIMIT.count - len(answers)
    for _ in range(remaining):
        await sign_up(visitor, form.slug, unique_address("many"))
    before = await count(sessionmaker, Contact)
    over = await sign_up(visitor, form.slug, unique_address("one.too.many"))
    assert (over.status_code, over.text) == (answers[0].status_code, answers[0].text)
    assert await count(sessionmaker, Contact) == before


@pytest.mark.parametrize("as_json", [False, True])
async def test_a_form_without_double_opt_in_grants_at_once_but_never_a_blocked_address(
    admin: Client, visitor: Client, sessionmaker: SessionMaker, as_json: bool
) -> None:
    form = await add_form(sessionmaker, double_opt_in=False, origins=["https://shop.example.fi"])
    address, banned = unique_address("direct"), unique_address("direct.banned")
    banned_id = await add_contact(admin, email=banned)
    await ban(admin, banned_id)
    for email in (address, banned):
        body = {"email": email, "consent": [OFFER], "language": "fi"}
        if as_json:
            answer = await visitor.post(f"/s/{form.slug}", json=body)
            assert answer.json() == {"status": "received"}
        else:
            answer = await visitor.post(f"/s/{form.slug}", data=body)
        assert answer.status_code == 200
    async with sessionmaker() as session:
        [event] = (await session.exec(select(ConsentEvent))).all()
        contact = await session.get(Contact, event.contact_id)
    assert contact is not None and contact.email == address and contact.pending_since is None
    assert (event.method.value, event.form_id, event.submission_ip) == (
        "web_form",
        form.id,
        "203.0.113.0/24",
    )
    assert await count(sessionmaker, Signup) == 0
