"""Restriction (GDPR 18): the contact is kept but out of every processing path
(campaigns, call lists, tracking) and edits are refused until it is lifted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from service.db import SessionMaker, session_scope
from service.models import Contact, ContactChange
from service.models.enums import RequestType
from service.settings import Settings
from service.tracking import events
from tests.integration.rights.support import (
    Client,
    actions_of,
    add_contact,
    add_request,
    count,
)
from tests.integration.robinson.support import load_extract
from tests.support.factories import ban, grant, withdraw
from tests.support.worker import drain, worker_context

EMAIL_CAMPAIGN = {
    "name": "Autumn",
    "channel": "email",
    "subject": "Hello",
    "body_html": "<p>Hello</p>",
    "body_text": "Hello",
}


@pytest.fixture
async def ctx(settings: Settings, sessionmaker: SessionMaker) -> AsyncIterator[dict[str, Any]]:
    async with worker_context(settings, sessionmaker) as context:
        await context["redis"].flushdb()
        await load_extract(sessionmaker, settings)  # phone lists need a fresh Robinson extract
        yield context


async def restrict(admin: Client, contact_id: int, **body: Any) -> Any:
    return await admin.post(
        f"/api/v1/contacts/{contact_id}/restriction",
        json={"reason": "Accuracy contested", **body},
    )


async def test_restrict_and_lift_round_trip(admin: Client, sessionmaker: SessionMaker) -> None:
    contact_id = await add_contact(admin)
    url = f"/api/v1/contacts/{contact_id}"
    request_id = await add_request(sessionmaker, RequestType.RESTRICTION, contact_id=contact_id)

    response = await restrict(admin, contact_id, request_id=request_id)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["restricted"] is True and body["restricted_at"]
    assert body["reason"] == "Accuracy contested" and body["request_id"] == request_id
    assert (await admin.get(url)).json()["restricted"] is True
    again = await restrict(admin, contact_id)
    assert again.status_code == 409 and again.json()["reason"] == "already_restricted"

    lifted = await admin.request(
        "DELETE",
        f"{url}/restriction",
        json={"note": "Verified", "request_id": request_id, "informed_how": "phone"},
    )
    assert lifted.status_code == 200, lifted.text
    assert lifted.json()["restricted"] is False and lifted.json()["note"] == "Verified"
    assert (await admin.get(url)).json()["restricted"] is False
    twice = await admin.delete(f"{url}/restriction")
    assert twice.status_code == 409 and twice.json()["reason"] == "not_restricted"
    assert await actions_of(sessionmaker, request_id) == ["restriction", "restriction_lifted"]
    # The history stays: placed and lifted, with the reason and the note.
    [history] = (await admin.get(f"{url}/export")).json()["restrictions"]
    assert (history["reason"], history["lift_note"]) == ("Accuracy contested", "Verified")
    assert history["request_id"] == request_id and history["lifted_at"] is not None


@pytest.mark.parametrize(
    "body",
    [{}, {"reason": "  "}, {"reason": "x", "request_id": 0}, {"reason": "x", "colour": "red"}],
)
async def test_a_bad_restriction_changes_nothing(admin: Client, body: dict[str, Any]) -> None:
    contact_id = await add_contact(admin)
    response = await admin.post(f"/api/v1/contacts/{contact_id}/restriction", json=body)
    assert response.status_code == 422, response.text
    assert (await admin.get(f"/api/v1/contacts/{contact_id}")).json()["restricted"] is False


async def test_restriction_with_an_unusable_request_changes_nothing(
    admin: Client, sessionmaker: SessionMaker
) -> None:
    contact_id = await add_contact(admin)
    access = await add_request(sessionmaker, RequestType.ACCESS, contact_id=contact_id)
    response = await restrict(admin, contact_id, request_id=access)
    assert response.status_code == 422
    assert "access request" in response.json()["fields"]["request_id"]
    assert (await admin.get(f"/api/v1/contacts/{contact_id}")).json()["restricted"] is False
    assert (await restrict(admin, 999_999)).status_code == 404


async def test_a_campaign_audience_leaves_the_restricted_out(admin: Client) -> None:
    kept = await add_contact(admin, email="kept@example.fi")
    held = await add_contact(admin, email="held@example.fi")
    for contact_id in (kept, held):
        await grant(admin, contact_id)
    campaign = (await admin.post("/api/v1/campaigns", json=EMAIL_CAMPAIGN)).json()
    audience = f"/api/v1/campaigns/{campaign['id']}/audience"
    assert (await admin.get(audience)).json() == {"total": 2, "eligible": 2, "excluded": {}}

    assert (await restrict(admin, held)).status_code == 200
    assert (await admin.get(audience)).json() == {
        "total": 2,
        "eligible": 1,
        "excluded": {"restricted": 1},
    }
    eligibility = await admin.get(f"/api/v1/contacts/{held}/eligibility")
    assert eligibility.json() == {"eligible": False, "reasons": ["restricted"]}

    await admin.request(
        "DELETE", f"/api/v1/contacts/{held}/restriction", json={"informed_how": "letter"}
    )
    assert (await admin.get(audience)).json()["eligible"] == 2


async def test_a_call_list_leaves_the_restricted_out(
    admin: Client, ctx: dict[str, Any], sessionmaker: SessionMaker
) -> None:
    await add_contact(admin, full_name="Callable", email=None, phone="0401111111")
    held = await add_contact(admin, full_name="Restricted", email=None, phone="0402222222")
    assert (await restrict(admin, held)).status_code == 200
    campaign = await admin.post("/api/v1/campaigns", json={"name": "Calls", "channel": "phone"})
    url = f"/api/v1/campaigns/{campaign.json()['id']}"
    assert (await admin.post(f"{url}/call-list")).status_code == 202
    await drain(ctx)
    status = (await admin.get(f"{url}/call-list")).json()
    assert status["status"] == "ready" and status["entry_count"] == 1
    assert status["audience_at_build"]["excluded"] == {"restricted": 1}
    csv_text = (await admin.get(f"{url}/call-list.csv")).text
    assert "Callable" in csv_text and "Restricted" not in csv_text


async def test_tracking_drops_the_events_of_the_restricted(
    admin: Client, sessionmaker: SessionMaker
) -> None:
    free = await add_contact(admin, email="free@example.fi")
    held = await add_contact(admin, email="held@example.fi")
    for contact_id in (free, held):
        await grant(admin, contact_id, purpose="email_tracking")
    assert (await restrict(admin, held)).status_code == 200
    now = datetime.now(UTC).isoformat()
    entries: list[events.Entry] = [
        (f"1-{contact_id}", {"kind": "open", "contact_id": str(contact_id), "occurred_at": now})
        for contact_id in (free, held)
    ]
    async with session_scope(sessionmaker) as session:
        assert await events.store(session, entries) == 1
        assert await events.trackable(session, {free, held}) == {free}


async def test_a_restricted_contact_is_not_edited(
    admin: Client, sessionmaker: SessionMaker
) -> None:
    contact_id = await add_contact(admin, city="Oulu")
    url = f"/api/v1/contacts/{contact_id}"
    await restrict(admin, contact_id)

    refused = await admin.patch(url, json={"city": "Turku"})
    assert refused.status_code == 409 and refused.json()["reason"] == "restricted"
    access = await add_request(sessionmaker, RequestType.ACCESS, contact_id=contact_id)
    wrong = await admin.patch(f"{url}?request_id={access}", json={"city": "Turku"})
    assert wrong.status_code == 422 and "request_id" in wrong.json()["fields"]
    async with sessionmaker() as session:
        contact = await session.get(Contact, contact_id)
        assert contact is not None and contact.city == "Oulu"
    assert await count(sessionmaker, ContactChange) == 0

    # GDPR 18(1)(a): the rectification the restriction waits for is allowed.
    fix = await add_request(sessionmaker, RequestType.RECTIFICATION, contact_id=contact_id)
    done = await admin.patch(f"{url}?request_id={fix}", json={"city": "Turku"})
    assert done.status_code == 200, done.text
    assert done.json()["city"] == "Turku" and done.json()["restricted"] is True
    assert await actions_of(sessionmaker, fix) == ["rectification"]

    # The person's own statements are still recorded: a withdrawal and a ban.
    await withdraw(admin, contact_id, method="web_form")
    await ban(admin, contact_id, channel="all")

    await admin.request("DELETE", f"{url}/restriction", json={"informed_how": "letter"})
    assert (await admin.patch(url, json={"city": "Oulu"})).status_code == 200
