"""The request page's one-step "Confirm into a ban" for objection requests."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.db import SessionMaker
from service.models.enums import Role
from tests.integration.audit.support import trail
from tests.integration.web.conftest import csrf
from tests.integration.web.privacy.support import Staff
from tests.support.factories import add_contact

Client = AsyncTestClient[Litestar]
HOME = "/app/privacy"

pytestmark = pytest.mark.usefixtures("frozen_clock")


@pytest.fixture
def clock_start() -> datetime:
    return datetime(2026, 2, 25, 10, 0, tzinfo=UTC)


async def _objection(api: Client, **fields: object) -> int:
    body = {"type": "objection", "received_on": "2026-02-24", **fields}
    response = await api.post("/api/v1/requests", json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def test_a_reply_objection_is_confirmed_into_a_ban_with_one_button(
    staff: Staff, sessionmaker: SessionMaker
) -> None:
    api = staff.client
    contact_id = await add_contact(api)
    request_id = await _objection(api, channel="reply", contact_id=contact_id)
    officer = await staff.become(Role.PRIVACY_OFFICER)
    url = f"{HOME}/requests/{request_id}"
    shown = await officer.get(url)
    assert "Confirm into a ban" in shown.text
    assert "The reply from the contact's address counts as the verification." in shown.text

    done = await officer.post(f"{url}/confirm-ban", data={"csrf_token": csrf(shown)})
    assert done.status_code == 303
    assert done.headers["location"] == f"{url}?done=confirm-ban"
    final = (await officer.get(done.headers["location"])).text
    assert "The objection is upheld" in final
    assert '<dd id="request-status">Handled</dd>' in final  # the status's label
    assert "<td>Objection recorded</td>" in final and "<td>Closed</td>" in final
    assert "Confirm into a ban" not in final
    bans = await api.get(f"/api/v1/contacts/{contact_id}/bans")
    assert [b["kind"] for b in bans.json()] == ["direct_marketing"]
    recorded = [e.action for e in await trail(sessionmaker) if e.route.startswith("/app/")]
    assert "request.confirm_ban" in recorded


async def test_others_must_be_verified_first_and_other_kinds_get_no_button(
    staff: Staff,
) -> None:
    api = staff.client
    contact_id = await add_contact(api)
    by_phone = await _objection(api, channel="phone", contact_id=contact_id)
    access = await _objection(api, channel="email", contact_id=contact_id, type="access")
    unlinked = await _objection(api, channel="reply", requester="someone@elsewhere.example")
    officer = await staff.become(Role.PRIVACY_OFFICER)

    url = f"{HOME}/requests/{by_phone}"
    shown = await officer.get(url)
    refused = await officer.post(f"{url}/confirm-ban", data={"csrf_token": csrf(shown)})
    assert refused.status_code == 409
    assert "must be verified first" in refused.text
    assert (await api.get(f"/api/v1/contacts/{contact_id}/bans")).json() == []

    assert "Confirm into a ban" not in (await officer.get(f"{HOME}/requests/{access}")).text
    assert "Confirm into a ban" not in (await officer.get(f"{HOME}/requests/{unlinked}")).text
