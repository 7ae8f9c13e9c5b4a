"""The person's own page in the privacy portal: what is held (never the
identity code), the access export as an audited download, every consent
with the words shown, requests with their deadline, the CSRF check, and
hostile input that never gets a 5xx."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import col

from service import clock
from service.db import SessionMaker, run
from service.models import (
    AuditEvent,
    Ban,
    ConsentEvent,
    ConsentText,
    Contact,
    DataSubjectRequest,
)
from service.requests.deadlines import due_date
from tests.integration.portal.conftest import OURS, PUBLIC_URL, Client, signed_in
from tests.support.factories import add_contact, unique_email

HETU = "131052-308T"


async def rows(sessionmaker: SessionMaker, model: Any, *where: Any) -> list[Any]:
    async with sessionmaker() as session:
        query = select(model).where(*where).order_by(col(model.id))
        return list((await run(session, query)).scalars().all())


async def person(admin: Client, client: Client, sessionmaker: SessionMaker, **fields: Any) -> int:
    contact_id = await add_contact(admin, email=unique_email("page"), **fields)
    await signed_in(client, sessionmaker, contact_id)
    return contact_id


async def test_the_page_shows_what_is_held_but_nothing_of_an_identity_code(
    admin: Client, client: Client, sessionmaker: SessionMaker
) -> None:
    await person(
        admin,
        client,
        sessionmaker,
        full_name="Aino Näkyvä",
        personal_identity_code=HETU,
        city="Tampere",
        language="en",
    )
    page = await client.get("/me/page")
    assert page.status_code == 200
    assert "Aino Näkyvä" in page.text and "Tampere" in page.text
    assert "308T" not in page.text and "131052" not in page.text
    assert "identity" not in page.text.lower() and "henkilötunnus" not in page.text.lower()
    assert 'href="/me/export"' in page.text
    assert page.headers["referrer-policy"] == "same-origin"


async def test_the_export_is_a_download_of_the_staff_export_and_is_audited(
    admin: Client, client: Client, sessionmaker: SessionMaker
) -> None:
    contact_id = await person(
        admin, client, sessionmaker, full_name="Lataava Henkilö", personal_identity_code=HETU
    )
    download = await client.get("/me/export")
    assert download.status_code == 200
    assert download.headers["content-disposition"] == 'attachment; filename="my-data.json"'
    assert download.headers["content-type"].startswith("application/json")
    mine = download.json()
    staff = (await admin.get(f"/api/v1/contacts/{contact_id}/export")).json()
    # The staff export (the person's own code whole, for a privacy officer to
    # send once the person is verified), less the identity code: a link to
    # the mailbox is not enough to get it.
    assert staff["contact"].pop("personal_identity_code") == HETU
    assert mine["contact"].pop("personal_identity_code") is None
    for section in ("contact", "consents", "bans", "requests", "information"):
        assert mine[section] == staff[section]
    assert mine["contact"]["full_name"] == "Lataava Henkilö"
    assert mine["contact"]["id"] == contact_id
    dumped = json.dumps(mine)
    assert "131052" not in dumped, dumped[max(0, dumped.find("131052") - 200) :][:300]
    assert set(mine) >= {"consents", "requests", "information", "accesses"}
    [event] = await rows(
        sessionmaker,
        AuditEvent,
        col(AuditEvent.action) == "portal.export",
        col(AuditEvent.contact_id) == contact_id,
    )
    assert event.actor.value == "public" and event.actor_user_id is None
    assert event.contact_id == contact_id and event.route == "/me/export"
    assert event.method == "GET" and event.status_code == 200


async def test_consent_choices_are_recorded_with_the_method_and_the_words_shown(
    admin: Client, client: Client, sessionmaker: SessionMaker
) -> None:
    contact_id = await person(admin, client, sessionmaker, language="fi")
    page = await client.get("/me/page")
    for key in (
        "email.direct_marketing",
        "sms.direct_marketing",
        "phone.direct_marketing",
        "post.direct_marketing",
        "email.email_tracking",
        "email.profiling_report",
    ):
        assert f'name="{key}"' in page.text
    saved = await client.post(
        "/me/consents",
        data={
            "email.direct_marketing": "grant",
            "email.profiling_report": "grant",
            "phone.direct_marketing": "grant",  # already so by default: nothing new
        },
        headers=OURS,
    )
    assert saved.status_code == 200 and "Valintasi on tallennettu" in saved.text
    events = await rows(sessionmaker, ConsentEvent, col(ConsentEvent.contact_id) == contact_id)
    assert [(e.channel.value, e.purpose.value, e.action.value) for e in events] == [
        ("email", "direct_marketing", "grant"),
        ("email", "profiling_report", "grant"),
    ]
    for event in events:
        assert event.method.value == "privacy_portal" and event.actor.value == "public_link"
        assert event.source.value == "self" and event.language == "fi"
        # (The test client has no IP address: the browser test sees the network.)
        [text] = await rows(sessionmaker, ConsentText, col(ConsentText.id) == event.text_id)
        assert text.key == f"portal:{event.channel.value}.{event.purpose.value}"
        assert text.language == "fi" and text.body in (event.evidence_text or "")

    withdrawn = await client.post(
        "/me/consents", data={"email.profiling_report": "withdraw"}, headers=OURS
    )
    assert withdrawn.status_code == 200
    last = (await rows(sessionmaker, ConsentEvent, col(ConsentEvent.contact_id) == contact_id))[-1]
    assert (last.purpose.value, last.action.value, last.method.value) == (
        "profiling_report",
        "withdraw",
        "privacy_portal",
    )
    page = await client.get("/me/page")
    assert 'name="email.profiling_report" value="withdraw" checked' in page.text
    assert 'name="email.direct_marketing" value="grant" checked' in page.text


@pytest.mark.parametrize("kind", ["erasure", "rectification", "restriction"])
async def test_each_request_is_registered_verified_with_its_deadline_once(
    admin: Client, client: Client, sessionmaker: SessionMaker, kind: str
) -> None:
    contact_id = await person(admin, client, sessionmaker, language="en")
    form = {"kind": kind, "description": "My city is wrong: Turku, not Tampere"}
    first = await client.post("/me/requests", data=form, headers=OURS)
    due = due_date(clock.today()).isoformat()
    assert first.status_code == 200 and f"We will answer by {due}" in first.text
    second = await client.post("/me/requests", data=form, headers=OURS)
    assert "You already have an open request" in second.text and due in second.text
    [request] = await rows(
        sessionmaker, DataSubjectRequest, col(DataSubjectRequest.contact_id) == contact_id
    )
    assert request.type.value == kind and request.channel.value == "web"
    assert request.verification_method is not None
    assert request.verification_method.value == "email_link"
    assert request.verified_at is not None and request.status.value == "open"
    assert request.due_on == date.fromisoformat(due)
    expected = form["description"] if kind == "rectification" else None
    assert request.description == expected


async def test_an_objection_to_direct_marketing_is_in_force_at_once(
    admin: Client, client: Client, sessionmaker: SessionMaker
) -> None:
    contact_id = await person(admin, client, sessionmaker, language="en")
    done = await client.post("/me/requests", data={"kind": "objection"}, headers=OURS)
    assert done.status_code == 200 and "objection to direct marketing is in force" in done.text
    again = await client.post("/me/requests", data={"kind": "objection"}, headers=OURS)
    assert again.status_code == 200
    [request] = await rows(
        sessionmaker, DataSubjectRequest, col(DataSubjectRequest.contact_id) == contact_id
    )
    assert request.type.value == "objection" and request.status.value == "done"
    assert request.verification_method is not None
    assert request.verification_method.value == "email_link"
    [ban] = await rows(sessionmaker, Ban, col(Ban.contact_id) == contact_id)
    assert ban.kind.value == "direct_marketing" and ban.channel.value == "all"
    [contact] = await rows(sessionmaker, Contact, col(Contact.id) == contact_id)
    assert contact.objected_at is not None
    eligibility = await admin.get(
        f"/api/v1/contacts/{contact_id}/eligibility?channel=phone&purpose=direct_marketing"
    )
    assert eligibility.json()["eligible"] is False


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/x"},
    ],
)
async def test_a_post_from_another_site_changes_nothing(
    admin: Client, client: Client, sessionmaker: SessionMaker, headers: dict[str, str]
) -> None:
    contact_id = await person(admin, client, sessionmaker)
    consents = await client.post(
        "/me/consents", data={"email.direct_marketing": "grant"}, headers=headers
    )
    asked = await client.post("/me/requests", data={"kind": "erasure"}, headers=headers)
    out = await client.post("/me/logout", headers=headers)
    assert (consents.status_code, asked.status_code, out.status_code) == (403, 403, 403)
    assert await rows(sessionmaker, ConsentEvent, col(ConsentEvent.contact_id) == contact_id) == []
    assert await rows(sessionmaker, DataSubjectRequest) == []
    # Our own page's Referer is enough when a browser sends no Origin.
    referred = await client.post(
        "/me/requests", data={"kind": "erasure"}, headers={"Referer": f"{PUBLIC_URL}/me/page"}
    )
    assert referred.status_code == 200


JUNK_TOKENS = [
    "x",
    "A" * 43,
    "A" * 5000,
    "%00" * 43,
    "..%2F..%2Fetc%2Fpasswd",
    "ä" * 43,
    "page'--",
]


@pytest.mark.parametrize("token", JUNK_TOKENS)
async def test_junk_tokens_get_the_generic_page(client: Client, token: str) -> None:
    got = await client.get(f"/me/{token}")
    posted = await client.post(f"/me/{token}", headers=OURS, follow_redirects=False)
    for response in (got, posted):
        assert response.status_code in (400, 404), response.text
        assert "set-cookie" not in response.headers


@pytest.mark.parametrize(
    "cookie", ["", "x", "A" * 43, "A" * 4000, "%C3%A4" * 43, "a b", '"quoted"', "=;=;"]
)
async def test_bad_cookies_are_an_ended_session(client: Client, cookie: str) -> None:
    client.cookies.set("consentry_portal", cookie)
    for response in (
        await client.get("/me/page"),
        await client.get("/me/export"),
        await client.post("/me/consents", data={"email.direct_marketing": "grant"}, headers=OURS),
    ):
        assert response.status_code == 401, response.text


@pytest.mark.parametrize(
    "email",
    ["a" * 100_000 + "@example.fi", "x@" + "a" * 300 + ".fi", "\x00@x.fi", "", "@", "a@b@c"],
)
async def test_hostile_addresses_get_the_form_again(client: Client, email: str) -> None:
    response = await client.post("/me", data={"email": email})
    assert response.status_code == 200 and 'role="alert"' in response.text


async def test_hostile_page_forms_never_get_a_5xx(
    admin: Client, client: Client, sessionmaker: SessionMaker
) -> None:
    await person(admin, client, sessionmaker)
    for path, data in [
        ("/me/consents", {"email.direct_marketing": "maybe"}),
        ("/me/consents", {"sms.profiling_report": "grant"}),
        ("/me/requests", {"kind": "access"}),
        ("/me/requests", {"kind": "x" * 10_000}),
        ("/me/requests", {"kind": "rectification", "description": "ä" * 50_000}),
        ("/me/requests", {}),
    ]:
        response = await client.post(path, data=data, headers=OURS)
        assert response.status_code < 500, (path, response.status_code)
    [request] = await rows(sessionmaker, DataSubjectRequest)
    assert request.description is not None and len(request.description) == 4000
