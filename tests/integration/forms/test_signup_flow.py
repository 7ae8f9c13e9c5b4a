"""A signup through the hosted form, end to end over HTTP: the form POST,
the contact pending at once, the confirmation mail read at a real SMTP
server, the link's page that changes nothing, and the POST that grants with
every piece of evidence."""

from __future__ import annotations

from typing import Any

from arq.connections import ArqRedis
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlmodel import col, select

from service.consent import archive
from service.db import SessionMaker
from service.embedded import MailCatcher
from service.models import ConsentEvent, Contact, Signup
from service.settings import Settings
from tests.integration.forms.conftest import PUBLIC_URL
from tests.support.forms import (
    TEXTS,
    add_form,
    html_of,
    link_in,
    mails_to,
    run_confirmation_job,
    take_confirmation_job,
    text_of,
    unique_address,
)

Client = AsyncTestClient[Litestar]
OFFER = "email.direct_marketing"


async def contacts_with(admin: Client, email: str) -> list[dict[str, Any]]:
    response = await admin.get("/api/v1/contacts", params={"email": email})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def eligible(admin: Client, contact_id: int) -> dict[str, Any]:
    response = await admin.get(f"/api/v1/contacts/{contact_id}/eligibility")
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def history(admin: Client, contact_id: int) -> list[dict[str, Any]]:
    response = await admin.get(f"/api/v1/contacts/{contact_id}/consents")
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["history"]
    return events


async def signups_of(sessionmaker: SessionMaker, contact_id: int) -> list[Signup]:
    async with sessionmaker() as session:
        rows = await session.exec(
            select(Signup).where(Signup.contact_id == contact_id).order_by(col(Signup.id))
        )
        return list(rows.all())


def path_of(link: str) -> str:
    assert link.startswith(f"{PUBLIC_URL}/c/")
    return link.removeprefix(PUBLIC_URL)


async def test_a_person_signs_up_confirms_from_the_mail_and_is_granted_with_proof(
    admin: Client,
    visitor: Client,
    redis: ArqRedis,
    sessionmaker: SessionMaker,
    settings: Settings,
    smtp_server: MailCatcher,
) -> None:
    form = await add_form(sessionmaker, fields={"full_name": True, "email": True})
    address = unique_address("aino")

    page = await visitor.get(f"/s/{form.slug}", params={"lang": "fi"})
    assert page.status_code == 200
    assert '<html lang="fi">' in page.text
    assert TEXTS["fi"].format(pair=OFFER) in page.text
    assert f'name="consent" value="{OFFER}"' in page.text
    assert " checked" not in page.text  # every offer unticked
    assert 'name="website"' in page.text and 'tabindex="-1"' in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert "<script" not in page.text

    answer = await visitor.post(
        f"/s/{form.slug}",
        data={
            "full_name": "Aino Virtanen",
            "email": address.upper(),
            "language": "fi",
            "consent": OFFER,
            "website": "",
        },
    )
    assert answer.status_code == 200, answer.text
    assert "vahvistuslinkin" in answer.text

    # The contact is there at once, pending: findable, but not eligible.
    [found] = await contacts_with(admin, address)
    contact_id = found["id"]
    assert (found["full_name"], found["source"], found["legal_basis"], found["language"]) == (
        "Aino Virtanen",
        "self",
        "consent",
        "fi",
    )
    pending = await eligible(admin, contact_id)
    assert pending == {"eligible": False, "reasons": ["no_consent", "unconfirmed"]}
    [signup] = await signups_of(sessionmaker, contact_id)
    assert signup.created_contact and signup.confirmed_at is None
    assert signup.submission_ip == "203.0.113.0/24"
    assert signup.language == "fi" and signup.form_version == form.version
    assert [(o["channel"], o["purpose"]) for o in signup.offers] == [("email", "direct_marketing")]
    fi_text_id = form.offers[0]["texts"]["fi"]
    assert signup.offers[0]["text_id"] == fi_text_id

    # The request queued the mail; the worker's job sends it.
    assert signup.id is not None
    assert await take_confirmation_job(redis, signup.id)
    assert await run_confirmation_job(settings, sessionmaker, signup.id) == "sent"
    [mail] = mails_to(smtp_server, address)
    async with sessionmaker() as session:
        text = await archive.get(session, fi_text_id)
    body = text_of(mail)
    assert mail["Subject"] == "Vahvista tilauksesi"
    assert text.body in body and text.body in html_of(mail)
    assert text.hash in body and f"versio {text.version}" in body
    assert "7 päivää" in body or "7 päivän" in body
    assert "List-Unsubscribe" not in mail and "<img" not in html_of(mail)
    link = link_in(mail)
    token = link.rsplit("/", 1)[1]
    [signup] = await signups_of(sessionmaker, contact_id)
    assert token not in signup.token_hash  # only the hash is kept

    # Opening the link changes nothing (mail scanners fetch links).
    shown = await visitor.get(path_of(link))
    assert shown.status_code == 200
    assert text.body in shown.text and 'method="post"' in shown.text
    assert await history(admin, contact_id) == []
    assert (await eligible(admin, contact_id))["eligible"] is False

    confirmed = await visitor.post(path_of(link))
    assert confirmed.status_code == 200, confirmed.text
    assert "vahvistettu" in confirmed.text
    assert await eligible(admin, contact_id) == {"eligible": True, "reasons": []}
    [grant] = await history(admin, contact_id)
    assert (grant["action"], grant["method"], grant["source"], grant["actor"]) == (
        "grant",
        "double_opt_in",
        "self",
        "public_link",
    )
    assert grant["evidence_text"] == text.body
    assert grant["notice_version"] == "2026-01"
    assert grant["evidence_ip"] == "203.0.113.0/24"
    async with sessionmaker() as session:
        event = (await session.exec(select(ConsentEvent))).one()
        contact = await session.get(Contact, contact_id)
    assert (event.text_id, event.language, event.form_id, event.form_version) == (
        fi_text_id,
        "fi",
        form.id,
        form.version,
    )
    assert event.submission_ip == "203.0.113.0/24" and event.submitted_at is not None
    assert contact is not None and contact.pending_since is None
    [signup] = await signups_of(sessionmaker, contact_id)
    assert signup.confirmed_at is not None and signup.confirmation_ip == "203.0.113.0/24"

    # The link used again: the same page, nothing recorded twice.
    again = await visitor.post(path_of(link))
    assert again.status_code == 200 and "vahvistettu" in again.text
    assert len(await history(admin, contact_id)) == 1


