"""A request that a route's own check refuses (a 403 or 404 found while its
dependencies resolve, before the body is read) still closes the database
session it had opened: its connection is back in the pool when the answer
is sent, not left for the garbage collector (service.dependency_cleanup)."""

from __future__ import annotations

import gc

from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.models.enums import Role
from tests.conftest import TokenFactory
from tests.integration.audit.support import as_role
from tests.support.factories import add_contact, ban

Client = AsyncTestClient[Litestar]


async def test_a_refusal_from_a_dependency_returns_its_connection(
    app: Litestar, admin: Client, make_token: TokenFactory
) -> None:
    contact_id = await add_contact(admin, consent=("direct_marketing",))
    banned = await ban(admin, contact_id, channel="all")
    marketer = await as_role(make_token, Role.MARKETER)
    refusals = [
        # The ban and the contact do not exist: 404 from the dependency.
        await admin.delete(f"/api/v1/contacts/{contact_id + 1000}/bans/{banned}"),
        await admin.patch(f"/api/v1/contacts/{contact_id + 1000}", json={"first_name": "A"}),
        # The role may not lift a direct-marketing ban: 403 from the dependency.
        await admin.delete(f"/api/v1/contacts/{contact_id}/bans/{banned}", headers=marketer),
        await admin.post(
            f"/api/v1/contacts/{contact_id}/bans/{banned}/lift", json={}, headers=marketer
        ),
    ]
    assert [response.status_code for response in refusals] == [404, 404, 403, 403]
    gc.collect()  # a leaked session would be found here, not closed
    assert app.state.engine.pool.checkedout() == 0
