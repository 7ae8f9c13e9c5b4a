"""``GET /api/v1/contacts`` with the list's filters: tag, language, and what
the consent gate says on a channel (consent state, reason code), the same
filters the web's contact list offers; bad values are a 4xx, never a 5xx."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.db import SessionMaker
from service.models.enums import Role
from tests.conftest import TokenFactory
from tests.integration.audit.support import trail_text
from tests.integration.web.contacts.conftest import audit_rows
from tests.support.factories import add_contact, grant, withdraw

Client = AsyncTestClient[Litestar]


async def _three(admin: Client) -> tuple[int, int, int]:
    """Aino (fi, vip, email consent), Bo (sv, news, nothing), Cecilia (en, withdrew)."""
    aino = await add_contact(admin, full_name="Aino Aalto", email="aino@example.fi", tags=["vip"])
    bo = await add_contact(
        admin, full_name="Bo Berg", email="bo@example.fi", language="sv", tags=["news"]
    )
    cecilia = await add_contact(
        admin, full_name="Cecilia Cruz", email="cecilia@example.fi", language="en"
    )
    await grant(admin, aino)
    await withdraw(admin, cecilia)
    return aino, bo, cecilia


async def _ids(client: Client, query: str) -> list[int]:
    response = await client.get(f"/api/v1/contacts{query}")
    assert response.status_code == 200, (query, response.text)
    body: dict[str, Any] = response.json()
    assert body["total"] == len(body["items"]), query
    return [item["id"] for item in body["items"]]


async def test_the_filters_narrow_the_list(admin: Client) -> None:
    aino, bo, cecilia = await _three(admin)
    cases = {
        "": [aino, bo, cecilia],
        "?tag=vip": [aino],
        "?tag=VIP": [aino],  # tags are stored lower-case
        "?tag=nobody": [],
        "?language=sv": [bo],
        "?consent=granted": [aino],
        "?consent=withdrawn": [cecilia],
        "?consent=none": [bo],
        "?reason=eligible": [aino],
        "?reason=no_consent": [bo],
        "?reason=consent_withdrawn": [cecilia],
        "?channel=phone&reason=no_address": [aino, bo, cecilia],
        "?channel=phone&consent=none": [aino, bo, cecilia],  # consents are per channel
        "?language=fi&consent=none": [],
        "?q=berg&tag=news": [bo],
        "?q=berg&tag=vip": [],
        "?email=AINO@example.fi&reason=eligible": [aino],
        "?email=bo@example.fi&reason=eligible": [],
    }
    for query, expected in cases.items():
        assert await _ids(admin, query) == expected, query


async def test_filters_page_like_the_plain_list(admin: Client) -> None:
    for number in range(5):
        await add_contact(admin, full_name=f"Person {number}", email=None, tags=["many"])
    first = (await admin.get("/api/v1/contacts?tag=many&limit=2")).json()
    last = (await admin.get("/api/v1/contacts?tag=many&limit=2&offset=4")).json()
    assert (first["total"], len(first["items"]), first["limit"], first["offset"]) == (5, 2, 2, 0)
    assert (last["total"], [i["full_name"] for i in last["items"]]) == (5, ["Person 4"])


async def test_a_viewer_may_filter_and_a_caller_may_not(
    admin: Client, make_token: TokenFactory
) -> None:
    aino, _, _ = await _three(admin)
    viewer = {"Authorization": f"Bearer {await make_token(Role.VIEWER)}"}
    caller = {"Authorization": f"Bearer {await make_token(Role.CALLER)}"}
    seen = await admin.get("/api/v1/contacts?reason=eligible", headers=viewer)
    assert [item["id"] for item in seen.json()["items"]] == [aino]
    refused = await admin.get("/api/v1/contacts?reason=eligible", headers=caller)
    assert refused.status_code == 403


async def test_the_trail_names_the_filters_never_their_values(
    admin: Client, sessionmaker: SessionMaker
) -> None:
    aino, _, _ = await _three(admin)
    await _ids(admin, "?tag=vip&consent=granted&channel=email&q=aalto")
    row = (await audit_rows(sessionmaker, "contact.list"))[-1]
    assert row.details["filters"] == ["tag", "consent", "q"]
    assert row.contact_id == aino  # a list of one is a read of that person
    text = await trail_text(sessionmaker)
    assert "aalto" not in text and "vip" not in text


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("language=xx", "language"),
        ("language=", "language"),
        ("consent=maybe", "consent"),
        ("channel=pigeon", "channel"),
        ("reason=sleepy", "reason"),
        ("reason=", "reason"),
        ("reason=ELIGIBLE", "reason"),
        ("reason=robinson_listed", "reason"),  # no register of emails: never on email
        ("reason=frequency_cap", "reason"),  # a campaign's rule, not a list's
        ("reason=" + "x" * 65, "reason"),
        ("tag=" + "x" * 65, "tag"),
        ("q=" + "x" * 201, "q"),
        ("tag=a%00b", "tag"),
        ("q=a%00b", "q"),
        ("q=line%0Abreak", "q"),
        ("tag=%E2%80%A8", "tag"),
        ("reason=no%00consent", "reason"),
        ("email=a%00@example.fi", "email"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("offset=-1", "offset"),
        ("offset=99999999999999999999999", "offset"),
        ("limit=many", "limit"),
    ],
)
async def test_a_bad_filter_is_a_4xx_naming_it(admin: Client, query: str, field: str) -> None:
    response = await admin.get(f"/api/v1/contacts?{query}")
    assert response.status_code in (400, 422), (query, response.text)
    body = response.json()
    assert field in body.get("fields", {}) or field in body["detail"], body
    assert "\x00" not in response.text


@pytest.mark.parametrize(
    "query",
    [
        b"tag=%ff%fe",
        b"q=%C3%28",
        b"reason=%",
        b"tag=vip&tag=news",
        b"consent=granted&consent=none",
        b"q=%25%5F%5C",  # LIKE's own wildcards and escape, as text
        b"tag=%27%3B%20DROP%20TABLE%20contacts%3B--",
    ],
)
async def test_hostile_query_strings_never_fail_the_server(admin: Client, query: bytes) -> None:
    await add_contact(admin, tags=["vip"])
    response = await admin.get("/api/v1/contacts?" + query.decode("ascii"))
    assert response.status_code < 500, (query, response.text)
