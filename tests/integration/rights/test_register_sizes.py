"""``GET /api/v1/contacts/register-sizes``: the counts the privacy page shows
(suppressed addresses, erased contacts, legal holds in force), for
``rights:manage`` only."""

from __future__ import annotations

import pytest

from service.models.enums import Role
from tests.conftest import TokenFactory
from tests.integration.rights.support import Client, add_contact

URL = "/api/v1/contacts/register-sizes"


async def test_the_sizes_follow_erasure_and_holds(admin: Client) -> None:
    assert (await admin.get(URL)).json() == {"suppressions": 0, "erasures": 0, "legal_holds": 0}
    erased = await add_contact(admin, email="erased@example.fi", phone="0401234560")
    held = await add_contact(admin, email="held@example.fi")
    assert (await admin.delete(f"/api/v1/contacts/{erased}")).status_code == 204
    holds = f"/api/v1/contacts/{held}/legal-holds"
    first = (await admin.post(holds, json={"reason": "Invoice dispute"})).json()
    await admin.post(holds, json={"reason": "Police request"})
    assert (await admin.delete(f"{holds}/{first['id']}")).status_code == 200
    response = await admin.get(URL)
    assert response.status_code == 200, response.text
    # The erased person's email and phone; the lifted hold no longer counts.
    assert response.json() == {"suppressions": 2, "erasures": 1, "legal_holds": 1}


@pytest.mark.parametrize("role", [Role.MARKETER, Role.VIEWER, Role.CALLER])
async def test_only_rights_managers(admin: Client, make_token: TokenFactory, role: Role) -> None:
    headers = {"Authorization": f"Bearer {await make_token(role)}"}
    assert (await admin.get(URL, headers=headers)).status_code == 403