async def test_a_second_signup_answers_the_same_and_changes_nothing_known(
    admin: Client,
    visitor: Client,
    redis: ArqRedis,
    sessionmaker: SessionMaker,
    settings: Settings,
    smtp_server: MailCatcher,
) -> None:
    form = await add_form(sessionmaker, fields={"full_name": False, "email": True})
    address = unique_address("known")
    created = await admin.post(
        "/api/v1/contacts",
        json={
            "full_name": "Known Person",
            "email": address,
            "legal_basis": "customer_relationship",
            "source": "self",
            "language": "sv",
        },
    )
    assert created.status_code == 201
    contact_id = created.json()["id"]
    before = (await admin.get(f"/api/v1/contacts/{contact_id}")).json()
    new_address = unique_address("new")

    answers = []
    for email, name in ((address, "Someone Else"), (new_address, "New Person")):
        answers.append(
            await visitor.post(
                f"/s/{form.slug}",
                data={"full_name": name, "email": email, "language": "en", "consent": OFFER},
            )
        )
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].text == answers[1].text

    after = (await admin.get(f"/api/v1/contacts/{contact_id}")).json()
    assert after == before  # a known contact is not rewritten by an unverified submission
    # A known, not blocked address still gets a mail to confirm.
    [signup] = await signups_of(sessionmaker, contact_id)
    assert not signup.created_contact
    assert signup.id is not None and await take_confirmation_job(redis, signup.id)

    # A repeated submission while one is pending reuses it; the new mail's link replaces the old.
    assert await run_confirmation_job(settings, sessionmaker, signup.id) == "sent"
    first_link = link_in(mails_to(smtp_server, address)[-1])
    repeat = await visitor.post(
        f"/s/{form.slug}", data={"email": address, "language": "en", "consent": OFFER}
    )
    assert repeat.text == answers[0].text
    [again] = await signups_of(sessionmaker, contact_id)
    assert again.id == signup.id
    assert await take_confirmation_job(redis, signup.id)
    assert await run_confirmation_job(settings, sessionmaker, signup.id) == "sent"
    second_link = link_in(mails_to(smtp_server, address)[-1])
    assert second_link != first_link
    assert (await visitor.get(path_of(first_link))).status_code == 400
    assert (await visitor.get(path_of(second_link))).status_code == 200
    assert await history(admin, contact_id) == []


async def test_links_that_are_not_ours_or_have_expired_get_the_generic_page(
    admin: Client,
    visitor: Client,
    redis: ArqRedis,
    sessionmaker: SessionMaker,
    settings: Settings,
    smtp_server: MailCatcher,
    frozen_clock: Any,
) -> None:
    form = await add_form(sessionmaker)
    address = unique_address("late")
    await visitor.post(f"/s/{form.slug}", data={"email": address, "consent": OFFER})
    [found] = await contacts_with(admin, address)
    [signup] = await signups_of(sessionmaker, found["id"])
    assert signup.id is not None and await take_confirmation_job(redis, signup.id)
    await run_confirmation_job(settings, sessionmaker, signup.id)
    link = path_of(link_in(mails_to(smtp_server, address)[-1]))

    for path in ("/c/forged", "/c/" + "A" * 43, "/c/" + "%00" * 43, link[:-1] + "x"):
        for method in ("GET", "POST"):
            answer = await visitor.request(method, path)
            assert answer.status_code == 400, (method, path)
            assert "set-cookie" not in answer.headers

    frozen_clock.advance(days=settings.doi_expiry_days, seconds=1)
    assert (await visitor.get(link)).status_code == 400
    assert (await visitor.post(link)).status_code == 400
    assert await history(admin, found["id"]) == []
    # The job of an expired signup sends nothing.
    assert await run_confirmation_job(settings, sessionmaker, signup.id) == "not due"
