"""What the API writes into the audit trail: changes with their transaction,
reads of a person's data, and refused tokens and permissions on their own."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import select, text
from sqlmodel import col

from service.db import SessionMaker, run
from service.models import Contact, User
from service.models.audit import AuditActor
from service.models.enums import Role
from tests.conftest import TokenFactory
from tests.integration.audit.support import (
    Client,
    as_role,
    auth,
    check,
    ready_call_list,
    trail,
    trail_text,
)
from tests.integration.rights.support import GRANT_EMAIL
from tests.support.factories import add_contact, contact_payload

CONTACT_ROUTE = "/api/v1/contacts/{contact_id}"


async def _user_id(sessionmaker: SessionMaker, role: Role) -> int:
    async with sessionmaker() as session:
        query = select(User.id).where(col(User.role) == role)
        return int((await run(session, query)).scalars().one())


async def test_a_change_is_recorded_with_who_what_and_which_contact(
    admin: Client, sessionmaker: SessionMaker
) -> None:
    contact_id = await add_contact(admin)
    response = await admin.patch(f"/api/v1/contacts/{contact_id}", json={"city": "Vaasa"})
    assert response.status_code == 200, response.text
    grant = await admin.post(f"/api/v1/contacts/{contact_id}/consents", json=GRANT_EMAIL)
    assert grant.status_code == 201, grant.text

    created, updated, consented = await trail(sessionmaker)
    admin_id = await _user_id(sessionmaker, Role.ADMIN)
    assert (created.action, created.method, created.route) == (
        "contact.create",
        "POST",
        "/api/v1/contacts",
    )
    assert (created.contact_id, created.status_code) == (contact_id, 201)
    assert (created.actor, created.actor_user_id) == (AuditActor.STAFF, admin_id)
    assert (updated.action, updated.route, updated.contact_id) == (
        "contact.update",
        CONTACT_ROUTE,
        contact_id,
    )
    assert (consented.action, consented.contact_id) == ("consent.record", contact_id)
    assert "Vaasa" not in await trail_text(sessionmaker)
    assert (await check(sessionmaker)).events == 3


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/contacts", {"full_name": ""}),  # invalid: 400
        ("POST", "/api/v1/contacts", contact_payload()),  # the email is taken: 409
        ("PATCH", "/api/v1/contacts/999999", {"city": "Oulu"}),  # no such contact: 404
        ("GET", "/api/v1/contacts/999999", None),
    ],
    ids=["invalid", "conflict", "missing", "missing-read"],
)
async def test_a_failed_request_records_nothing(
    admin: Client, sessionmaker: SessionMaker, method: str, path: str, body: object
) -> None:
    await add_contact(admin)
    before = len(await trail(sessionmaker))
    response = await admin.request(method, path, json=body)
    assert 400 <= response.status_code < 500, response.text
    assert len(await trail(sessionmaker)) == before


@pytest.fixture
async def failing_audit_insert(sessionmaker: SessionMaker) -> AsyncIterator[None]:
    """Every INSERT into audit_events fails while the test runs."""
    async with sessionmaker() as session:
        dialect = session.get_bind().dialect.name
    statements = (
        [
            "CREATE FUNCTION audit_test_fail() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'audit down'; END $$",
            "CREATE TRIGGER audit_test_fail BEFORE INSERT ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION audit_test_fail()",
        ]
        if dialect == "postgresql"
        else [
            "CREATE TRIGGER audit_test_fail BEFORE INSERT ON audit_events "
            "BEGIN SELECT RAISE(ABORT, 'audit down'); END"
        ]
    )
    drops = (
        ["DROP TRIGGER audit_test_fail ON audit_events", "DROP FUNCTION audit_test_fail()"]
        if dialect == "postgresql"
        else ["DROP TRIGGER audit_test_fail"]
    )
    async with sessionmaker() as session:
        for statement in statements:
            await session.exec(text(statement))  # type: ignore[call-overload]
        await session.commit()
    try:
        yield
    finally:
        async with sessionmaker() as session:
            for statement in drops:
                await session.exec(text(statement))  # type: ignore[call-overload]
            await session.commit()


async def test_a_change_whose_audit_row_cannot_be_written_is_not_made(
    admin: Client, sessionmaker: SessionMaker, failing_audit_insert: None
) -> None:
    response = await admin.post("/api/v1/contacts", json=contact_payload())
    assert response.status_code >= 400, response.text
    async with sessionmaker() as session:
        assert (await run(session, select(Contact.id))).all() == []
    assert await trail(sessionmaker) == []


async def test_reads_of_a_person_are_recorded(
    admin: Client, sessionmaker: SessionMaker, make_token: TokenFactory
) -> None:
    contact_id = await add_contact(admin)
    other = await add_contact(admin, email="other@example.fi", full_name="Other Person")
    base = f"/api/v1/contacts/{contact_id}"
    for path in ("", "/consents", "/bans", "/eligibility", "/export", "/export.zip"):
        response = await admin.get(base + path)
        assert response.status_code == 200, (path, response.text)
    caller = await as_role(make_token, Role.CALLER)
    campaign_id, list_id = await ready_call_list(admin, {}, sessionmaker, [contact_id, other])
    download = await admin.get(f"/api/v1/campaigns/{campaign_id}/call-list.csv", headers=caller)
    assert download.status_code == 200, download.text
    # Not a person's data: not recorded.
    assert (await admin.get("/api/v1/campaigns")).status_code == 200

    events = (await trail(sessionmaker))[2:]  # after the two creations
    reads = [(e.action, e.contact_id) for e in events]
    assert reads == [
        ("contact.read", contact_id),
        ("consent.read", contact_id),
        ("ban.read", contact_id),
        ("eligibility.read", contact_id),
        ("contact.export", contact_id),
        ("contact.export", contact_id),
        ("campaign.create", None),
        ("call_list.download", None),
    ]
    assert [e.details.get("kind") for e in events[4:6]] == ["access", "portability"]
    assert events[5].route == "/api/v1/contacts/{contact_id}/export.zip"
    csv_event = events[-1]
    assert csv_event.details == {"campaign_id": campaign_id, "call_list_id": list_id, "entries": 2}
    assert csv_event.actor_user_id == await _user_id(sessionmaker, Role.CALLER)
    assert (await check(sessionmaker)).intact


async def test_a_contact_search_keeps_its_shape_never_its_text(
    admin: Client, sessionmaker: SessionMaker
) -> None:
    contact_id = await add_contact(admin, full_name="Salainen Hakusana")
    await add_contact(admin, email="second@example.fi", full_name="Toinen Henkilö")
    one = await admin.get("/api/v1/contacts", params={"q": "Salainen Haku", "limit": 10})
    by_email = await admin.get("/api/v1/contacts", params={"email": "second@example.fi"})
    many = await admin.get("/api/v1/contacts")
    assert one.json()["total"] == 1 and by_email.json()["total"] == 1
    assert many.json()["total"] == 2

    searched_one, searched_email, listed = (await trail(sessionmaker))[2:]
    assert searched_one.action == "contact.list"
    assert searched_one.details == {"filters": ["q"], "limit": 10, "offset": 0, "returned": 1}
    assert searched_one.contact_id == contact_id  # a page of one is a read of that person
    assert searched_email.details["filters"] == ["email"]
    assert (listed.contact_id, listed.details["returned"]) == (None, 2)
    everything = await trail_text(sessionmaker)
    for secret in ("Salainen", "Haku", "second@example.fi", "second", "Toinen"):
        assert secret not in everything


async def test_a_permission_denial_is_recorded_though_the_request_fails(
    client: Client, sessionmaker: SessionMaker, make_token: TokenFactory
) -> None:
    viewer = await as_role(make_token, Role.VIEWER)
    response = await client.post("/api/v1/contacts", json=contact_payload(), headers=viewer)
    assert response.status_code == 403
    denied = await client.delete("/api/v1/contacts/7", headers=viewer)
    assert denied.status_code == 403

    create, erase = await trail(sessionmaker)
    viewer_id = await _user_id(sessionmaker, Role.VIEWER)
    assert (create.action, create.actor, create.actor_user_id) == (
        "permission.denied",
        AuditActor.STAFF,
        viewer_id,
    )
    assert (create.status_code, create.details) == (403, {"permission": "contacts:write"})
    assert (erase.route, erase.contact_id) == (CONTACT_ROUTE, 7)
    assert erase.details == {"permission": "rights:manage"}
    assert "maija" not in (await trail_text(sessionmaker)).lower()  # the body stays out


async def test_a_refused_token_is_recorded_without_the_token(
    client: Client, sessionmaker: SessionMaker
) -> None:
    bogus = "cst_" + "x" * 43
    response = await client.get("/api/v1/contacts/3/export", headers=auth(bogus))
    assert response.status_code == 401
    # No token at all is no attempt to authenticate: not recorded.
    assert (await client.get("/api/v1/contacts")).status_code == 401

    [failure] = await trail(sessionmaker)
    assert (failure.action, failure.actor, failure.actor_user_id) == (
        "auth.failure",
        AuditActor.PUBLIC,
        None,
    )
    assert (failure.status_code, failure.contact_id) == (401, 3)
    assert failure.route == "/api/v1/contacts/{contact_id}/export"
    assert "x" * 10 not in await trail_text(sessionmaker)


async def test_the_network_is_kept_not_the_address(
    app: Litestar, client: Client, sessionmaker: SessionMaker, make_token: TokenFactory
) -> None:
    # The test client always says "testclient"; a transport can say where from.
    headers = await as_role(make_token, Role.VIEWER)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.77", 50123))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as remote:
        assert (await remote.get("/api/v1/contacts/1", headers=headers)).status_code == 404
        assert (await remote.delete("/api/v1/contacts/1", headers=headers)).status_code == 403
    [denial] = await trail(sessionmaker)
    assert denial.ip_network == "203.0.113.0/24"
    assert "203.0.113.77" not in await trail_text(sessionmaker)


async def test_a_route_that_commits_part_way_records_its_change_once(
    admin: Client, sessionmaker: SessionMaker
) -> None:
    # Sending commits the status change before queueing the job: the audit
    # row must be in that commit, and not written a second time at the end.
    draft = {"name": "Spring", "channel": "email", "subject": "S", "body_html": "<p>S</p>"}
    created = await admin.post("/api/v1/campaigns", json=draft | {"body_text": "S"})
    assert created.status_code == 201, created.text
    campaign_id = created.json()["id"]
    sent = await admin.post(f"/api/v1/campaigns/{campaign_id}/send")
    assert sent.status_code == 202, sent.text
    events = await trail(sessionmaker)
    assert [(e.action, e.details) for e in events] == [
        ("campaign.create", {}),
        ("campaign.send", {"campaign_id": campaign_id}),
    ]
