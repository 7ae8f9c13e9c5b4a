"""The consent ledger and bans through the HTTP API."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.models import ConsentEvent, ConsentState
from tests.support.factories import add_contact, grant

Client = AsyncTestClient[Litestar]
EVIDENCE = {
    "text": "Yes, send me offers by email.",
    "notice_version": "2026-01",
    "ip": "203.0.113.77",
}


def consent(action: str = "grant", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "channel": "email",
        "purpose": "direct_marketing",
        "action": action,
        "source": "self",
        "method": "web_form",
        "evidence": EVIDENCE,
    }
    body.update(overrides)
    return body


@pytest.fixture
async def contact_id(admin: Client) -> int:
    return await add_contact(admin)


async def test_grant_then_withdraw_keeps_history_in_order(admin: Client, contact_id: int) -> None:
    url = f"/api/v1/contacts/{contact_id}/consents"
    assert (await admin.post(url, json=consent())).status_code == 201
    assert (await admin.post(url, json=consent(channel="sms"))).status_code == 201
    response = await admin.post(url, json=consent("withdraw", method="email", evidence=None))
    assert response.status_code == 201, response.text
    ledger = response.json()
    assert [(e["channel"], e["action"]) for e in ledger["history"]] == [
        ("email", "grant"),
        ("sms", "grant"),
        ("email", "withdraw"),
    ]
    ids = [e["id"] for e in ledger["history"]]
    assert ids == sorted(ids)
    times = [e["occurred_at"] for e in ledger["history"]]
    assert times == sorted(times)
    current = {(s["channel"], s["purpose"]): s for s in ledger["current"]}
    assert current[("email", "direct_marketing")]["state"] == "withdraw"
    assert current[("email", "direct_marketing")]["event_id"] == ids[2]
    assert current[("sms", "direct_marketing")]["state"] == "grant"
    assert (await admin.get(url)).json() == ledger


async def test_each_event_records_who_how_and_proof(
    admin: Client, contact_id: int, session: AsyncSession
) -> None:
    url = f"/api/v1/contacts/{contact_id}/consents"
    event = (await admin.post(url, json=consent())).json()["history"][0]
    assert event["evidence_ip"] == "203.0.113.0/24"
    assert event["evidence_text"] == EVIDENCE["text"]
    assert event["notice_version"] == "2026-01"
    assert event["method"] == "web_form" and event["source"] == "self"
    assert event["actor"] == "staff" and isinstance(event["recorded_by_user_id"], int)
    assert event["occurred_at"].endswith(("Z", "+00:00"))
    v6 = consent(channel="sms", evidence={**EVIDENCE, "ip": "2001:db8:1234:5678::1"})
    events = (await admin.post(url, json=v6)).json()["history"]
    assert events[-1]["evidence_ip"] == "2001:db8:1234::/48"
    stored = (await session.exec(select(ConsentEvent.evidence_ip))).all()
    assert "203.0.113.77" not in stored


async def test_current_state_is_the_latest_event_of_the_ledger(
    admin: Client, contact_id: int, session: AsyncSession
) -> None:
    url = f"/api/v1/contacts/{contact_id}/consents"
    for action, purpose in [
        ("grant", "direct_marketing"),
        ("grant", "email_tracking"),
        ("withdraw", "direct_marketing"),
        ("grant", "direct_marketing"),
        ("withdraw", "email_tracking"),
    ]:
        evidence = EVIDENCE if action == "grant" else None
        body = consent(action, purpose=purpose, evidence=evidence)
        assert (await admin.post(url, json=body)).status_code == 201
    events = (await session.exec(select(ConsentEvent).order_by(col(ConsentEvent.id)))).all()
    latest: dict[tuple[str, str], ConsentEvent] = {}
    for event in events:
        latest[(event.channel, event.purpose)] = event
    states = (await session.exec(select(ConsentState))).all()
    assert {(s.channel, s.purpose): (s.action, s.event_id) for s in states} == {
        key: (event.action, event.id) for key, event in latest.items()
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (consent(channel="fax"), "channel"),
        (consent(purpose="spam"), "purpose"),
        (consent(action="maybe"), "action"),
        (consent(source="rumour"), "source"),
        (consent(method="telepathy"), "method"),
        (consent(evidence={"ip": "999.1.1.1", "text": "x"}), "evidence.ip"),
        (consent(evidence={"text": "", "notice_version": "1"}), "evidence.text"),
        (consent(evidence={"text": "x", "colour": "red"}), "evidence.colour"),
        (consent(evidence=None), "body"),
        ({"channel": "email"}, "purpose"),
    ],
)
async def test_bad_consent_is_rejected_whole(
    admin: Client, contact_id: int, body: dict[str, Any], field: str
) -> None:
    url = f"/api/v1/contacts/{contact_id}/consents"
    response = await admin.post(url, json=body)
    assert response.status_code == 422, response.text
    assert field in response.json()["fields"], response.json()
    assert (await admin.get(url)).json() == {"current": [], "history": []}


async def test_a_grant_needs_evidence_but_a_withdrawal_does_not(
    admin: Client, contact_id: int
) -> None:
    url = f"/api/v1/contacts/{contact_id}/consents"
    refused = await admin.post(url, json=consent(evidence={"ip": "192.0.2.1"}))
    assert refused.status_code == 422
    assert "evidence" in str(refused.json()["fields"])
    assert (await admin.post(url, json=consent("withdraw", evidence=None))).status_code == 201


async def test_consents_of_an_unknown_contact_are_404(admin: Client) -> None:
    assert (await admin.get("/api/v1/contacts/424242/consents")).status_code == 404
    assert (await admin.post("/api/v1/contacts/424242/consents", json=consent())).status_code == 404


async def test_bans_are_recorded_and_lifted_never_deleted(admin: Client, contact_id: int) -> None:
    url = f"/api/v1/contacts/{contact_id}/bans"
    body = {
        "kind": "direct_marketing",
        "channel": "phone",
        "source": "self",
        "note": "said on a call",
    }
    created = await admin.post(url, json={**body, "method": "phone_call"})
    assert created.status_code == 201, created.text
    ban = created.json()
    assert ban["active"] is True and ban["method"] == "phone_call" and ban["actor"] == "staff"
    again = await admin.post(url, json=body)
    assert again.status_code == 409 and again.json()["reason"] == "already_banned"

    event = (await grant(admin, contact_id, channel="phone"))["history"][-1]["id"]
    lifted = await admin.delete(
        f"{url}/{ban['id']}",
        params={"note": "asked to be called again", "consent_event_id": event},
    )
    assert lifted.status_code == 200, lifted.text
    record = lifted.json()
    assert record["active"] is False and record["lifted_at"]
    assert record["lift_note"] == "asked to be called again"
    assert record["lifted_by_user_id"] == ban["recorded_by_user_id"]
    twice = await admin.delete(f"{url}/{ban['id']}")
    assert twice.status_code == 409 and twice.json()["reason"] == "already_lifted"

    # A new ban after the lift is a new record; the old one stays.
    assert (await admin.post(url, json=body)).status_code == 201
    bans = (await admin.get(url)).json()
    assert [(b["id"] == ban["id"], b["active"]) for b in bans] == [(True, False), (False, True)]


async def test_ban_validation_and_404s(admin: Client, contact_id: int) -> None:
    url = f"/api/v1/contacts/{contact_id}/bans"
    bad_kind = await admin.post(url, json={"kind": "everything", "source": "self"})
    assert bad_kind.status_code == 422 and "kind" in bad_kind.json()["fields"]
    purchase_on_channel = await admin.post(
        url, json={"kind": "purchase_registration", "channel": "email", "source": "self"}
    )
    assert purchase_on_channel.status_code == 422
    assert "all channels" in str(purchase_on_channel.json()["fields"])
    purchase = await admin.post(url, json={"kind": "purchase_registration", "source": "self"})
    assert purchase.status_code == 201 and purchase.json()["channel"] == "all"
    assert (await admin.delete(f"{url}/999999")).status_code == 404
    other = await add_contact(admin, email="x@example.fi")
    # A ban id of another contact is not found under this one.
    assert (
        await admin.delete(f"/api/v1/contacts/{other}/bans/{purchase.json()['id']}")
    ).status_code == 404
    assert (await admin.get("/api/v1/contacts/999999/bans")).status_code == 404
