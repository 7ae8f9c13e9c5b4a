"""Telling others and the person: a task per recipient of disclosed data after
a rectification, erasure or restriction (GDPR 19), and the person mailed
before their restriction is lifted (GDPR 18(3))."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from sqlmodel import col, select

from service.db import SessionMaker
from service.models import AuditEvent, Contact, RecipientNotification, Restriction
from service.models.enums import RequestType, Role
from service.settings import Settings, load_settings
from tests.conftest import TokenFactory
from tests.integration.rights.support import Client, add_contact, add_request
from tests.support.smtp import PickySink

CONTROLLER = "Valmennus Esimerkki Oy"
PRIVACY = "tietosuoja@valmennus.example.fi"


@pytest.fixture
def sink() -> Iterator[PickySink]:
    with PickySink() as server:
        yield server


@pytest.fixture
def settings(
    database_url: str, settings_env: dict[str, str], redis_url: str, sink: PickySink
) -> Settings:
    """The shared test settings with a relay of this test's own (overrides
    tests/conftest.py's, so the app under test uses it)."""
    return load_settings(
        {
            **settings_env,
            "CONSENTRY_DATABASE_URL": database_url,
            "CONSENTRY_REDIS_URL": redis_url,
            "CONSENTRY_SMTP_HOST": "127.0.0.1",
            "CONSENTRY_SMTP_PORT": str(sink.port),
            "CONSENTRY_CONTROLLER_NAME": CONTROLLER,
            "CONSENTRY_PRIVACY_CONTACT": PRIVACY,
        }
    )


async def disclose(admin: Client, contact_id: int, name: str, kind: str = "employer") -> None:
    response = await admin.post(
        f"/api/v1/contacts/{contact_id}/disclosures",
        json={
            "recipient_type": kind,
            "recipient_name": name,
            "data_categories": ["name", "email"],
            "purpose": "Programme enrolment",
            "disclosed_on": "2026-01-15",
        },
    )
    assert response.status_code == 201, response.text


async def tasks(sessionmaker: SessionMaker) -> list[RecipientNotification]:
    async with sessionmaker() as session:
        query = select(RecipientNotification).order_by(col(RecipientNotification.id))
        return list((await session.exec(query)).all())


async def audited(sessionmaker: SessionMaker, action: str) -> list[AuditEvent]:
    async with sessionmaker() as session:
        rows = await session.exec(select(AuditEvent).where(col(AuditEvent.action) == action))
        return list(rows.all())


async def two_recipients(admin: Client, **fields: Any) -> int:
    contact_id = await add_contact(admin, **fields)
    await disclose(admin, contact_id, "Työnantaja Oy")
    await disclose(admin, contact_id, "Coach Ab", kind="coach")
    # The same recipient again is still one recipient to tell.
    await disclose(admin, contact_id, "työnantaja oy")
    return contact_id


# -- GDPR 19 -------------------------------------------------------------------------


async def test_a_rectification_opens_a_task_per_recipient_with_the_field_names(
    admin: Client, sessionmaker: SessionMaker
) -> None:
    contact_id = await two_recipients(admin, city="Oulu")
    request_id = await add_request(sessionmaker, RequestType.RECTIFICATION, contact_id=contact_id)
    response = await admin.patch(
        f"/api/v1/contacts/{contact_id}?request_id={request_id}",
        json={"city": "Turku", "full_name": "Maija Korjattu"},
    )
    assert response.status_code == 200, response.text
    found = await tasks(sessionmaker)
    assert sorted(t.recipient_name.casefold() for t in found) == ["coach ab", "työnantaja oy"]
    for task in found:
        assert task.cause == "rectification" and task.contact_id == contact_id
        assert task.fields == ["city", "full_name"] and task.request_id == request_id
        assert task.done_at is None and task.disclosure_id is not None
    # Never the values, old or new.
    assert not {"Turku", "Oulu", "Maija Korjattu"} & {f for t in found for f in t.fields}
    # A PATCH that changes nothing tells nobody anything.
    same = await admin.patch(f"/api/v1/contacts/{contact_id}", json={"city": "Turku"})
    assert same.status_code == 200 and len(await tasks(sessionmaker)) == 2


