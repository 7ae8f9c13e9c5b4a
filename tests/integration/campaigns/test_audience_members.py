"""``GET /api/v1/campaigns/{id}/audience/{reason}``: the people behind each
count of the audience, as the web's audience panel links to them; pages,
roles, the audit trail, and bad input answered with a 4xx."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.auth.permissions import ROLE_PERMISSIONS, Permission
from service.db import SessionMaker
from service.models.enums import Role
from tests.conftest import TokenFactory
from tests.integration.web.contacts.conftest import audit_rows
from tests.support.factories import add_contact, add_purchase, grant, withdraw

Client = AsyncTestClient[Litestar]
CAMPAIGN = {
    "name": "Autumn coaching",
    "channel": "email",
    "subject": "Hello",
    "body_html": "<p>Our autumn programme.</p>",
    "body_text": "Our autumn programme.",
}


async def _campaign(admin: Client, **overrides: Any) -> int:
    response = await admin.post("/api/v1/campaigns", json={**CAMPAIGN, **overrides})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def _members(client: Client, campaign_id: int, reason: str, query: str = "") -> Any:
    response = await client.get(f"/api/v1/campaigns/{campaign_id}/audience/{reason}{query}")
    assert response.status_code == 200, response.text
    return response.json()


async def _audience(admin: Client) -> tuple[int, dict[str, int]]:
    """A campaign for Finnish speakers: Aino may get it, Bo has no consent,
    Cecilia no address, Sven speaks Swedish."""
    ids = {
        "aino": await add_contact(admin, full_name="Aino Aalto", email="aino@example.fi"),
        "bo": await add_contact(admin, full_name="Bo Berg", email="bo@example.fi"),
        "cecilia": await add_contact(admin, full_name="Cecilia Cruz", email=None),
        "sven": await add_contact(
            admin, full_name="Sven Svensson", email="sven@example.fi", language="sv"
        ),
    }
    for name in ("aino", "cecilia", "sven"):
        await grant(admin, ids[name])
    return await _campaign(admin, segment={"languages": ["fi"]}), ids


async def test_each_count_has_its_people(admin: Client) -> None:
    campaign_id, ids = await _audience(admin)
    counts = (await admin.get(f"/api/v1/campaigns/{campaign_id}/audience")).json()
    eligible = await _members(admin, campaign_id, "eligible")
    assert eligible == {
        "reason": "eligible",
        "items": [{"id": ids["aino"], "full_name": "Aino Aalto"}],
        "limit": 50,
        "offset": 0,
        "more": False,
    }
    assert len(eligible["items"]) == counts["eligible"]
    for code, n in counts["excluded"].items():
        people = await _members(admin, campaign_id, code)
        assert len(people["items"]) == n, code
    assert [p["id"] for p in (await _members(admin, campaign_id, "no_consent"))["items"]] == [
        ids["bo"]
    ]
    assert [p["id"] for p in (await _members(admin, campaign_id, "no_address"))["items"]] == [
        ids["cecilia"]
    ]
    outside = await _members(admin, campaign_id, "outside_segment")
    assert [p["full_name"] for p in outside["items"]] == ["Sven Svensson"]
    # A reason this campaign's gate never gives: nobody, not an error.
    assert (await _members(admin, campaign_id, "robinson_listed"))["items"] == []


async def test_pages_in_id_order(admin: Client) -> None:
    ids = [await add_contact(admin, full_name=f"Person {n}", email=None) for n in range(5)]
    campaign_id = await _campaign(admin)
    first = await _members(admin, campaign_id, "no_address", "?limit=2")
    assert [p["id"] for p in first["items"]] == ids[:2] and first["more"] is True
    last = await _members(admin, campaign_id, "no_address", "?limit=2&offset=4")
    assert [p["id"] for p in last["items"]] == ids[4:] and last["more"] is False
    beyond = await _members(admin, campaign_id, "no_address", "?offset=100")
    assert beyond["items"] == [] and beyond["more"] is False


async def test_reading_it_is_recorded_without_names(
    admin: Client, sessionmaker: SessionMaker
) -> None:
    campaign_id, _ = await _audience(admin)
    await _members(admin, campaign_id, "no_consent")
    row = (await audit_rows(sessionmaker, "campaign.audience_read"))[-1]
    assert row.details["audience_reason"] == "no_consent" and row.details["count"] == 1
    assert row.details["campaign_id"] == campaign_id and row.reason is None
    assert "Berg" not in str(row.details)


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (Role.MARKETER, 200),
        (Role.VIEWER, 200),
        (Role.PRIVACY_OFFICER, 403),  # no campaigns:read
        (Role.CALLER, 403),
    ],
)
async def test_names_need_campaigns_and_contacts_read(
    admin: Client, make_token: TokenFactory, role: Role, status: int
) -> None:
    campaign_id = await _campaign(admin)
    headers = {"Authorization": f"Bearer {await make_token(role)}"}
    answer = await admin.get(f"/api/v1/campaigns/{campaign_id}/audience/eligible", headers=headers)
    assert answer.status_code == status, answer.text


def test_every_role_that_reads_campaigns_reads_contacts() -> None:
    """The route's one guard is campaigns:read; the names it shows need
    contacts:read too, which holds while every such role has both."""
    for role, permissions in ROLE_PERMISSIONS.items():
        if Permission.CAMPAIGNS_READ in permissions:
            assert Permission.CONTACTS_READ in permissions, role


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("audience/bored", 404),
        ("audience/ELIGIBLE", 404),
        ("audience/no_consent%00", 404),
        ("audience/%E2%80%A8", 404),
        ("audience/" + "x" * 5000, 404),
        ("audience/no_consent?limit=0", 400),
        ("audience/no_consent?limit=501", 400),
        ("audience/no_consent?limit=x", 400),
        ("audience/no_consent?offset=-1", 400),
        ("audience/no_consent?offset=99999999999999999999999", 400),
    ],
)
async def test_bad_input_is_a_4xx(admin: Client, path: str, status: int) -> None:
    campaign_id = await _campaign(admin)
    answer = await admin.get(f"/api/v1/campaigns/{campaign_id}/{path}")
    assert answer.status_code // 100 == 4 and answer.status_code // 100 == status // 100, (
        path,
        answer.text,
    )
    assert "x" * 100 not in answer.text and "\x00" not in answer.text


async def test_a_missing_campaign_is_a_404(admin: Client) -> None:
    answer = await admin.get("/api/v1/campaigns/999999/audience/eligible")
    assert answer.status_code == 404


async def test_a_similar_products_campaign_counts_what_soft_opt_in_lacks(admin: Client) -> None:
    """Customers without consent are counted by the part of soft opt-in's
    evidence they lack; the same campaign without ``similar_products`` has
    neither reason, and all of them lack consent."""
    ids = {
        "prospect": await add_contact(admin, email="prospect@example.fi"),
        "bare": await add_contact(admin, email="bare@example.fi", is_customer=True),
        "untold": await add_contact(admin, email="untold@example.fi", is_customer=True),
        "full": await add_contact(admin, email="full@example.fi", is_customer=True),
        "left": await add_contact(admin, email="left@example.fi", is_customer=True),
        "firm": await add_contact(admin, email="firm@example.fi", contact_type="business"),
    }
    await add_purchase(admin, ids["bare"], address_collected=False, refusal_offered=False)
    await add_purchase(admin, ids["untold"], refusal_offered=False)
    await add_purchase(admin, ids["full"])
    await add_purchase(admin, ids["left"])
    await withdraw(admin, ids["left"])
    similar = await _campaign(admin, similar_products=True)
    counts = (await admin.get(f"/api/v1/campaigns/{similar}/audience")).json()
    assert counts["eligible"] == 2
    assert counts["excluded"] == {
        "no_consent": 1,
        "no_purchase_record": 1,
        "no_refusal_notice": 1,
        "consent_withdrawn": 1,
    }
    expected = {
        "eligible": [ids["full"], ids["firm"]],
        "no_consent": [ids["prospect"]],
        "no_purchase_record": [ids["bare"]],
        "no_refusal_notice": [ids["untold"]],
        "consent_withdrawn": [ids["left"]],
    }
    for code, people in expected.items():
        found = (await _members(admin, similar, code))["items"]
        assert sorted(p["id"] for p in found) == sorted(people), code
    plain = await _campaign(admin, similar_products=False)
    counts = (await admin.get(f"/api/v1/campaigns/{plain}/audience")).json()
    assert counts["eligible"] == 1  # the business contact: opt-out
    assert counts["excluded"] == {"no_consent": 4, "consent_withdrawn": 1}
    assert (await _members(admin, plain, "no_purchase_record"))["items"] == []
