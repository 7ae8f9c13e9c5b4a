"""Rule unconfirmed_signups: a signup never confirmed is deleted the night
after its link expired, with the contact it made if that contact is still
pending; never a contact that existed before, or that confirmed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlmodel import col, select

from service import clock, queue
from service.db import SessionMaker
from service.models import Contact, Signup
from service.retention.runner import Tools
from service.settings import Settings
from tests.integration.retention.conftest import (
    Client,
    actions,
    items_on,
    run_on,
)
from tests.support.clock import FrozenClock
from tests.support.factories import add_contact
from tests.support.forms import add_form, take_confirmation_job, unique_address

OFFER = "email.direct_marketing"


@pytest.fixture(autouse=True)
async def _no_stray_jobs(settings: Settings, sessionmaker: SessionMaker) -> AsyncIterator[None]:
    """The confirmation jobs these signups queued are taken off the shared
    queue: no worker of another test should find them."""
    yield
    assert settings.redis_url is not None
    redis = await queue.connect(settings.redis_url)
    try:
        for signup_id in range(1, 10):
            await take_confirmation_job(redis, signup_id)
    finally:
        await redis.aclose()


async def sign_up(client: Client, slug: str, email: str) -> None:
    answer = await client.post(f"/s/{slug}", data={"email": email, "consent": OFFER})
    assert answer.status_code == 200, answer.text


async def state(sessionmaker: SessionMaker) -> tuple[list[int], list[str | None]]:
    async with sessionmaker() as session:
        by_id = select(Signup).order_by(col(Signup.id))
        signups = [s.id for s in (await session.exec(by_id)).all() if s.id]
        emails = list((await session.exec(select(Contact.email))).all())
    return signups, emails


async def test_expired_signups_go_with_the_pending_contacts_they_made(
    admin: Client,
    client: Client,
    sessionmaker: SessionMaker,
    settings: Settings,
    tools: Tools,
    frozen_clock: FrozenClock,
) -> None:
    form = await add_form(sessionmaker)
    known = unique_address("known")
    await add_contact(admin, email=known)
    new, confirmed_elsewhere = unique_address("new"), unique_address("confirmed")
    for email in (known, new, confirmed_elsewhere):
        await sign_up(client, form.slug, email)
    # One of the new ones confirmed through another signup of theirs.
    async with sessionmaker() as session:
        contact = (
            await session.exec(select(Contact).where(Contact.email == confirmed_elsewhere))
        ).one()
        contact.pending_since = None
        session.add(contact)
        await session.commit()
    signups, _ = await state(sessionmaker)
    assert len(signups) == 3

    expired_on = clock.today() + timedelta(days=settings.doi_expiry_days)
    # Not before the night after the link expired.
    assert await items_on(sessionmaker, settings, expired_on, "unconfirmed_signups") == []
    due_on = expired_on + timedelta(days=1)
    items = await items_on(sessionmaker, settings, due_on, "unconfirmed_signups")
    assert sorted((i.subject.kind, i.subject.id, i.due_on) for i in items) == [
        ("signup", signup_id, due_on) for signup_id in signups
    ]

    report = await run_on(sessionmaker, tools, frozen_clock, due_on)
    assert report.done == 3 and report.failed == 0
    remaining, emails = await state(sessionmaker)
    assert remaining == []
    assert known in emails and confirmed_elsewhere in emails
    assert new not in emails
    recorded = await actions(sessionmaker)
    assert [(rule, action) for rule, action, _, _ in recorded] == [
        ("unconfirmed_signups", "delete")
    ] * 3
    references = [reference for _, _, reference, _ in recorded]
    assert all(r.startswith("signup ") for r in references)
    assert sum("and contact" in r for r in references) == 1
    assert not any("@" in r for r in references)  # ids only

    # A second run the same night finds nothing to do.
    again = await run_on(sessionmaker, tools, frozen_clock, due_on)
    assert again.done == 0


async def test_a_confirmed_signup_is_kept(
    client: Client,
    sessionmaker: SessionMaker,
    settings: Settings,
    tools: Tools,
    frozen_clock: FrozenClock,
) -> None:
    form = await add_form(sessionmaker)
    await sign_up(client, form.slug, unique_address("kept"))
    async with sessionmaker() as session:
        signup = (await session.exec(select(Signup))).one()
        signup.confirmed_at = clock.now()
        session.add(signup)
        await session.commit()
    later = clock.today() + timedelta(days=settings.doi_expiry_days + 30)
    assert await items_on(sessionmaker, settings, later, "unconfirmed_signups") == []
    await run_on(sessionmaker, tools, frozen_clock, later)
    assert len((await state(sessionmaker))[0]) == 1
