"""Security headers on every answer, body-size limits, and CORS (none by default)."""

from __future__ import annotations

import dataclasses

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.settings import Settings

COMMON = {"x-content-type-options": "nosniff", "x-frame-options": "DENY"}


@pytest.mark.parametrize("path", ["/health/live", "/api/v1/contacts", "/p/not-a-token", "/nowhere"])
async def test_every_answer_carries_the_security_headers(
    client: AsyncTestClient[Litestar], path: str
) -> None:
    response = await client.get(path)
    for name, value in COMMON.items():
        assert response.headers[name] == value
    assert response.headers["referrer-policy"] == "no-referrer"
    policies = response.headers.get_list("content-security-policy")
    assert any("frame-ancestors 'none'" in policy for policy in policies)
    assert "strict-transport-security" not in response.headers  # plain-http public URL


async def test_api_answers_are_not_stored_and_allow_nothing(
    admin: AsyncTestClient[Litestar],
) -> None:
    response = await admin.get("/api/v1/contacts")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert (
        response.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    )


async def test_public_pages_keep_their_own_policy(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/p/not-a-token")
    policies = response.headers.get_list("content-security-policy")
    policy = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'"
    assert policy in policies
    assert response.headers["cache-control"] == "no-store"


async def test_hsts_only_behind_https(settings: Settings) -> None:
    app = create_app(dataclasses.replace(settings, public_url="https://crm.example.fi"))
    async with AsyncTestClient(app=app) as client:
        response = await client.get("/health/live")
    assert response.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"


async def test_a_body_over_the_default_limit_is_413_in_our_shape(
    admin: AsyncTestClient[Litestar],
) -> None:
    response = await admin.post(
        "/api/v1/contacts", content=b"x" * 1_000_001, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["status_code"] == 413


async def test_the_import_route_keeps_its_larger_limit(admin: AsyncTestClient[Litestar]) -> None:
    body = b"full_name,email\n" + b"A,a@example.fi\n" * 80_000  # ~1.2 MB
    response = await admin.post(
        "/api/v1/imports/", content=body, headers={"content-type": "text/csv"}
    )
    assert response.status_code != 413


async def test_no_cors_by_default(client: AsyncTestClient[Litestar]) -> None:
    preflight = await client.options(
        "/api/v1/contacts",
        headers={"origin": "https://evil.example", "access-control-request-method": "GET"},
    )
    simple = await client.get("/api/v1/contacts", headers={"origin": "https://evil.example"})
    for response in (preflight, simple):
        assert not [name for name in response.headers if name.startswith("access-control-")]


async def test_cors_only_for_the_configured_origin(settings: Settings) -> None:
    configured = dataclasses.replace(settings, cors_origins=("https://app.example.fi",))
    async with AsyncTestClient(app=create_app(configured)) as client:
        allowed = await client.options(
            "/api/v1/contacts",
            headers={"origin": "https://app.example.fi", "access-control-request-method": "GET"},
        )
        other = await client.get("/api/v1/contacts", headers={"origin": "https://evil.example"})
        public = await client.get("/health/live", headers={"origin": "https://app.example.fi"})
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.fi"
    assert "authorization" in allowed.headers["access-control-allow-headers"]
    assert "access-control-allow-credentials" not in allowed.headers
    for response in (other, public):
        assert not [name for name in response.headers if name.startswith("access-control-")]
