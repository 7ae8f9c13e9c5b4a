"""Erasure (GDPR 17) through the API: after ``DELETE /contacts/{id}`` no table
holds anything of the person, except the keyed hashes on the suppression
list, which refuse their silent re-import."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import SQLModel
from sqlmodel import select as select_rows

from service.crypto import DataCipher
from service.db import SessionMaker, run, session_scope
from service.models import (
    BounceCounter,
    CallList,
    CallListDownload,
    CallListEntry,
    CampaignRecipient,
    Contact,
    DataSubjectRequest,
    Disclosure,
    EngagementEvent,
    Erasure,
    Interaction,
    Profile,
    Suppression,
    User,
)
from service.models.engagement import EngagementKind
from service.models.enums import (
    CallListStatus,
    CampaignChannel,
    DisclosureRecipient,
    InteractionKind,
    RecipientStatus,
    RequestStatus,
    RequestType,
)
from tests.conftest import TEST_DATA_KEY
from tests.integration.rights.support import (
    Client,
    actions_of,
    add_contact,
    add_request,
    count,
)
from tests.support.factories import EVIDENCE, ban, contact_payload, grant, withdraw

HETU = "131052-308T"
PHONE = "+358401239876"
PERSON: dict[str, Any] = {
    "full_name": "Maija Erasable",
    "nickname": "Maikki Erasable",
    "email": "maija.erase@example.fi",
    "phone": "040 123 9876",
    "personal_identity_code": HETU,
    "customer_number": "CUST-ERASE-77",
    "employer": "Erasable Employer Oy",
    "education": "Master of Erasure",
    "position": "Chief Eraser",
    "street_address": "Poistotie 5 B 12",
    "postal_code": "00990",
    "city": "Erasetown",
    "country": "FI",
    "language": "en",
    "gender": "female",
    "is_customer": True,
    "tags": ["erase-tag-one", "erase-tag-two"],
}
# Everything written about the person below contains one of these.
NEEDLES = [
    *(PERSON[k] for k in ("full_name", "nickname", "customer_number", "employer", "education")),
    *(PERSON[k] for k in ("position", "street_address", "city", "email")),
    *PERSON["tags"],
    "maija.erase",
    PHONE,
    "401239876",
    HETU,
    "131052-",
    "Erasecity",
    "198.51.100.0/24",
    "ERASE-ME",
]
# Short values are matched whole: as substrings they could occur by chance in a hash.
WHOLE_VALUES = [PERSON["postal_code"]]
# Tables the fixture writes the person into: the walk must find them before erasure.
TABLES_WITH_THE_PERSON = {
    "contacts",
    "contact_tags",
    "consent_events",
    "bans",
    "engagement_events",
    "campaign_recipients",
    "profiles",
    "interactions",
    "disclosures",
    "objections",
    "legal_holds",
    "restrictions",
    "data_subject_requests",
    "bounce_counters",
}
TABLES_NAMING_THE_CONTACT = {
    "consent_states",
    "call_list_entries",
    "contact_changes",
}


def _text(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


async def walk(sessionmaker: SessionMaker) -> list[tuple[str, str, Any]]:
    """Every (table, column, value) of every table in the metadata."""
    cells: list[tuple[str, str, Any]] = []
    async with sessionmaker() as session:
        for table in SQLModel.metadata.sorted_tables:
            for row in (await run(session, select(table))).mappings().all():
                cells.extend((table.name, column, value) for column, value in row.items())
    return cells


def findings(
    cells: list[tuple[str, str, Any]], needles: list[str], hashes: set[str], contact_id: int
) -> set[tuple[str, str]]:
    """(table, column) pairs holding something of the person."""
    found = set()
    for table, column, value in cells:
        if value is None:
            continue
        text = _text(value).casefold()
        if (
            any(needle.casefold() in text for needle in needles)
            or _text(value) in WHOLE_VALUES
            or _text(value) in hashes
            or (column == "contact_id" and value == contact_id)
        ):
            found.add((table, column))
    return found


async def give_them_everything(
    admin: Client, sessionmaker: SessionMaker, contact_id: int
) -> dict[str, int]:
    """Every kind of row the register can hold about a person, through the API
    where it has a route of ours and through the models where it has none."""
    url = f"/api/v1/contacts/{contact_id}"
    evidence = {**EVIDENCE, "text": "Maija Erasable ticked the box", "ip": "198.51.100.77"}
    await grant(admin, contact_id, evidence=evidence)
    await grant(admin, contact_id, purpose="email_tracking", evidence=evidence)
    await withdraw(admin, contact_id, purpose="email_tracking", method="web_form")
    await ban(admin, contact_id, kind="purchase_registration", note="ERASE-ME by phone")
    objection = {"scope": "other_processing", "grounds": "Maija Erasable objects, ERASE-ME"}
    objected = await admin.post(f"{url}/objections", json=objection)
    assert objected.status_code == 201, objected.text
    decided = await admin.patch(
        f"{url}/objections/{objected.json()['id']}",
        json={"decision": "rejected", "note": "Grounds about Maija Erasable"},
    )
    assert decided.status_code == 200, decided.text
    hold = await admin.post(f"{url}/legal-holds", json={"reason": "Dispute, ERASE-ME"})
    assert hold.status_code == 201
    lifted = await admin.request(
        "DELETE", f"{url}/legal-holds/{hold.json()['id']}", json={"note": "Settled ERASE-ME"}
    )
    assert lifted.status_code == 200
    restricted = await admin.post(f"{url}/restriction", json={"reason": "Contested ERASE-ME"})
    assert restricted.status_code == 200, restricted.text
    unrestricted = await admin.request(
        "DELETE",
        f"{url}/restriction",
        json={"note": "Checked ERASE-ME", "informed_how": "phone ERASE-ME"},
    )
    assert unrestricted.status_code == 200, unrestricted.text
    rectification = await add_request(
        sessionmaker,
        RequestType.RECTIFICATION,
        contact_id=contact_id,
        requester="Maija Erasable",
        description="New city Erasecity",
        outcome="Rectified for Maija Erasable",
    )
    patched = await admin.patch(f"{url}?request_id={rectification}", json={"city": "Erasecity"})
    assert patched.status_code == 200, patched.text
    erasure_request = await add_request(
        sessionmaker,
        RequestType.ERASURE,
        contact_id=contact_id,
        requester="Maija Erasable <maija.erase@example.fi>",
        description=f"Erase me, {HETU}",
    )
    email_campaign = await admin.post(
        "/api/v1/campaigns",
        json={"name": "News", "channel": "email", "subject": "Hi", "body_html": "<p>Hi</p>"}
        | {"body_text": "Hi"},
    )
    phone_campaign = await admin.post(
        "/api/v1/campaigns", json={"name": "Call round", "channel": "phone"}
    )
    assert email_campaign.status_code == 201 and phone_campaign.status_code == 201
    cipher = DataCipher(TEST_DATA_KEY)
    now = datetime.now(UTC)
    async with session_scope(sessionmaker) as session:
        staff = (await session.exec(select_rows(User))).first()
        session.add_all(
            [
                EngagementEvent(
                    stream_id="1-1",
                    kind=EngagementKind.CLICK,
                    contact_id=contact_id,
                    page="https://example.fi/ERASE-ME/offer",
                    referrer="https://mail.example.fi/ERASE-ME",
                    ip_network="198.51.100.0/24",
                    browser_family="Chrome",
                ),
                # Aggregate (no contact): must survive, and holds nothing of the person.
                EngagementEvent(
                    stream_id="1-2", kind=EngagementKind.OPEN, ip_network="203.0.113.0/24"
                ),
                CampaignRecipient(
                    campaign_id=email_campaign.json()["id"],
                    contact_id=contact_id,
                    channel=CampaignChannel.EMAIL,
                    status=RecipientStatus.SENT,
                    smtp_code=250,
                    smtp_reply="250 2.0.0 queued for <maija.erase@example.fi>",
                    sent_at=now,
                ),
                Profile(
                    contact_id=contact_id,
                    completed_on=date(2026, 3, 10),
                    content_encrypted="ERASE-ME profile content",
                ),
                Interaction(
                    contact_id=contact_id,
                    kind=InteractionKind.PURCHASE,
                    occurred_on=date(2026, 5, 1),
                    note="Maija Erasable bought coaching",
                    details={"product": "Coaching, ERASE-ME", "amount": "990.00"},
                ),
                Disclosure(
                    contact_id=contact_id,
                    recipient_type=DisclosureRecipient.EMPLOYER,
                    recipient_name="Erasable Employer Oy",
                    data_categories=["name", "ERASE-ME report"],
                    purpose="Programme report for Maija Erasable",
                    disclosed_on=date(2026, 5, 2),
                ),
                BounceCounter(
                    value_hash=cipher.lookup_hash("email", PERSON["email"]),
                    soft_count=1,
                    last_status="4.2.2",
                ),
            ]
        )
        call_list = CallList(
            campaign_id=phone_campaign.json()["id"],
            status=CallListStatus.READY,
            entry_count=1,
            built_at=now,
            expires_at=now + timedelta(days=7),
        )
        session.add(call_list)
        await session.flush()
        assert call_list.id is not None
        session.add(CallListEntry(call_list_id=call_list.id, contact_id=contact_id))
        assert staff is not None
        session.add(CallListDownload(call_list_id=call_list.id, user_id=staff.id, entry_count=1))
    return {"erasure_request": erasure_request, "rectification_request": rectification}


async def test_erasure_leaves_nothing_of_the_person_but_the_suppression_hashes(
    admin: Client, sessionmaker: SessionMaker
) -> None:
    bystander = await add_contact(admin, full_name="Bertta Bystander", email="b@example.fi")
    await grant(admin, bystander)
    bystander_before = (await admin.get(f"/api/v1/contacts/{bystander}/export")).json()
    contact_id = await add_contact(admin, **PERSON)
    ids = await give_them_everything(admin, sessionmaker, contact_id)
    async with sessionmaker() as session:
        contact = await session.get(Contact, contact_id)
        assert contact is not None and contact.identity_code_encrypted is not None
        assert contact.email_hash and contact.phone_hash and contact.identity_code_hash
        email_hash, phone_hash = contact.email_hash, contact.phone_hash
        secrets = {email_hash, phone_hash, contact.identity_code_hash}
        needles = [*NEEDLES, contact.identity_code_encrypted]

    before = findings(await walk(sessionmaker), needles, secrets, contact_id)
    # The walk sees the person wherever the fixture put them: it can fail.
    assert {table for table, _ in before} >= TABLES_WITH_THE_PERSON | TABLES_NAMING_THE_CONTACT

    response = await admin.delete(
        f"/api/v1/contacts/{contact_id}?request_id={ids['erasure_request']}"
    )
    assert response.status_code == 204, response.text

    after = findings(await walk(sessionmaker), needles, secrets, contact_id)
    # Only the suppression list's keyed hashes, the erasure record's contact id,
    # and the audit trail's: it keeps ids (never values) as the record of who
    # handled the person's data, erasure included (docs/audit.md). The task of
    # telling the recipient of their disclosed data of the erasure (GDPR 19)
    # keeps the contact id and the recipient's name: here the recipient is the
    # person's employer, whose name the contact's employer field held too.
    assert after == {
        ("suppressions", "value_hash"),
        ("erasures", "contact_id"),
        ("audit_events", "contact_id"),
        ("recipient_notifications", "contact_id"),
        ("recipient_notifications", "recipient_name"),
    }
    async with sessionmaker() as session:
        suppressed = (await session.exec(select_rows(Suppression))).all()
        assert {(s.value_hash, s.kind, s.reason) for s in suppressed} == {
            (email_hash, "email", "erasure"),
            (phone_hash, "phone", "erasure"),
        }
        [erasure] = (await session.exec(select_rows(Erasure))).all()
        assert (erasure.contact_id, erasure.cause) == (contact_id, "request")
        assert erasure.request_id == ids["erasure_request"] and erasure.erased_by_user_id
        # Kept, anonymous: the campaign's counts and the proof the request was answered.
        [recipient] = (await session.exec(select_rows(CampaignRecipient))).all()
        assert recipient.status is RecipientStatus.SENT and recipient.contact_id is None
        requests = (await session.exec(select_rows(DataSubjectRequest))).all()
        assert len(requests) == 2 and all(r.contact_id is None for r in requests)
    assert await actions_of(sessionmaker, ids["erasure_request"]) == ["erasure"]
    assert await count(sessionmaker, EngagementEvent) == 1  # the aggregate one

    assert (await admin.get(f"/api/v1/contacts/{contact_id}")).status_code == 404
    bystander_after = (await admin.get(f"/api/v1/contacts/{bystander}/export")).json()
    for key in ("contact", "consents", "bans", "engagement", "messages"):
        assert bystander_after[key] == bystander_before[key]


@pytest.mark.parametrize(
    ("again", "field"),
    [
        ({"email": "MAIJA.ERASE@example.fi"}, "email"),
        ({"email": "new.address@example.fi", "phone": "+358 40 123 9876"}, "phone"),
    ],
)
async def test_the_erased_person_cannot_be_imported_again(
    admin: Client, again: dict[str, Any], field: str
) -> None:
    contact_id = await add_contact(admin, email=PERSON["email"], phone=PERSON["phone"])
    assert (await admin.delete(f"/api/v1/contacts/{contact_id}")).status_code == 204
    response = await admin.post(
        "/api/v1/contacts",
        json=contact_payload(**{**PERSON, "personal_identity_code": None, **again}),
    )
    assert response.status_code == 409, response.text
    assert response.json()["reason"] == "suppressed"
    assert field in response.json()["fields"]
    assert (await admin.get("/api/v1/contacts")).json()["total"] == 0


async def test_a_legal_hold_stops_erasure_and_changes_nothing(
    admin: Client, sessionmaker: SessionMaker
) -> None:
    contact_id = await add_contact(admin, email="held@example.fi", phone="0401112223")
    url = f"/api/v1/contacts/{contact_id}"
    request_id = await add_request(sessionmaker, RequestType.ERASURE, contact_id=contact_id)
    hold = (await admin.post(f"{url}/legal-holds", json={"reason": "Claim pending"})).json()

    refused = await admin.delete(f"{url}?request_id={request_id}")
    assert refused.status_code == 409, refused.text
    assert refused.json()["reason"] == "legal_hold"
    assert (await admin.get(url)).status_code == 200
    assert await count(sessionmaker, Suppression) == 0
    assert await count(sessionmaker, Erasure) == 0
    assert await actions_of(sessionmaker, request_id) == []

    assert (await admin.delete(f"{url}/legal-holds/{hold['id']}")).status_code == 200
    assert (await admin.delete(f"{url}?request_id={request_id}")).status_code == 204
    assert await count(sessionmaker, Erasure) == 1


async def test_unknown_contact_is_404(admin: Client) -> None:
    response = await admin.delete("/api/v1/contacts/999999")
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("kind", "status", "other_contact", "words"),
    [
        (None, RequestStatus.OPEN, False, "no data-subject request"),
        (RequestType.ERASURE, RequestStatus.DONE, False, "not open"),
        (RequestType.ERASURE, RequestStatus.OPEN, True, "another contact"),
        (RequestType.ACCESS, RequestStatus.OPEN, False, "access request"),
    ],
)
async def test_a_bad_request_id_is_a_422_and_erases_nothing(
    admin: Client,
    sessionmaker: SessionMaker,
    kind: RequestType | None,
    status: RequestStatus,
    other_contact: bool,
    words: str,
) -> None:
    contact_id = await add_contact(admin)
    other = await add_contact(admin, email="other@example.fi")
    request_id = 999_999
    if kind is not None:
        owner = other if other_contact else contact_id
        request_id = await add_request(sessionmaker, kind, contact_id=owner, status=status)
    response = await admin.delete(f"/api/v1/contacts/{contact_id}?request_id={request_id}")
    assert response.status_code == 422, response.text
    assert words in response.json()["fields"]["request_id"]
    assert (await admin.get(f"/api/v1/contacts/{contact_id}")).status_code == 200
    assert await count(sessionmaker, Suppression) == 0
    assert await count(sessionmaker, Erasure) == 0
