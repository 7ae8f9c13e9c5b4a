"""Authentication and authorisation of the /api routes, and the staff-user service.

The route tables are read from the running app (its OpenAPI schema and its route
handlers), so a new route is covered the moment it exists.
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlmodel import select

from service.auth import service as auth_service
from service.auth.permissions import ROLE_PERMISSIONS, Permission
from service.db import SessionMaker, session_scope
from service.errors import Conflict, InvalidInput
from service.models import ApiToken, User
from service.models.base import utcnow
from service.models.enums import Role
from tests.conftest import TokenFactory
from tests.support.factories import PASSWORD

Client = AsyncTestClient[Litestar]
Operation = tuple[str, str]  # (METHOD, OpenAPI path template)
MIN_API_OPERATIONS = 8
HTTP_METHODS = {"get", "post", "put", "patch", "delete"}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
PATH_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")


async def api_operations(client: Client) -> list[Operation]:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200, response.text
    operations = [
        (method.upper(), path)
        for path, item in response.json()["paths"].items()
        if path.startswith("/api/")
        for method in item
        if method in HTTP_METHODS
    ]
    assert len(operations) >= MIN_API_OPERATIONS, operations  # never passes vacuously
    return operations


async def call(client: Client, operation: Operation, headers: dict[str, str]) -> Any:
    method, template = operation
    body: dict[str, Any] | None = {} if method in WRITE_METHODS else None
    return await client.request(method, PATH_PARAM.sub("1", template), headers=headers, json=body)


def guard_permissions(app: Litestar) -> dict[Operation, list[Permission]]:
    """The ``requires`` permissions of every /api handler, by (METHOD, OpenAPI path).

    Guards from every layer (router, controller, handler) count; Litestar wraps
    them in an ``AsyncCallable`` whose ``func`` is the guard itself."""
    table: dict[Operation, list[Permission]] = {}
    for route in app.routes:
        if not route.path.startswith("/api/"):
            continue
        template = PATH_PARAM.sub(r"{\1}", route.path)
        for handler in getattr(route, "route_handlers", []):
            if handler.http_methods == {"OPTIONS"} and handler.handler_name == "options_handler":
                continue  # Litestar's automatic CORS pre-flight answer: no data, no handler code
            guards = [getattr(guard, "func", guard) for guard in handler.resolve_guards()]
            permissions = [g.permission for g in guards if hasattr(g, "permission")]
            for method in handler.http_methods:
                table[(method, template)] = permissions
    return table


def assert_error(response: Any, status_code: int) -> None:
    assert response.status_code == status_code, response.text
    body = response.json()
    assert body["status_code"] == status_code
    assert isinstance(body["detail"], str)
    assert body["detail"]
    if status_code == 401:
        # RFC 9110 §11.6.1: a 401 names the scheme it wants.
        assert response.headers["www-authenticate"].startswith("Bearer")


# --- 1. no valid credentials: 401 everywhere ----------------------------------------------


async def _stamp(sessionmaker: SessionMaker, token: str, column: str, value: Any) -> None:
    """Set a column of the token's row, or of its user's row (``users.<column>``)."""
    async with session_scope(sessionmaker) as db:
        statement = select(ApiToken).where(ApiToken.token_hash == auth_service.hash_token(token))
        row: Any = (await db.exec(statement)).one()
        if column.startswith("users."):
            row = await db.get(User, row.user_id)
        setattr(row, column.removeprefix("users."), value)
        db.add(row)


@pytest.mark.parametrize(
    "authorization",
    [None, "Token x", "Bearer", "Bearer ", "bearer    ", "Bearer cst_nope", "Bearer nope"],
    ids=["missing", "other-scheme", "scheme-only", "empty", "blank", "unknown", "unprefixed"],
)
async def test_every_api_route_needs_a_bearer_token(
    client: Client, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    for operation in await api_operations(client):
        assert_error(await call(client, operation, headers), 401)


@pytest.mark.parametrize(
    ("column", "offset"),
    [
        ("revoked_at", timedelta(0)),
        ("expires_at", -timedelta(seconds=1)),
        ("users.disabled_at", timedelta(0)),
    ],
    ids=["revoked", "expired", "disabled-user"],
)
async def test_every_api_route_refuses_a_dead_token(
    client: Client,
    make_token: TokenFactory,
    sessionmaker: SessionMaker,
    column: str,
    offset: timedelta,
) -> None:
    token = await make_token(Role.ADMIN)
    headers = {"Authorization": f"Bearer {token}"}
    operations = await api_operations(client)
    response = await client.get("/api/v1/contacts", headers=headers)
    assert response.status_code == 200, response.text  # the token worked until now
    await _stamp(sessionmaker, token, column, utcnow() + offset)
    unknown = await client.get("/api/v1/contacts", headers={"Authorization": "Bearer cst_nope"})
    for operation in operations:
        response = await call(client, operation, headers)
        assert_error(response, 401)
        # The same answer as for a token that never existed: no oracle for which tokens did.
        assert response.json() == unknown.json()


@pytest.mark.parametrize(
    "path", ["/api/v1/contacts/", "/api/v1//contacts", "/api/v1/contacts/%31", "/api/v1/./contacts"]
)
async def test_path_spellings_do_not_bypass_authentication(client: Client, path: str) -> None:
    response = await client.get(path)
    assert response.status_code in {401, 404}, response.text


async def test_a_token_expiring_later_still_works(
    client: Client, make_token: TokenFactory, sessionmaker: SessionMaker
) -> None:
    token = await make_token(Role.VIEWER)
    await _stamp(sessionmaker, token, "expires_at", utcnow() + timedelta(hours=1))
    response = await client.get("/api/v1/contacts", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text


# --- 2. route by role ----------------------------------------------------------------------


async def test_every_api_route_declares_exactly_one_permission(app: Litestar) -> None:
    table = guard_permissions(app)
    assert len(table) >= MIN_API_OPERATIONS
    unguarded = {op: perms for op, perms in table.items() if len(perms) != 1}
    assert not unguarded, f"routes without exactly one `requires` guard: {unguarded}"


async def test_the_schema_lists_every_guarded_route(client: Client, app: Litestar) -> None:
    assert set(await api_operations(client)) == set(guard_permissions(app))


@pytest.mark.parametrize("role", list(Role))
async def test_route_by_role(
    client: Client, app: Litestar, make_token: TokenFactory, role: Role
) -> None:
    # Routes are called with id 1: let that be someone else's token, so that
    # revoking it does not lock this test out halfway.
    await make_token(Role.VIEWER)
    headers = {"Authorization": f"Bearer {await make_token(role)}"}
    table = guard_permissions(app)
    granted = ROLE_PERMISSIONS[role]
    for operation in await api_operations(client):
        (permission,) = table[operation]
        response = await call(client, operation, headers)
        if permission in granted:
            assert response.status_code not in {401, 403}, (operation, response.text)
            assert response.status_code < 500, (operation, response.text)
        else:
            assert_error(response, 403)
            assert permission in response.json()["detail"]


# --- 3. the stored token ------------------------------------------------------------------


async def _token_row(sessionmaker: SessionMaker, token: str) -> ApiToken:
    async with sessionmaker() as db:
        statement = select(ApiToken).where(ApiToken.token_hash == auth_service.hash_token(token))
        return (await db.exec(statement)).one()


async def test_last_used_at_is_recorded_on_use(
    client: Client, make_token: TokenFactory, sessionmaker: SessionMaker
) -> None:
    token = await make_token(Role.VIEWER)
    assert (await _token_row(sessionmaker, token)).last_used_at is None
    before = utcnow()
    response = await client.get("/api/v1/contacts", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    used = (await _token_row(sessionmaker, token)).last_used_at
    assert used is not None
    assert before <= used <= utcnow()

    # Older than the recording resolution: refreshed on the next use.
    stale = utcnow() - auth_service.LAST_USED_RESOLUTION - timedelta(seconds=5)
    await _stamp(sessionmaker, token, "last_used_at", stale)
    await client.get("/api/v1/contacts", headers={"Authorization": f"Bearer {token}"})
    refreshed = (await _token_row(sessionmaker, token)).last_used_at
    assert refreshed is not None
    assert refreshed > stale + auth_service.LAST_USED_RESOLUTION


async def test_only_the_sha256_of_a_token_is_stored(
    make_token: TokenFactory, sessionmaker: SessionMaker
) -> None:
    token = await make_token(Role.ADMIN)
    assert token.startswith(auth_service.TOKEN_PREFIX)
    row = await _token_row(sessionmaker, token)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    async with sessionmaker() as db:
        raw_rows = (await db.exec(text("SELECT * FROM api_tokens"))).all()  # type: ignore[call-overload]
    assert len(raw_rows) == 1
    stored = " ".join(str(value) for value in raw_rows[0])
    secret = token.removeprefix(auth_service.TOKEN_PREFIX)
    assert secret not in stored


# --- 4. creating users --------------------------------------------------------------------


async def test_create_user_stores_an_argon2id_hash(sessionmaker: SessionMaker) -> None:
    async with session_scope(sessionmaker) as db:
        user = await auth_service.create_user(
            db, email=" Ada@Example.FI ", role=Role.MARKETER, password=PASSWORD
        )
    async with sessionmaker() as db:
        stored = await db.get(User, user.id)
    assert stored is not None
    assert stored.email == "ada@example.fi"
    assert stored.password_hash.startswith("$argon2id$")
    assert PASSWORD not in stored.password_hash
    assert PasswordHasher().verify(stored.password_hash, PASSWORD)


@pytest.mark.parametrize("password", ["", "short", "x" * (auth_service.MIN_PASSWORD_LENGTH - 1)])
async def test_create_user_rejects_a_short_password(
    sessionmaker: SessionMaker, password: str
) -> None:
    async with sessionmaker() as db:
        with pytest.raises(InvalidInput) as caught:
            await auth_service.create_user(
                db, email="ada@example.fi", role=Role.VIEWER, password=password
            )
        assert "password" in caught.value.fields
        assert (await db.exec(select(User))).all() == []


@pytest.mark.parametrize("email", ["ada@example.fi", "ADA@example.fi", " ada@EXAMPLE.fi"])
async def test_create_user_rejects_a_duplicate_email(
    sessionmaker: SessionMaker, email: str
) -> None:
    async with session_scope(sessionmaker) as db:
        await auth_service.create_user(
            db, email="ada@example.fi", role=Role.VIEWER, password=PASSWORD
        )
    async with sessionmaker() as db:
        with pytest.raises(Conflict) as caught:
            await auth_service.create_user(db, email=email, role=Role.ADMIN, password=PASSWORD)
        assert caught.value.reason == "user_exists"
