"""The privacy portal's way in: the address form answers the same whatever
the address, the link arrives at a real SMTP server, a GET of it uses
nothing, a POST opens one session once, and links and sessions expire."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from datetime import timedelta
from email.message import EmailMessage

import pytest
from arq.connections import ArqRedis
from sqlalchemy import select
from sqlmodel import col

from service import queue
from service.db import SessionMaker, run
from service.embedded import MailCatcher
from service.models import PortalLink
from service.portal.links import SEND_LINK
from service.settings import Settings
from tests.integration.portal.conftest import OURS, PUBLIC_URL, Client, link_for, signed_in
from tests.support.clock import FrozenClock
from tests.support.factories import add_contact, unique_email
from tests.support.worker import drain, worker_context
from workers.portal import send_portal_link


async def portal_jobs(redis: ArqRedis) -> list[tuple[object, ...]]:
    jobs = await redis.queued_jobs(queue_name=queue.QUEUE_NAME)
    return [tuple(job.args) for job in jobs if job.function == SEND_LINK]


async def links(sessionmaker: SessionMaker) -> list[PortalLink]:
    async with sessionmaker() as session:
        rows = (await run(session, select(PortalLink).order_by(col(PortalLink.id)))).scalars()
        return list(rows.all())


def mail_to(catcher: MailCatcher, address: str) -> list[EmailMessage]:
    found = []
    for message in catcher.messages():
        assert isinstance(message, EmailMessage)
        if message["To"] == address:
            found.append(message)
    return found


def body(message: EmailMessage, kind: str) -> str:
    part = message.get_body((kind,))
    assert isinstance(part, EmailMessage)
    return str(part.get_content())


async def test_the_address_page_speaks_the_asked_or_the_browsers_language(
    client: Client,
) -> None:
    response = await client.get("/me?lang=sv")
    assert response.status_code == 200
    assert 'lang="sv"' in response.text and "E-postadress" in response.text
    assert '<label for="email">' in response.text and "<script" not in response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"
    assert "form-action 'self'" in response.headers["content-security-policy"]
    finnish = await client.get("/me", headers={"Accept-Language": "fi-FI,fi;q=0.9,en;q=0.5"})
    assert 'lang="fi"' in finnish.text and "Sähköpostiosoite" in finnish.text
    assert 'lang="en"' in (await client.get("/me")).text


async def test_known_unknown_and_over_the_limit_get_byte_identical_answers(
    admin: Client, jobs: ArqRedis, sessionmaker: SessionMaker
) -> None:
    known = unique_email("portal")
    contact_id = await add_contact(admin, email=known)
    answers = []
    for address in [known, unique_email("nobody"), known, known, known.upper()]:
        response = await admin.post("/me?lang=fi", data={"email": address, "website": ""})
        assert response.status_code == 200
        answers.append(response.content)
    assert len(set(answers)) == 1
    assert "Jos osoite on rekisterissämme" in answers[0].decode()
    # Three links an hour per address: the fourth and fifth asked for nothing.
    assert await portal_jobs(jobs) == [(contact_id, "fi")] * 3
    # No token passes through Redis: none is made before the worker runs.
    assert await links(sessionmaker) == []


async def test_a_filled_honeypot_or_a_bad_address_sends_nothing(
    admin: Client, jobs: ArqRedis
) -> None:
    known = unique_email("portal")
    await add_contact(admin, email=known)
    trap = await admin.post("/me", data={"email": known, "website": "http://spam.example"})
    plain = await admin.post("/me", data={"email": unique_email("nobody")})
    assert trap.content == plain.content
    bad = await admin.post("/me", data={"email": "not an address"})
    assert bad.status_code == 200 and 'role="alert"' in bad.text
    assert 'aria-invalid="true"' in bad.text
    assert await portal_jobs(jobs) == []


async def test_the_link_arrives_opens_once_and_a_get_uses_nothing(
    admin: Client,
    client: Client,
    jobs: ArqRedis,
    settings: Settings,
    sessionmaker: SessionMaker,
    smtp_server: MailCatcher,
) -> None:
    address = unique_email("mailed")
    await add_contact(admin, email=address, full_name="Maija Portaali", language="sv")
    client.headers.pop("Authorization", None)
    sent = await client.post("/me?lang=en", data={"email": address})
    assert sent.status_code == 200
    async with worker_context(settings, sessionmaker) as ctx:
        await drain(ctx)
    [mail] = mail_to(smtp_server, address)
    assert mail["Subject"] == "A link to your data"
    assert mail["List-Unsubscribe"] is None
    text = body(mail, "plain")
    urls = re.findall(rf"{re.escape(PUBLIC_URL)}/me/[A-Za-z0-9_-]+", text)
    assert len(urls) == 1 and urls[0] in body(mail, "html")
    path = urls[0].removeprefix(PUBLIC_URL)
    token = path.rsplit("/", 1)[1]
    assert address not in token and len(token) == 43
    [link] = await links(sessionmaker)
    assert link.token_hash != token and link.expires_at - link.created_at == timedelta(minutes=30)

    for _ in range(2):  # a link scanner, then the person
        page = await client.get(path)
        assert page.status_code == 200 and "Open my page" in page.text
        assert "set-cookie" not in page.headers
    assert (await links(sessionmaker))[0].used_at is None

    opened = await client.post(path, headers=OURS, follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"].startswith("/me/page")
    cookie = opened.headers["set-cookie"]
    assert "consentry_portal=" in cookie and "HttpOnly" in cookie
    assert "samesite=strict" in cookie.lower() and "Path=/me" in cookie
    own = await client.get("/me/page")
    assert own.status_code == 200 and "Maija Portaali" in own.text
    assert 'lang="sv"' in own.text  # the contact's language once known
    [used] = await links(sessionmaker)
    assert used.used_at is not None and used.session_hash not in (None, used.token_hash)

    again = await client.post(path, headers=OURS, follow_redirects=False)
    assert again.status_code == 400 and "/me" in again.text
    assert (await client.get(path)).status_code == 400


async def test_a_link_lives_thirty_minutes(
    admin: Client, client: Client, sessionmaker: SessionMaker, frozen_clock: FrozenClock
) -> None:
    contact_id = await add_contact(admin, email=unique_email("expiry"))
    token = await link_for(sessionmaker, contact_id)
    frozen_clock.advance(minutes=29, seconds=59)
    assert (await client.get(f"/me/{token}")).status_code == 200
    frozen_clock.advance(seconds=1)
    assert (await client.get(f"/me/{token}")).status_code == 400
    assert (await client.post(f"/me/{token}", headers=OURS)).status_code == 400
    [link] = await links(sessionmaker)
    assert link.used_at is None and link.session_hash is None


async def test_a_session_lives_thirty_minutes_and_ends_at_logout(
    admin: Client, client: Client, sessionmaker: SessionMaker, frozen_clock: FrozenClock
) -> None:
    contact_id = await add_contact(admin, email=unique_email("session"))
    await signed_in(client, sessionmaker, contact_id)
    frozen_clock.advance(minutes=29)
    assert (await client.get("/me/page")).status_code == 200
    frozen_clock.advance(minutes=1)
    ended = await client.get("/me/page")
    assert ended.status_code == 401 and 'href="/me?lang=' in ended.text
    assert (await client.get("/me/export")).status_code == 401

    await signed_in(client, sessionmaker, contact_id)
    out = await client.post("/me/logout", headers=OURS)
    assert out.status_code == 200 and "Max-Age=0" in out.headers["set-cookie"]
    assert (await client.get("/me/page")).status_code == 401


async def test_without_a_queue_nothing_is_sent_and_the_answer_is_the_same(
    admin: Client, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    address = unique_email("noqueue")
    await add_contact(admin, email=address)
    with_queue = await client.post("/me", data={"email": unique_email("nobody")})
    kept = client.app.state.queue
    client.app.state.queue = None
    try:
        with caplog.at_level(logging.WARNING):
            without = await client.post("/me", data={"email": address})
    finally:
        client.app.state.queue = kept
    assert without.status_code == 200 and without.content == with_queue.content
    assert "no queue configured" in caplog.text and address not in caplog.text


async def test_the_job_makes_no_link_for_a_contact_gone_or_without_a_relay(
    admin: Client, settings: Settings, sessionmaker: SessionMaker
) -> None:
    contact_id = await add_contact(admin, email=unique_email("gone"))
    assert (await admin.delete(f"/api/v1/contacts/{contact_id}")).status_code == 204
    async with worker_context(settings, sessionmaker) as ctx:
        assert await send_portal_link(ctx, contact_id, "fi") == "gone"
        kept = ctx["sender"]
        ctx["sender"] = replace(kept, smtp=None)
        try:
            assert await send_portal_link(ctx, contact_id, "fi") == "no_relay"
        finally:
            ctx["sender"] = kept
    assert await links(sessionmaker) == []
