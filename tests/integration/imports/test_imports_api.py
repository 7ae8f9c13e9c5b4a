"""``POST /api/v1/imports`` end to end, and the suppression list refusing the
silent re-import of an erased person."""

from __future__ import annotations

from sqlmodel import select

from service.models import AuditEvent, ConsentEvent, Contact
from service.models.enums import Role
from tests.support.factories import contact_payload

FILE = (
    "full_name,email,phone,legal_basis,source,consent_email_direct_marketing,consent_evidence_text\n"
    "Maija Meikäläinen,maija@example.fi,+358401234567,consent,employer,grant,Lomake 2026\n"
    "Huono Rivi,huono,,consent,self,,\n"
).encode()


async def test_upload_imports_and_answers_with_the_report(admin, session) -> None:
    response = await admin.post(
        "/api/v1/imports", files={"file": ("../../etc/messu.csv", FILE, "text/csv")}
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["file_name"], report["created"], report["refused"]) == ("messu.csv", 1, 1)
    assert report["written"] is True
    assert report["problems"] == [
        {
            "line": 3,
            "field": "email",
            "reason": "invalid",
            "message": report["problems"][0]["message"],
        }
    ]
    assert "huono" not in response.text
    contact = (await session.exec(select(Contact))).one()
    assert (contact.email, contact.source.value) == ("maija@example.fi", "employer")
    event = (await session.exec(select(ConsentEvent))).one()
    assert event.evidence_text is not None
    assert event.evidence_text.startswith("import: messu.csv at ")
    assert event.evidence_text.endswith("; Lomake 2026")
    assert event.source.value == "import"
    assert event.recorded_by_user_id is not None
    audit = (
        await session.exec(select(AuditEvent).where(AuditEvent.route == "/api/v1/imports"))
    ).all()
    assert len(audit) == 1


async def test_a_csv_body_works_too_and_dry_run_writes_nothing(admin, session) -> None:
    response = await admin.post(
        "/api/v1/imports?dry_run=true", content=FILE, headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 200, response.text
    assert (response.json()["created"], response.json()["written"]) == (1, False)
    assert (await session.exec(select(Contact))).all() == []
    response = await admin.post(
        "/api/v1/imports?all_or_nothing=true", content=FILE, headers={"Content-Type": "text/csv"}
    )
    assert response.json()["written"] is False
    assert (await session.exec(select(Contact))).all() == []


async def test_an_unreadable_file_is_422_and_changes_nothing(admin, session) -> None:
    response = await admin.post(
        "/api/v1/imports",
        content=b"full_name,email,hobby\nA,a@example.fi,golf\n",
        headers={"Content-Type": "text/csv"},
    )
    assert response.status_code == 422
    assert response.json()["fields"] == {"hobby": "unknown column"}
    missing = await admin.post(
        "/api/v1/imports", content=b"{}", headers={"Content-Type": "application/json"}
    )
    assert missing.status_code == 422
    assert (await session.exec(select(Contact))).all() == []


async def test_a_viewer_may_not_import(client, make_token, session) -> None:
    client.headers["Authorization"] = f"Bearer {await make_token(Role.VIEWER)}"
    response = await client.post(
        "/api/v1/imports", content=FILE, headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 403
    assert (await session.exec(select(Contact))).all() == []


async def test_an_erased_person_is_refused_as_suppressed(admin, session) -> None:
    created = await admin.post(
        "/api/v1/contacts", json=contact_payload(email="poistettu@example.fi")
    )
    assert created.status_code == 201, created.text
    erased = await admin.delete(f"/api/v1/contacts/{created.json()['id']}")
    assert erased.status_code == 204, erased.text
    response = await admin.post(
        "/api/v1/imports",
        content=b"full_name,email,legal_basis\nPaluu Yritys,Poistettu@Example.fi,consent\n",
        headers={"Content-Type": "text/csv"},
    )
    report = response.json()
    assert (report["created"], report["refused_by_reason"]) == (0, {"suppressed": 1})
    assert report["problems"][0]["field"] == "email"
    assert (await session.exec(select(Contact))).all() == []


async def test_a_contact_made_through_the_api_is_found_by_its_identity_code(admin, session) -> None:
    created = await admin.post(
        "/api/v1/contacts", json=contact_payload(personal_identity_code="131052-308T")
    )
    assert created.status_code == 201, created.text
    response = await admin.post(
        "/api/v1/imports",
        content=b"personal_identity_code,city\n131052-308T,Lahti\n",
        headers={"Content-Type": "text/csv"},
    )
    assert (response.json()["updated"], response.json()["created"]) == (1, 0)
    assert "131052" not in response.text
    contact = (await session.exec(select(Contact))).one()
    assert contact.city == "Lahti"


async def test_rows_true_lists_every_rows_outcome_and_a_dry_run_writes_nothing(
    admin, session
) -> None:
    await admin.post("/api/v1/contacts", json=contact_payload(email="vanha@example.fi"))
    body = (
        "full_name,email,legal_basis,source\n"
        "Uusi,uusi@example.fi,consent,self\n"
        "Maija Meikäläinen,vanha@example.fi,customer_relationship,self\n"
        "Muutettu Nimi,vanha2@example.fi,consent,self\n"
        "Huono,huono,consent,self\n"
    ).encode()
    response = await admin.post(
        "/api/v1/imports?dry_run=true&rows=true",
        content=body,
        headers={"Content-Type": "text/csv"},
    )
    assert response.status_code == 200, response.text
    lines = response.json()["lines"]
    assert [(row["line"], row["outcome"]) for row in lines] == [
        (2, "created"),
        (3, "unchanged"),
        (4, "created"),
        (5, "refused"),
    ]
    assert lines[3]["problems"][0]["field"] == "email"
    assert "huono" not in response.text.lower()  # lines name no value
    assert len((await session.exec(select(Contact))).all()) == 1
    plain = await admin.post(
        "/api/v1/imports?dry_run=true", content=body, headers={"Content-Type": "text/csv"}
    )
    assert plain.json()["lines"] is None  # only when asked for
