"""API tokens: scope, revocation, expiry, last use, and the token never shown twice."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlmodel import col, select

from service import clock
from service.auth import service as auth_service
from service.db import SessionMaker, session_scope
from service.models import ApiToken, User
from service.models.audit import AuditEvent
from service.models.enums import Role
from tests.conftest import TokenFactory
from tests.support.clock import FrozenClock
from tests.support.factories import add_staff, contact_payload

Client = AsyncTestClient[Litestar]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def issue(client: Client, admin_token: str, **body: Any) -> Any:
    return await client.post("/api/v1/tokens", json=body, headers=bearer(admin_token))


async def token_row(sessionmaker: SessionMaker, token_id: int) -> ApiToken:
    async with sessionmaker() as db:
        row = await db.get(ApiToken, token_id)
        assert row is not None
        return row


async def test_a_viewer_scoped_admin_token_reads_but_cannot_write(
    client: Client, make_token: TokenFactory
) -> None:
    root = await make_token(Role.ADMIN)
    user_id = (await client.get("/api/v1/me/tokens", headers=bearer(root))).json()[0]["user_id"]
    created = await issue(client, root, user_id=user_id, name="stats script", scope="viewer")
    assert created.status_code == 201, created.text
    scoped = created.json()["token"]
    assert created.json()["scope"] == "viewer"

    assert (await client.get("/api/v1/contacts", headers=bearer(scoped))).status_code == 200
    write = await client.post("/api/v1/contacts", json=contact_payload(), headers=bearer(scoped))
    assert write.status_code == 403, write.text
    assert "contacts:write" in write.json()["detail"]
    # The same admin's unscoped token still writes.
    full = await client.post("/api/v1/contacts", json=contact_payload(), headers=bearer(root))
    assert full.status_code == 201, full.text
    # Nor can the scoped token manage tokens, though its user could.
    assert (await client.get("/api/v1/tokens", headers=bearer(scoped))).status_code == 403


@pytest.mark.parametrize(
    ("role", "scope"),
    [(Role.VIEWER, "admin"), (Role.CALLER, "viewer"), (Role.PRIVACY_OFFICER, "marketer")],
)
async def test_a_scope_beyond_the_users_role_is_refused(
    client: Client, sessionmaker: SessionMaker, make_token: TokenFactory, role: Role, scope: str
) -> None:
    root = await make_token(Role.ADMIN)
    user_id = (await add_staff(sessionmaker, role=role, email="someone@example.fi")).id
    response = await issue(client, root, user_id=user_id, name="x", scope=scope)
    assert response.status_code == 422, response.text
    assert "scope" in response.json()["fields"]
    async with sessionmaker() as db:
        rows = (await db.exec(select(ApiToken).where(ApiToken.user_id == user_id))).all()
    assert rows == []


@pytest.mark.parametrize(
    "body",
    [
        {"name": ""},
        {"name": "x" * 101},
        {"name": "ok", "expires_in_days": 0},
        {"name": "ok", "scope": "root"},
        {"name": "ok", "token": "cst_mine"},
    ],
    ids=["empty-name", "long-name", "zero-days", "unknown-scope", "extra-field"],
)
async def test_bad_token_requests_are_refused(
    client: Client, sessionmaker: SessionMaker, make_token: TokenFactory, body: dict[str, Any]
) -> None:
    root = await make_token(Role.ADMIN)
    user_id = (await add_staff(sessionmaker, role=Role.VIEWER, email="v@example.fi")).id
    response = await issue(client, root, user_id=user_id, **body)
    assert response.status_code in {400, 422}, response.text
    async with sessionmaker() as db:
        assert (await db.exec(select(ApiToken).where(ApiToken.user_id == user_id))).all() == []


async def test_an_unknown_user_is_404(client: Client, make_token: TokenFactory) -> None:
    root = await make_token(Role.ADMIN)
    response = await issue(client, root, user_id=999_999, name="x")
    assert response.status_code == 404, response.text


async def test_a_revoked_token_is_refused_and_the_refusal_audited(
    client: Client, sessionmaker: SessionMaker, make_token: TokenFactory
) -> None:
    root = await make_token(Role.ADMIN)
    user_id = (await add_staff(sessionmaker, role=Role.VIEWER, email="v@example.fi")).id
    created = (await issue(client, root, user_id=user_id, name="script")).json()
    token, token_id = created["token"], created["id"]
    assert (await client.get("/api/v1/contacts", headers=bearer(token))).status_code == 200

    revoked = await client.delete(f"/api/v1/tokens/{token_id}", headers=bearer(root))
    assert revoked.status_code == 204, revoked.text
    again = await client.delete(f"/api/v1/tokens/{token_id}", headers=bearer(root))
    assert again.status_code == 409, again.text
    assert again.json()["reason"] == "token_revoked"

    refused = await client.get("/api/v1/contacts", headers=bearer(token))
    assert refused.status_code == 401, refused.text
    row = await token_row(sessionmaker, token_id)
    assert row.revoked_at is not None
    root_id = (await client.get("/api/v1/me/tokens", headers=bearer(root))).json()[0]["user_id"]
    assert row.revoked_by_user_id == root_id

    async with sessionmaker() as db:
        events = (await db.exec(select(AuditEvent).order_by(col(AuditEvent.id)))).all()
    actions = [event.action for event in events]
    assert "token.delete" in actions
    assert actions[-1] == "auth.failure", actions
    assert events[-1].route == "/api/v1/contacts"


async def test_an_expired_token_is_refused(
    client: Client, sessionmaker: SessionMaker, make_token: TokenFactory, frozen_clock: FrozenClock
) -> None:
    root = await make_token(Role.ADMIN)
    user_id = (await add_staff(sessionmaker, role=Role.VIEWER, email="v@example.fi")).id
    created = (await issue(client, root, user_id=user_id, name="s", expires_in_days=2)).json()
    token = created["token"]
    expires_at = datetime.fromisoformat(created["expires_at"])
    assert (await client.get("/api/v1/contacts", headers=bearer(token))).status_code == 200

    frozen_clock.set(expires_at + timedelta(seconds=1))
    assert (await client.get("/api/v1/contacts", headers=bearer(token))).status_code == 401
    assert (await client.get("/api/v1/contacts", headers=bearer(root))).status_code == 200


async def test_last_used_at_is_written_at_most_once_per_resolution(
    client: Client, sessionmaker: SessionMaker, make_token: TokenFactory, frozen_clock: FrozenClock
) -> None:
    root = await make_token(Role.ADMIN)
    user_id = (await add_staff(sessionmaker, role=Role.VIEWER, email="v@example.fi")).id
    created = (await issue(client, root, user_id=user_id, name="s")).json()
    token, token_id = created["token"], created["id"]
    assert created["last_used_at"] is None

    start = frozen_clock.now
    await client.get("/api/v1/contacts", headers=bearer(token))
    assert (await token_row(sessionmaker, token_id)).last_used_at == start

    frozen_clock.set(start + auth_service.LAST_USED_RESOLUTION / 2)
    await client.get("/api/v1/contacts", headers=bearer(token))
    assert (await token_row(sessionmaker, token_id)).last_used_at == start  # not rewritten

    later = frozen_clock.set(start + auth_service.LAST_USED_RESOLUTION + timedelta(seconds=1))
    await client.get("/api/v1/contacts", headers=bearer(token))
    assert (await token_row(sessionmaker, token_id)).last_used_at == later


async def test_staff_see_and_revoke_only_their_own_tokens(
    client: Client, sessionmaker: SessionMaker, make_token: TokenFactory
) -> None:
    root = await make_token(Role.ADMIN)
    caller_id = (await add_staff(sessionmaker, role=Role.CALLER, email="c@example.fi")).id
    viewer_id = (await add_staff(sessionmaker, role=Role.VIEWER, email="v@example.fi")).id
    mine = (await issue(client, root, user_id=caller_id, name="mine")).json()
    spare = (await issue(client, root, user_id=caller_id, name="spare")).json()
    theirs = (await issue(client, root, user_id=viewer_id, name="theirs")).json()

    listed = await client.get("/api/v1/me/tokens", headers=bearer(mine["token"]))
    assert listed.status_code == 200, listed.text
    assert {row["name"] for row in listed.json()} == {"mine", "spare"}

    other = await client.delete(f"/api/v1/me/tokens/{theirs['id']}", headers=bearer(mine["token"]))
    assert other.status_code == 404, other.text
    assert (await token_row(sessionmaker, theirs["id"])).revoked_at is None

    own = await client.delete(f"/api/v1/me/tokens/{spare['id']}", headers=bearer(mine["token"]))
    assert own.status_code == 204, own.text
    assert (await client.get("/api/v1/contacts", headers=bearer(spare["token"]))).status_code == 401
    # A caller may not list everyone's tokens.
    assert (await client.get("/api/v1/tokens", headers=bearer(mine["token"]))).status_code == 403


async def test_the_token_is_shown_once_and_stored_only_as_its_hash(
    client: Client, sessionmaker: SessionMaker, make_token: TokenFactory
) -> None:
    root = await make_token(Role.ADMIN)
    user_id = (await add_staff(sessionmaker, role=Role.MARKETER, email="m@example.fi")).id
    created = (await issue(client, root, user_id=user_id, name="s", scope="viewer")).json()
    token = created["token"]
    secret = token.removeprefix(auth_service.TOKEN_PREFIX)
    await client.get("/api/v1/contacts", headers=bearer(token))

    everyone = await client.get("/api/v1/tokens", headers=bearer(root))
    assert everyone.status_code == 200, everyone.text
    listed = next(row for row in everyone.json() if row["id"] == created["id"])
    assert listed["user_email"] == "m@example.fi"
    assert listed["scope"] == "viewer"
    assert listed["last_used_at"] is not None
    own = await client.get("/api/v1/me/tokens", headers=bearer(token))
    hashed = auth_service.hash_token(token)
    for body in (everyone.text, own.text):
        assert secret not in body
        assert hashed not in body
        assert "token_hash" not in body
    assert all("token" not in row for row in everyone.json())

    async with sessionmaker() as db:
        stored = (await db.exec(text("SELECT * FROM api_tokens"))).all()  # type: ignore[call-overload]
        audit = (await db.exec(text("SELECT * FROM audit_events"))).all()  # type: ignore[call-overload]
    dump = " ".join(str(value) for row in [*stored, *audit] for value in row)
    assert hashed in dump
    assert secret not in dump


async def test_a_disabled_users_token_cannot_be_issued(
    client: Client, sessionmaker: SessionMaker, make_token: TokenFactory
) -> None:
    root = await make_token(Role.ADMIN)
    user_id = (await add_staff(sessionmaker, role=Role.VIEWER, email="v@example.fi")).id
    async with session_scope(sessionmaker) as db:
        user = await db.get(User, user_id)
        assert user is not None
        user.disabled_at = clock.now()
        db.add(user)
    response = await issue(client, root, user_id=user_id, name="s")
    assert response.status_code == 422, response.text