async def test_no_disclosures_no_tasks(admin: Client, sessionmaker: SessionMaker) -> None:
    contact_id = await add_contact(admin)
    await admin.patch(f"/api/v1/contacts/{contact_id}", json={"city": "Turku"})
    restricted = await admin.post(
        f"/api/v1/contacts/{contact_id}/restriction", json={"reason": "Contested"}
    )
    assert restricted.json()["recipients_notified"] == []
    assert await tasks(sessionmaker) == []


async def test_the_tasks_of_an_erasure_outlive_the_contact(
    admin: Client, sessionmaker: SessionMaker
) -> None:
    contact_id = await two_recipients(admin)
    request_id = await add_request(sessionmaker, RequestType.ERASURE, contact_id=contact_id)
    erased = await admin.delete(f"/api/v1/contacts/{contact_id}?request_id={request_id}")
    assert erased.status_code == 204, erased.text
    async with sessionmaker() as session:
        assert await session.get(Contact, contact_id) is None
    found = await tasks(sessionmaker)
    assert len(found) == 2
    assert {(t.cause, t.contact_id, t.request_id) for t in found} == {
        ("erasure", contact_id, request_id)
    }
    listed = await admin.get(f"/api/v1/recipient-notifications?contact_id={contact_id}")
    assert listed.status_code == 200 and listed.json()["total"] == 2


async def test_a_restriction_opens_tasks_and_names_the_recipients(
    admin: Client, sessionmaker: SessionMaker
) -> None:
    contact_id = await two_recipients(admin)
    response = await admin.post(
        f"/api/v1/contacts/{contact_id}/restriction", json={"reason": "Accuracy contested"}
    )
    assert response.status_code == 200, response.text
    assert sorted(response.json()["recipients_notified"]) == ["Coach Ab", "työnantaja oy"]
    assert [t.cause for t in await tasks(sessionmaker)] == ["restriction", "restriction"]


async def test_the_tasks_are_listed_and_marked_done(
    admin: Client, sessionmaker: SessionMaker, make_token: TokenFactory
) -> None:
    contact_id = await two_recipients(admin)
    await admin.post(f"/api/v1/contacts/{contact_id}/restriction", json={"reason": "Contested"})
    listed = await admin.get("/api/v1/recipient-notifications?open=true")
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["total"] == 2
    first = body["items"][0]
    assert first["cause"] == "restriction" and first["contact_id"] == contact_id

    url = f"/api/v1/recipient-notifications/{first['id']}/done"
    marketer = {"Authorization": f"Bearer {await make_token(Role.MARKETER)}"}
    assert (await admin.get("/api/v1/recipient-notifications", headers=marketer)).status_code == 403
    assert (await admin.post(url, json={}, headers=marketer)).status_code == 403

    done = await admin.post(url, json={"note": "Told by email to their HR"})
    assert done.status_code == 200, done.text
    assert done.json()["done_at"] and done.json()["note"] == "Told by email to their HR"
    again = await admin.post(url)
    assert again.status_code == 409 and again.json()["reason"] == "already_done"
    assert (await admin.post("/api/v1/recipient-notifications/99999/done")).status_code == 404
    other = f"/api/v1/recipient-notifications/{body['items'][1]['id']}/done"
    for bad in ({"note": ""}, {"note": "x" * 2001}, {"nope": 1}, [1]):
        assert (await admin.post(other, json=bad)).status_code in (400, 422)
    assert (await admin.get("/api/v1/recipient-notifications?open=true")).json()["total"] == 1
    closed = (await admin.get("/api/v1/recipient-notifications?open=false")).json()
    assert [item["id"] for item in closed["items"]] == [first["id"]]
    assert (await admin.get("/api/v1/recipient-notifications?open=maybe")).status_code in (400, 422)
    assert (await admin.get("/api/v1/recipient-notifications?limit=0")).status_code in (400, 422)
    assert len(await audited(sessionmaker, "recipient_notification.done")) >= 1
    assert len(await audited(sessionmaker, "recipient_notification.list")) >= 1


