"""Legal holds (GDPR 17(3)(e)): placed with a reason, lifted on record, never deleted."""

from __future__ import annotations

from typing import Any

import pytest

from service.db import SessionMaker
from service.models import LegalHold
from service.rights.erasure import is_held
from tests.integration.rights.support import Client, add_contact, count


async def test_place_list_and_lift(admin: Client, sessionmaker: SessionMaker) -> None:
    contact_id = await add_contact(admin)
    url = f"/api/v1/contacts/{contact_id}/legal-holds"
    first = await admin.post(url, json={"reason": "  Invoice dispute  "})
    assert first.status_code == 201, first.text
    hold = first.json()
    assert hold["reason"] == "Invoice dispute" and hold["active"] is True
    assert hold["placed_by_user_id"] and hold["lifted_at"] is None
    second = (await admin.post(url, json={"reason": "Police request"})).json()
    async with sessionmaker() as session:
        assert await is_held(session, contact_id)

    lifted = await admin.request("DELETE", f"{url}/{hold['id']}", json={"note": "Paid"})
    assert lifted.status_code == 200, lifted.text
    assert lifted.json()["active"] is False and lifted.json()["lift_note"] == "Paid"
    assert lifted.json()["lifted_by_user_id"] and lifted.json()["lifted_at"]
    again = await admin.delete(f"{url}/{hold['id']}")
    assert again.status_code == 409 and again.json()["reason"] == "already_lifted"
    async with sessionmaker() as session:
        assert await is_held(session, contact_id)  # the second hold is still in force
    assert (await admin.delete(f"{url}/{second['id']}")).status_code == 200
    async with sessionmaker() as session:
        assert not await is_held(session, contact_id)

    listed = (await admin.get(url)).json()
    assert [(h["id"], h["active"]) for h in listed] == [(hold["id"], False), (second["id"], False)]
    assert await count(sessionmaker, LegalHold) == 2  # lifted, never deleted


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": "x" * 2001}])
async def test_a_hold_needs_a_reason(
    admin: Client, sessionmaker: SessionMaker, body: dict[str, Any]
) -> None:
    contact_id = await add_contact(admin)
    response = await admin.post(f"/api/v1/contacts/{contact_id}/legal-holds", json=body)
    assert response.status_code == 422, response.text
    assert "reason" in response.json()["fields"]
    assert await count(sessionmaker, LegalHold) == 0


async def test_holds_belong_to_their_contact(admin: Client) -> None:
    first = await add_contact(admin, email="a@example.fi")
    second = await add_contact(admin, email="b@example.fi")
    hold = (
        await admin.post(f"/api/v1/contacts/{first}/legal-holds", json={"reason": "Claim"})
    ).json()
    wrong = await admin.delete(f"/api/v1/contacts/{second}/legal-holds/{hold['id']}")
    assert wrong.status_code == 404
    assert (await admin.get(f"/api/v1/contacts/{first}/legal-holds")).json()[0]["active"]
    unknown = await admin.post("/api/v1/contacts/999999/legal-holds", json={"reason": "x"})
    assert unknown.status_code == 404
