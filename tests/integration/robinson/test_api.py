"""``/api/v1/robinson/extracts`` on both databases: who may load and read the
register, the report, a refused file, and the audit row."""

from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlmodel import col, select

from service.db import SessionMaker
from service.models import AuditEvent
from service.models.enums import Role
from tests.conftest import TokenFactory
from tests.integration.robinson.support import stored

Client = AsyncTestClient[Litestar]
URL = "/api/v1/robinson/extracts"
EXTRACT = "puhelin\n040 111 1111\n12\n+358502222222\n"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_an_admin_loads_an_extract_and_everyone_planning_calls_sees_it(
    admin: Client, make_token: TokenFactory, sessionmaker: SessionMaker
) -> None:
    response = await admin.post(
        f"{URL}?extract_date=2026-11-20",
        files={"file": ("robinson-2026-11.csv", EXTRACT.encode(), "text/csv")},
    )
    assert response.status_code == 201, response.text
    report = response.json()
    assert report["extract"]["file_name"] == "robinson-2026-11.csv"
    assert report["extract"]["extract_date"] == "2026-11-20"
    assert report["extract"]["number_count"] == 2
    assert report["bad_lines"] == 1
    assert report["problems"] == [{"line": 3, "message": "not a valid phone number: too short"}]

    for role in (Role.MARKETER, Role.VIEWER, Role.PRIVACY_OFFICER):
        status = await admin.get(URL, headers=auth(await make_token(role)))
        assert status.status_code == 200, (role, status.text)
        body = status.json()
        assert body["current"]["id"] == report["extract"]["id"]
        assert (body["age_days"], body["max_age_days"], body["fresh"]) == (5, 31, True)

    async with sessionmaker() as session:
        events = (
            await session.exec(select(AuditEvent).where(col(AuditEvent.action).startswith("robin")))
        ).all()
    assert [(e.action, e.details) for e in events] == [
        (
            "robinson_extract.load",
            {"extract_id": report["extract"]["id"], "numbers": 2, "bad_lines": 1},
        )
    ]


async def test_a_privacy_officer_may_load_a_plain_text_body(
    client: Client, make_token: TokenFactory, sessionmaker: SessionMaker
) -> None:
    response = await client.post(
        URL,
        content=b"0401111111\r\n0402222222\r\n",
        headers={**auth(await make_token(Role.PRIVACY_OFFICER)), "Content-Type": "text/plain"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["extract"]["extract_date"] == "2026-11-25"  # today in Helsinki
    extracts, numbers = await stored(sessionmaker)
    assert extracts[0].loaded_by_user_id is not None and len(numbers) == 2


@pytest.mark.parametrize("role", [Role.MARKETER, Role.VIEWER, Role.CALLER])
async def test_other_roles_may_not_load(
    client: Client, make_token: TokenFactory, sessionmaker: SessionMaker, role: Role
) -> None:
    headers = {**auth(await make_token(role)), "Content-Type": "text/plain"}
    response = await client.post(URL, content=b"0401111111\n", headers=headers)
    assert response.status_code == 403
    assert "robinson:manage" in response.json()["detail"]
    assert await stored(sessionmaker) == ([], [])
    if role is Role.CALLER:
        assert (await client.get(URL, headers=headers)).status_code == 403


async def test_a_bad_file_is_refused_whole_and_changes_nothing(
    admin: Client, sessionmaker: SessionMaker
) -> None:
    first = await admin.post(URL, content=b"0401111111\n", headers={"Content-Type": "text/plain"})
    assert first.status_code == 201
    before = await stored(sessionmaker)
    bad = await admin.post(URL, content=b"12\nabc\n", headers={"Content-Type": "text/plain"})
    assert bad.status_code == 422
    assert bad.json()["fields"] == {
        "file": "no valid phone number",
        "line 1": "not a valid phone number: too short",
        "line 2": "not a valid phone number",
    }
    future = await admin.post(
        f"{URL}?extract_date=2026-12-01",
        content=b"0401111111\n",
        headers={"Content-Type": "text/plain"},
    )
    assert future.status_code == 422 and "extract_date" in future.json()["fields"]
    no_file = await admin.post(URL, json={})
    assert no_file.status_code == 422
    assert await stored(sessionmaker) == before
    status = (await admin.get(URL)).json()
    assert status["current"]["id"] == first.json()["extract"]["id"] and status["history"] == []


async def test_status_without_an_extract(admin: Client) -> None:
    body = (await admin.get(URL)).json()
    assert body == {
        "current": None,
        "age_days": None,
        "max_age_days": 31,
        "fresh": False,
        "history": [],
    }
