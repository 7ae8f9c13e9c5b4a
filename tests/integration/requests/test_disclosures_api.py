"""The disclosure log through the HTTP API (the notice §8)."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.models import Disclosure
from service.models.enums import Role
from tests.conftest import TokenFactory
from tests.support.factories import contact_payload

Client = AsyncTestClient[Litestar]


def disclosure(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "recipient_type": "employer",
        "recipient_name": "Acme Oy, HR",
        "data_categories": ["name", "email", "profile"],
        "purpose": "Leadership programme the person takes part in.",
        "disclosed_on": "2026-01-20",
    }
    body.update(overrides)
    return body


@pytest.fixture
async def url(admin: Client) -> str:
    response = await admin.post("/api/v1/contacts", json=contact_payload())
    assert response.status_code == 201
    return f"/api/v1/contacts/{response.json()['id']}/disclosures"


async def stored(session: AsyncSession) -> int:
    return int((await session.exec(select(func.count()).select_from(Disclosure))).one())


async def test_a_disclosure_is_recorded_and_listed_newest_first(admin: Client, url: str) -> None:
    response = await admin.post(url, json=disclosure())
    assert response.status_code == 201, response.text
    first = response.json()
    assert first["recipient_type"] == "employer"
    assert first["data_categories"] == ["name", "email", "profile"]
    assert first["includes_identity_code"] is False and first["outside_eea"] is False
    assert isinstance(first["recorded_by_user_id"], int)
    assert first["recorded_at"].startswith("2026-01-31T10:00")
    second = (
        await admin.post(
            url,
            json=disclosure(
                recipient_type="programme_participants",
                recipient_name="Team Alpha",
                data_categories=["Name", "name", "profile"],
                disclosed_on="2026-01-30",
            ),
        )
    ).json()
    assert second["data_categories"] == ["name", "profile"]
    listed = (await admin.get(url)).json()
    assert [d["id"] for d in listed] == [second["id"], first["id"]]
    assert listed[1] == first


async def test_the_identity_code_needs_a_recorded_basis(
    admin: Client, url: str, session: AsyncSession
) -> None:
    body = disclosure(includes_identity_code=True, data_categories=["name", "identity_code"])
    response = await admin.post(url, json=body)
    assert response.status_code == 422, response.text
    assert "§ 29" in response.json()["fields"]["identity_code_basis"]
    assert await stored(session) == 0
    basis = "Address update; the recipient already holds the code (§ 29 mom 3)."
    response = await admin.post(url, json={**body, "identity_code_basis": basis})
    assert response.status_code == 201, response.text
    assert response.json()["identity_code_basis"] == basis


async def test_a_recipient_outside_the_eea_needs_a_safeguard(
    admin: Client, url: str, session: AsyncSession
) -> None:
    response = await admin.post(url, json=disclosure(recipient_type="coach", outside_eea=True))
    assert response.status_code == 422, response.text
    assert "standard contractual clauses" in response.json()["fields"]["safeguard"]
    assert await stored(session) == 0
    safeguard = "EU standard contractual clauses 2021/914"
    response = await admin.post(
        url, json=disclosure(recipient_type="coach", outside_eea=True, safeguard=safeguard)
    )
    assert response.status_code == 201, response.text
    assert response.json()["safeguard"] == safeguard


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        (
            {"includes_identity_code": True, "outside_eea": True},
            {"identity_code_basis", "safeguard"},
        ),
        ({"identity_code_basis": "consent"}, {"identity_code_basis"}),
        ({"safeguard": "SCC"}, {"safeguard"}),
        ({"data_categories": ["name", "personal_identity_code"]}, {"includes_identity_code"}),
    ],
)
async def test_inconsistent_records_name_every_field(
    admin: Client, url: str, session: AsyncSession, overrides: dict[str, Any], fields: set[str]
) -> None:
    response = await admin.post(url, json=disclosure(**overrides))
    assert response.status_code == 422, response.text
    assert set(response.json()["fields"]) == fields
    assert await stored(session) == 0


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"data_categories": []}, "data_categories"),
        ({"data_categories": [""]}, "data_categories.0"),
        ({"disclosed_on": "2026-02-01"}, "disclosed_on"),
        ({"recipient_type": "neighbour"}, "recipient_type"),
        ({"recipient_name": "  "}, "recipient_name"),
        ({"purpose": None}, "purpose"),
    ],
)
async def test_bad_input_is_refused_and_changes_nothing(
    admin: Client, url: str, session: AsyncSession, overrides: dict[str, Any], field: str
) -> None:
    response = await admin.post(url, json=disclosure(**overrides))
    assert response.status_code == 422, response.text
    assert field in response.json()["fields"]
    assert await stored(session) == 0


async def test_an_unknown_contact_is_404(admin: Client, session: AsyncSession) -> None:
    url = "/api/v1/contacts/999/disclosures"
    assert (await admin.post(url, json=disclosure())).status_code == 404
    assert (await admin.get(url)).status_code == 404
    assert await stored(session) == 0


async def test_marketers_neither_record_nor_read_disclosures(
    client: Client, make_token: TokenFactory, admin: Client, url: str
) -> None:
    assert (await admin.post(url, json=disclosure())).status_code == 201
    marketer = {"Authorization": f"Bearer {await make_token(Role.MARKETER)}"}
    assert (await client.get(url, headers=marketer)).status_code == 403
    assert (await client.post(url, json=disclosure(), headers=marketer)).status_code == 403
    officer = {"Authorization": f"Bearer {await make_token(Role.PRIVACY_OFFICER)}"}
    assert len((await client.get(url, headers=officer)).json()) == 1
