"""No 5xx from bad input, anywhere: every route that takes a body, found by
walking the app's route table (a new route is covered without a change
here), gets malformed, deep and huge JSON and absurd forms; a JSON route
answers 400 or 422 with a message saying what is wrong, every other route at
least something below 500.

SQLite only: the answers come before any query that could tell the two
databases apart."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.json_limits import MAX_DEPTH, nesting_depth
from service.migrate import upgrade
from service.models.enums import Role
from service.settings import Settings, load_settings
from service.tokens import TokenSigner
from tests.conftest import TokenFactory
from tests.support.factories import contact_payload

SITE = "https://www.example.fi"
DEEP = 10_000
NOT_AN_OBJECT = "the body must be a JSON object"
# name → (body, what a JSON route's message must say)
BAD_JSON: dict[str, tuple[bytes, str]] = {
    "empty": (b"", NOT_AN_OBJECT),
    "null": (b"null", NOT_AN_OBJECT),
    "array": (b"[]", NOT_AN_OBJECT),
    "string": (b'"string"', NOT_AN_OBJECT),
    "number": (b"42", NOT_AN_OBJECT),
    "invalid UTF-8": (b'{"full_name": "\xff\xfe"}', "not valid JSON"),
    "truncated": (b'{"full_name": "Maija', "not valid JSON"),
    "huge exponent": (b'{"full_name": 1e999999}', "not valid JSON"),
    "huge integer": (b'{"full_name": ' + b"9" * 5000 + b"}", "not valid JSON"),
    "deep arrays": (b"[" * DEEP + b"]" * DEEP, f"nested deeper than {MAX_DEPTH} levels"),
    "deep objects": (b'{"a":' * DEEP + b"1" + b"}" * DEEP, f"nested deeper than {MAX_DEPTH}"),
    "deep in a field": (
        b'{"full_name": "M", "tags": ' + b"[" * DEEP + b"]" * DEEP + b"}",
        f"nested deeper than {MAX_DEPTH} levels",
    ),
}
# Well-formed but odd: any answer below 500 will do, whatever the route.
ODD_JSON: dict[str, bytes] = {
    "long string": b'{"full_name": "' + b"x" * 300_000 + b'"}',
    "duplicate keys": b'{"full_name": "A", "full_name": "B", "name": "x", "name": 1}',
    "NUL and controls": b'{"full_name": "a\\u0000b\\u2028", "name": "\\u0085"}',
    "lone surrogate": b'{"full_name": "\\ud800", "name": "\\udfff"}',
    "as deep as allowed": b'{"tags": ' + b"[" * (MAX_DEPTH - 1) + b"]" * (MAX_DEPTH - 1) + b"}",
}
ABSURD_FORMS: dict[str, bytes] = {
    "many fields": b"&".join(b"f%d=%d" % (i, i) for i in range(20_000)),
    "bad percent-encoding": b"List-Unsubscribe=%ZZ%&scope=%E2%82&email=%00%ff",
    "raw bytes": b"\xff\xfe\x00=\x00&\x80\x81=\xc3(",
    "long value": b"List-Unsubscribe=" + b"A" * 300_000,
    "repeated keys": b"scope=all&scope=email&scope=tracking&via=page&via=x" * 500,
    "deep JSON": b"[" * DEEP + b"]" * DEEP,
}


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """SQLite only: overrides the conftest's fixture parametrised over both backends."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('bad-input') / Path('bad.db')}"
    upgrade(url)
    return url


@pytest.fixture
def app(settings: Settings, settings_env: dict[str, str], redis_url: str) -> Litestar:
    """Page views on (a site origin set), so the beacon reads its body."""
    environ = {
        **settings_env,
        "CONSENTRY_DATABASE_URL": settings.database_url,
        "CONSENTRY_REDIS_URL": redis_url,
        "CONSENTRY_SITE_ORIGINS": SITE,
    }
    return create_app(load_settings(environ))


