"""Access and portability (GDPR 15, 20): everything held about the person, as
JSON and as a zip of CSV files, with the Article 15 information."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from service.crypto import DataCipher
from service.db import SessionMaker, session_scope
from service.models import (
    AuditEvent,
    CallList,
    CallListDownload,
    CallListEntry,
    CampaignRecipient,
    Disclosure,
    EngagementEvent,
    Interaction,
    Profile,
    User,
)
from service.models.engagement import EngagementKind
from service.models.enums import (
    CallListStatus,
    CampaignChannel,
    DisclosureRecipient,
    InteractionKind,
    ProfileState,
    RecipientStatus,
    RequestType,
)
from service.profiles.service import seal_content
from service.settings import Settings
from tests.conftest import TEST_DATA_KEY
from tests.integration.rights.support import (
    Client,
    actions_of,
    add_contact,
    add_request,
)
from tests.support.factories import EVIDENCE, grant

HETU = "131052-308T"
SECRET_CONTENT = "DISC-REPORT-CONTENT"


async def audit_rows(sessionmaker: SessionMaker, action: str, contact_id: int) -> list[Any]:
    async with sessionmaker() as session:
        query = select(AuditEvent).where(
            AuditEvent.action == action, AuditEvent.contact_id == contact_id
        )
        return list((await session.exec(query)).all())


async def populate(admin: Client, sessionmaker: SessionMaker) -> int:
    contact_id = await add_contact(
        admin,
        full_name='=HYPERLINK("http://evil")',
        nickname="Mäkinen",
        phone="040 765 4321",
        personal_identity_code=HETU,
        language="sv",
        source="employer",
        tags=["vip"],
    )
    url = f"/api/v1/contacts/{contact_id}"
    await grant(admin, contact_id, evidence={**EVIDENCE, "ip": "198.51.100.7"})
    await admin.post(f"{url}/bans", json={"kind": "purchase_registration", "source": "self"})
    await admin.post(f"{url}/objections", json={"scope": "other_processing", "grounds": "Why"})
    await admin.post(f"{url}/legal-holds", json={"reason": "Claim"})
    request_id = await add_request(sessionmaker, RequestType.RECTIFICATION, contact_id=contact_id)
    await admin.patch(f"{url}?request_id={request_id}", json={"city": "Vaasa"})
    email = await admin.post(
        "/api/v1/campaigns",
        json={"name": "Spring", "channel": "email", "subject": "S", "body_html": "<p>S</p>"}
        | {"body_text": "S"},
    )
    phone = await admin.post("/api/v1/campaigns", json={"name": "Calls", "channel": "phone"})
    now = datetime.now(UTC)
    async with session_scope(sessionmaker) as session:
        staff = (await session.exec(select(User))).first()
        assert staff is not None
        session.add_all(
            [
                EngagementEvent(
                    stream_id="9-1",
                    kind=EngagementKind.CLICK,
                    contact_id=contact_id,
                    page="https://example.fi/offer",
                    ip_network="198.51.100.0/24",
                ),
                CampaignRecipient(
                    campaign_id=email.json()["id"],
                    contact_id=contact_id,
                    channel=CampaignChannel.EMAIL,
                    status=RecipientStatus.SENT,
                    sent_at=now,
                    bounced_at=now,
                    bounce_status="5.1.1",
                ),
                Profile(
                    contact_id=contact_id,
                    completed_on=date(2026, 3, 10),
                    has_vendor_account=True,
                    content_encrypted=seal_content(SECRET_CONTENT, DataCipher(TEST_DATA_KEY)),
                ),
                Profile(
                    contact_id=contact_id,
                    completed_on=date(2023, 1, 10),
                    has_vendor_account=True,
                    state=ProfileState.TRANSFERRED,
                    transferred_at=now,
                ),
                Interaction(
                    contact_id=contact_id,
                    kind=InteractionKind.SERVICE_CONTACT,
                    occurred_on=date(2026, 6, 1),
                    note="Called",
                ),
                Disclosure(
                    contact_id=contact_id,
                    recipient_type=DisclosureRecipient.COACH,
                    recipient_name="Coach Oy",
                    data_categories=["name", "email"],
                    purpose="Programme",
                    disclosed_on=date(2026, 6, 2),
                ),
            ]
        )
        call_list = CallList(
            campaign_id=phone.json()["id"],
            status=CallListStatus.READY,
            entry_count=1,
            built_at=now,
            expires_at=now + timedelta(days=7),
        )
        session.add(call_list)
        await session.flush()
        assert call_list.id is not None
        session.add(CallListEntry(call_list_id=call_list.id, contact_id=contact_id))
        session.add(CallListDownload(call_list_id=call_list.id, user_id=staff.id, entry_count=1))
    return contact_id


async def test_the_export_holds_everything_with_the_persons_own_code_and_profiles(
    admin: Client, sessionmaker: SessionMaker, settings: Settings
) -> None:
    contact_id = await populate(admin, sessionmaker)
    response = await admin.get(f"/api/v1/contacts/{contact_id}/export")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    # Theirs: the identity code whole (masked everywhere else), and the report
    # of the profile still kept here; the one handed over has none.
    assert body["contact"]["personal_identity_code"] == HETU
    [audited] = await audit_rows(sessionmaker, "contact.export", contact_id)
    assert audited.details["identity_code_included"] is True
    assert body["contact"]["city"] == "Vaasa" and body["contact"]["tags"] == ["vip"]
    [event] = body["consents"]["history"]
    assert event["evidence_ip"] == "198.51.100.0/24" and body["consents"]["current"]
    assert [ban["kind"] for ban in body["bans"]] == ["purchase_registration"]
    assert body["engagement"][0]["page"] == "https://example.fi/offer"
    [message] = body["messages"]
    assert (message["campaign_name"], message["status"]) == ("Spring", "sent")
    assert message["bounce_status"] == "5.1.1"
    assert [entry["campaign_name"] for entry in body["call_lists"]] == ["Calls"]
    kept, handed_over = body["profiles"]
    assert kept["has_vendor_account"] is True and "content_encrypted" not in kept
    assert kept["content"] == SECRET_CONTENT and kept["state"] == "kept"
    assert (handed_over["state"], handed_over["content"]) == ("transferred", None)
    # The receipts of their consents are there, one per ledger event.
    assert [r["receipt_id"] for r in body["consent_receipts"]] and len(
        body["consent_receipts"]
    ) == len(body["consents"]["history"])
    assert body["interactions"][0]["note"] == "Called"
    assert body["disclosures"][0]["recipient_name"] == "Coach Oy"
    assert body["objections"][0]["grounds"] == "Why"
    assert body["legal_holds"][0]["reason"] == "Claim"
    [request] = body["requests"]
    assert request["type"] == "rectification"
    assert [a["action"] for a in request["actions"]] == ["rectification"]
    assert body["rectifications"][0]["fields"] == ["city"]
    [download] = body["accesses"]["call_list_downloads"]
    assert download["user_role"] == "admin"
    log = body["accesses"]["access_log"]
    assert log["recorded"] is True and "audit trail" in log["note"]
    # The staff requests that read or changed the record, from the audit trail.
    assert [event["action"] for event in log["events"]] == [
        "contact.create",
        "consent.record",
        "ban.record",
        "objection.record",
        "legal_hold.place",
        "contact.update",
    ]
    assert {event["user_role"] for event in log["events"]} == {"admin"}

    info = body["information"]
    assert info["language"] == "en"  # the contact's Swedish falls back to English
    assert info["controller"]["name"] == settings.controller_name
    assert info["controller"]["privacy_contact"] == settings.privacy_contact
    assert "employer" in info["source"]
    assert "Data Protection Ombudsman" in info["supervisory_authority"]["name"]
    assert info["supervisory_authority"]["website"].startswith("https://tietosuoja.fi")
    rules = {rule["rule"]: rule["text"] for rule in info["retention"]}
    assert {
        "contact_5_years",
        "profile_transfer_2_years",
        "profile_no_account",
        "profile_consent_withdrawn",
    } <= set(rules)
    assert "2031-06-02" in rules["contact_5_years"]  # last service contact 2026-06-01 + 5 y + 1 d
    assert f"{settings.engagement_retention_days} days" in rules["engagement_events"]
    assert f"{settings.audit_retention_days} days after each entry" in rules["audit_trail"]
    assert {right["right"] for right in info["rights"]} >= {
        "access",
        "rectification",
        "erasure",
        "restriction",
        "portability",
        "objection",
        "withdrawal",
        "complaint",
    }


async def test_the_information_is_in_finnish_on_request(
    admin: Client, sessionmaker: SessionMaker
) -> None:
    contact_id = await add_contact(admin, language="en")
    body = (await admin.get(f"/api/v1/contacts/{contact_id}/export?lang=fi")).json()
    info = body["information"]
    assert info["language"] == "fi"
    assert info["supervisory_authority"]["name"] == "Tietosuojavaltuutetun toimisto"
    assert info["your_legal_basis"] == "asiakassuhde"
    assert "sinulta itseltäsi" in info["source"]
    assert "02.06.2031" in info["retention"][0]["text"]
    bad = await admin.get(f"/api/v1/contacts/{contact_id}/export?lang=de")
    assert bad.status_code == 422


async def test_the_zip_holds_one_csv_per_section_safe_for_spreadsheets(
    admin: Client, sessionmaker: SessionMaker
) -> None:
    contact_id = await populate(admin, sessionmaker)
    request_id = await add_request(sessionmaker, RequestType.PORTABILITY, contact_id=contact_id)
    response = await admin.get(
        f"/api/v1/contacts/{contact_id}/export.zip?request_id={request_id}&lang=fi"
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert f"contact-{contact_id}-export.zip" in response.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = set(archive.namelist())
    assert {"README.txt", "information.json", "contact.csv", "consents_history.csv"} <= names
    assert {"messages.csv", "profiles.csv", "call_list_downloads.csv", "requests.csv"} <= names
    assert "access_log.csv" in names

    def rows(name: str) -> list[dict[str, str]]:
        return list(csv.DictReader(io.StringIO(archive.read(name).decode("utf-8"))))

    [contact] = rows("contact.csv")
    assert contact["full_name"] == '\'=HYPERLINK("http://evil")'  # not run as a formula
    assert contact["nickname"] == "Mäkinen" and contact["phone"] == "+358407654321"
    assert contact["personal_identity_code"] == HETU
    assert [row["content"] for row in rows("profiles.csv")] == [SECRET_CONTENT, ""]
    assert json.loads(archive.read("consent_receipts.json"))
    assert [row["tag"] for row in rows("tags.csv")] == ["vip"]
    assert rows("disclosures.csv")[0]["data_categories"] == '["name", "email"]'
    assert rows("objections.csv")[0]["decision"] == "pending"
    # An empty section still says what it would hold.
    assert archive.read("engagement.csv").decode().startswith("id,kind,")
    readme = archive.read("README.txt").decode("utf-8")
    assert "Tietosuojavaltuutetun toimisto" in readme and "kirjausketjusta" in readme
    access_log = rows("access_log.csv")
    assert [row["action"] for row in access_log][:2] == ["contact.create", "consent.record"]
    assert set(access_log[0]) == {"occurred_at", "action", "user_id", "user_role", "reason"}
    info = json.loads(archive.read("information.json"))
    assert info["language"] == "fi"
    assert await actions_of(sessionmaker, request_id) == ["portability"]


@pytest.mark.parametrize(("path", "action"), [("export", "access"), ("export.zip", "portability")])
async def test_an_export_answers_its_request(
    admin: Client, sessionmaker: SessionMaker, path: str, action: str
) -> None:
    contact_id = await add_contact(admin)
    access = await add_request(sessionmaker, RequestType.ACCESS, contact_id=contact_id)
    erasure = await add_request(sessionmaker, RequestType.ERASURE, contact_id=contact_id)
    url = f"/api/v1/contacts/{contact_id}/{path}"
    wrong = await admin.get(f"{url}?request_id={erasure}")
    assert wrong.status_code == 422 and "request_id" in wrong.json()["fields"]
    assert (await admin.get(f"{url}?request_id={access}")).status_code == 200
    assert await actions_of(sessionmaker, access) == [action]
    assert await actions_of(sessionmaker, erasure) == []
    assert (await admin.get(f"/api/v1/contacts/999999/{path}")).status_code == 404


async def test_a_restricted_person_still_gets_their_data(admin: Client) -> None:
    contact_id = await add_contact(admin)
    url = f"/api/v1/contacts/{contact_id}"
    await admin.post(f"{url}/restriction", json={"reason": "Contested"})
    body: dict[str, Any] = (await admin.get(f"{url}/export")).json()
    assert body["contact"]["restricted"] is True