# -- GDPR 18(3) ----------------------------------------------------------------------


def lift_mail(sink: PickySink, to: str) -> EmailMessage:
    [message] = [message for recipient, message in sink.accepted if recipient == to]
    return message


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("fi", "poistamme rajoituksen"),
        ("sv", "häver begränsningen"),
        ("en", "lifting the restriction"),
    ],
)
async def test_lifting_mails_the_person_first_in_their_language(
    admin: Client, sessionmaker: SessionMaker, sink: PickySink, language: str, words: str
) -> None:
    address = f"restricted-{language}@example.fi"
    contact_id = await add_contact(admin, email=address, language=language)
    url = f"/api/v1/contacts/{contact_id}/restriction"
    assert (await admin.post(url, json={"reason": "Contested"})).status_code == 200
    lifted = await admin.request("DELETE", url, json={"note": "Checked"})
    assert lifted.status_code == 200, lifted.text
    body = lifted.json()
    assert body["restricted"] is False and body["person_informed_how"] == "email"
    assert body["person_informed_at"]
    text, html = parts(lift_mail(sink, address))
    for part in (text, html):
        assert words in part and PRIVACY in part and CONTROLLER in part
    async with sessionmaker() as session:
        [row] = (await session.exec(select(Restriction))).all()
        assert row.lifted_at is not None and row.person_informed_at is not None
        assert row.person_informed_how == "email"
    history = (await admin.get(f"/api/v1/contacts/{contact_id}/export")).json()["restrictions"]
    assert history[0]["person_informed_how"] == "email"


async def test_no_address_needs_informed_how(
    admin: Client, sessionmaker: SessionMaker, sink: PickySink
) -> None:
    contact_id = await add_contact(admin, email=None, phone="0401234567")
    url = f"/api/v1/contacts/{contact_id}/restriction"
    assert (await admin.post(url, json={"reason": "Contested"})).status_code == 200
    refused = await admin.request("DELETE", url, json={"note": "Checked"})
    assert refused.status_code == 409, refused.text
    assert refused.json()["reason"] == "person_not_informed"
    assert "informed_how" in refused.json()["detail"]
    assert (await admin.get(f"/api/v1/contacts/{contact_id}")).json()["restricted"] is True
    for bad in ({"informed_how": ""}, {"informed_how": "x" * 201}, {"informed_how": 5}):
        assert (await admin.request("DELETE", url, json=bad)).status_code in (400, 422)
    lifted = await admin.request("DELETE", url, json={"informed_how": "letter"})
    assert lifted.status_code == 200, lifted.text
    assert lifted.json()["person_informed_how"] == "letter"
    assert sink.accepted == []


async def test_a_notice_the_relay_refuses_lifts_nothing(
    admin: Client, sessionmaker: SessionMaker, sink: PickySink
) -> None:
    contact_id = await add_contact(admin, email="gone@example.fi")
    url = f"/api/v1/contacts/{contact_id}/restriction"
    assert (await admin.post(url, json={"reason": "Contested"})).status_code == 200
    refused = await admin.request("DELETE", url, json={"note": "Checked"})
    assert refused.status_code == 409, refused.text
    assert refused.json()["reason"] == "person_not_informed"
    assert "gone@" not in refused.text  # the relay's words may quote the address
    assert (await admin.get(f"/api/v1/contacts/{contact_id}")).json()["restricted"] is True
    async with sessionmaker() as session:
        [row] = (await session.exec(select(Restriction))).all()
        assert row.lifted_at is None and row.person_informed_at is None