def _body_routes(app: Litestar) -> Iterator[tuple[str, str, HTTPRouteHandler]]:
    """(method, path template, handler) for every route that takes a body."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            for method in sorted(handler.http_methods & {"POST", "PUT", "PATCH", "DELETE"}):
                yield method, route.path_format, handler


def _takes_json(handler: HTTPRouteHandler) -> bool:
    data = handler.parsed_fn_signature.parameters.get("data")
    return data is not None and not data.is_optional


async def _path_values(app: Litestar, client: AsyncTestClient[Litestar]) -> dict[str, str]:
    """Path parameters that reach the body: a stored contact's id, a ban of
    theirs, and valid public tokens for it (a forged token is refused before any body is read)."""
    created = await client.post("/api/v1/contacts", json=contact_payload())
    assert created.status_code == 201, created.text
    contact_id = created.json()["id"]
    ban = await client.post(
        f"/api/v1/contacts/{contact_id}/bans",
        json={"kind": "purchase_registration", "source": "self"},
    )
    assert ban.status_code == 201, ban.text
    signer: TokenSigner = app.state.signer
    return {
        "contact_id": str(contact_id),
        "ban_id": str(ban.json()["id"]),
        "/u/": signer.sign("unsubscribe", contact_id, 0),
        "/p/": signer.sign("preferences", contact_id),
    }


def _fill(method: str, template: str, values: dict[str, str]) -> str:
    """The route's path with values that reach its body. Other ids name
    nothing (``DELETE /api/v1/tokens/1`` would revoke the test's own token),
    and nothing is deleted (the contact is needed by the routes after)."""

    def value(match: re.Match[str]) -> str:
        if match.group(1) == "token":
            return next((v for k, v in values.items() if k in template), "x")
        return "999999" if method == "DELETE" else values.get(match.group(1), "999999")

    return re.sub(r"\{(\w+)\}", value, template)


async def _send(
    client: AsyncTestClient[Litestar], method: str, path: str, body: bytes, content_type: str
) -> Any:
    headers = {"Content-Type": content_type, "Origin": SITE}
    return await client.request(method, path, content=body, headers=headers)


def test_the_walk_finds_the_json_and_the_public_routes(app: Litestar) -> None:
    routes = {(method, path) for method, path, _ in _body_routes(app)}
    assert ("POST", "/api/v1/contacts") in routes
    assert ("POST", "/t/v") in routes
    assert ("POST", "/u/{token}") in routes
    json_routes = [path for _, path, handler in _body_routes(app) if _takes_json(handler)]
    assert len(json_routes) > 20


def test_the_depth_scan_ignores_brackets_in_strings() -> None:
    assert nesting_depth(b'{"a": [1, {"b": "[[[[{{{{"}]}') == 3
    assert nesting_depth(rb'["a\"[[[", "\\", [[]]]') == 3
    assert nesting_depth(b'["unterminated [[[[[[') == 1
    assert nesting_depth(b"[" * DEEP + b"]" * DEEP) == DEEP


async def test_bad_json_is_a_400_with_a_message_on_every_route(
    app: Litestar, make_token: TokenFactory
) -> None:
    async with AsyncTestClient(app=app) as client:
        client.headers["Authorization"] = f"Bearer {await make_token(Role.ADMIN)}"
        values = await _path_values(app, client)
        problems = []
        for method, template, handler in _body_routes(app):
            path = _fill(method, template, values)
            for name, (body, message) in BAD_JSON.items():
                response = await _send(client, method, path, body, "application/json")
                label = f"{method} {template} ({name}): {response.status_code}"
                if response.status_code >= 500:
                    problems.append(f"{label} {response.text[:200]}")
                elif _takes_json(handler) and (
                    response.status_code not in (400, 422) or message not in response.text
                ):
                    problems.append(f"{label}, not 400/422 saying {message!r}: {response.text}")
            for name, body in ODD_JSON.items():
                response = await _send(client, method, path, body, "application/json")
                if response.status_code >= 500:
                    problems.append(f"{method} {template} ({name}): {response.status_code}")
        assert not problems, "\n".join(problems)


async def test_absurd_forms_never_answer_a_server_error(
    app: Litestar, make_token: TokenFactory
) -> None:
    async with AsyncTestClient(app=app) as client:
        client.headers["Authorization"] = f"Bearer {await make_token(Role.ADMIN)}"
        values = await _path_values(app, client)
        problems = []
        for method, template, _ in _body_routes(app):
            path = _fill(method, template, values)
            for name, body in ABSURD_FORMS.items():
                form = "application/x-www-form-urlencoded"
                response = await _send(client, method, path, body, form)
                if response.status_code >= 500:
                    problems.append(
                        f"{method} {template} ({name}): {response.status_code} {response.text[:99]}"
                    )
        assert not problems, "\n".join(problems)


async def test_the_page_view_beacon_says_what_is_wrong(client: AsyncTestClient[Litestar]) -> None:
    deep = b'{"page": ' + b"[" * 2000 + b"]" * 2000 + b"}"  # under its 4 KB limit
    response = await client.post("/t/v", content=deep, headers={"Origin": SITE})
    assert response.status_code == 400
    assert f"nested deeper than {MAX_DEPTH} levels" in response.json()["detail"]
    response = await client.post("/t/v", content=b"9" * 4090, headers={"Origin": SITE})
    assert response.status_code == 400
    response = await client.post("/t/v", content=b"[]", headers={"Origin": SITE})
    assert response.json()["detail"] == f"not a page view: {NOT_AN_OBJECT}"
    response = await client.post("/t/v", content=b"[" * 5000, headers={"Origin": SITE})
    assert response.status_code == 413
