"""Consent receipts: one ledger event as the person's copy (ISO/IEC TS 27560
fields), through the service, the staff API and the access export."""

from __future__ import annotations

import hashlib
import io
import json
import uuid
import zipfile
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlmodel import col, select

from service import clock
from service.consent import archive, receipts
from service.consent import service as consent_service
from service.consent.schemas import ConsentCreate, Evidence
from service.consent.service import Collected
from service.contacts import service as contacts_service
from service.crypto import DataCipher
from service.db import SessionMaker, run, session_scope
from service.errors import NotFound
from service.models import AuditEvent, SignupForm
from service.models.enums import (
    Actor,
    CaptureMethod,
    Channel,
    ConsentAction,
    Purpose,
    Role,
    Source,
)
from service.settings import Settings
from tests.conftest import TokenFactory
from tests.support.factories import create_contact, grant, withdraw

Client = AsyncTestClient[Litestar]
WORDS = "Kyllä, lähettäkää minulle uutiskirje sähköpostiin."


@dataclass(frozen=True)
class Signed:
    contact_id: int
    event_id: int
    text_id: int
    submitted_at: Any


async def _sign_up(sessionmaker: SessionMaker, cipher: DataCipher, slug: str) -> Signed:
    """A grant as the double opt-in records it: a form, an archived text, the
    submission's time and network, confirmed a little later."""
    contact_id = await create_contact(sessionmaker, cipher=cipher, email=f"{slug}@example.fi")
    submitted_at = clock.now() - timedelta(minutes=5)
    async with session_scope(sessionmaker) as session:
        form = SignupForm(
            slug=slug,
            name="News",
            languages=["fi"],
            offers=[],
            fields={"email": True},
            version=3,
        )
        session.add(form)
        await session.flush()
        text = await archive.archive(
            session, key=f"form:{slug}:email.direct_marketing", language="fi", body=WORDS
        )
        contact = await contacts_service.get(session, contact_id)
        event = await consent_service.record_consent(
            session,
            contact=contact,
            data=ConsentCreate(
                channel=Channel.EMAIL,
                purpose=Purpose.DIRECT_MARKETING,
                action=ConsentAction.GRANT,
                source=Source.SELF,
                method=CaptureMethod.DOUBLE_OPT_IN,
                evidence=Evidence(text=WORDS, notice_version="2026-01", ip="198.51.100.23"),
            ),
            actor=Actor.PUBLIC_LINK,
            user_id=None,
            collected=Collected(
                text_id=text.id,
                language="fi",
                form_id=form.id,
                form_version=3,
                submitted_at=submitted_at,
                submission_ip="203.0.113.0/24",
            ),
        )
        assert event.id is not None and text.id is not None
        return Signed(contact_id, event.id, text.id, submitted_at)


@pytest.fixture
def cipher(settings: Settings) -> DataCipher:
    return DataCipher(settings.data_key)


async def test_a_double_opt_in_receipt_names_the_form_the_text_and_both_times(
    sessionmaker: SessionMaker, settings: Settings, cipher: DataCipher
) -> None:
    signed = await _sign_up(sessionmaker, cipher, "news-doi")
    async with session_scope(sessionmaker) as session:
        contact = await contacts_service.get(session, signed.contact_id)
        receipt = await receipts.for_event(
            session, contact=contact, event_id=signed.event_id, settings=settings, cipher=cipher
        )
    body = receipt.model_dump(mode="json")
    assert body["form"] == "news-doi" and body["form_version"] == 3
    [text] = body["texts"]
    assert text["text"] == WORDS and text["version"] == 1 and text["language"] == "fi"
    assert text["hash"] == hashlib.sha256(WORDS.encode()).hexdigest()
    assert text["key"] == "form:news-doi:email.direct_marketing"
    assert receipt.submitted_at is not None and receipt.confirmed_at is not None
    assert receipt.submitted_at == signed.submitted_at
    assert receipt.confirmed_at == receipt.recorded_at > receipt.submitted_at
    assert body["submission_network"] == "203.0.113.0/24"
    assert body["collection_network"] == "198.51.100.0/24"
    assert body["method"] == "double_opt_in" and body["actor"] == "person"
    assert "confirmed from the link" in body["affirmative_action"]
    assert body["legal_basis"]["basis"] == "consent"
    assert "6(1)(a)" in body["legal_basis"]["reference"]
    assert body["controller"]["name"] == settings.controller_name
    assert body["controller"]["business_id"] == settings.controller_business_id
    assert body["language"] == "fi" and body["notice_version"] == "2026-01"
    assert any("unsubscribe" in way for way in body["how_to_withdraw"])
    assert any(settings.privacy_contact in way for way in body["how_to_withdraw"])
    assert uuid.UUID(body["receipt_id"]).version == 8
    # Pseudonymous: nothing in the receipt names the person's address.
    assert "news-doi@example.fi" not in str(body)
    assert body["subject_id"] != str(signed.contact_id) and len(body["subject_id"]) == 64


async def test_a_receipt_is_the_same_every_time_and_ids_differ_between_events(
    sessionmaker: SessionMaker, settings: Settings, cipher: DataCipher
) -> None:
    one = await _sign_up(sessionmaker, cipher, "stable-one")
    two = await _sign_up(sessionmaker, cipher, "stable-two")
    async with session_scope(sessionmaker) as session:
        contact = await contacts_service.get(session, one.contact_id)
        first = await receipts.for_event(
            session, contact=contact, event_id=one.event_id, settings=settings, cipher=cipher
        )
        again = await receipts.for_event(
            session, contact=contact, event_id=one.event_id, settings=settings, cipher=cipher
        )
        other = await contacts_service.get(session, two.contact_id)
        theirs = await receipts.for_event(
            session, contact=other, event_id=two.event_id, settings=settings, cipher=cipher
        )
    assert first.model_dump(exclude={"issued_at"}) == again.model_dump(exclude={"issued_at"})
    assert first.receipt_id != theirs.receipt_id
    assert first.subject_id != theirs.subject_id
    # Another key gives other ids: they cannot be worked out from the event id.
    assert receipts.receipt_id(DataCipher("another key " * 3), one.event_id) != first.receipt_id


async def test_another_contacts_event_is_not_found(
    sessionmaker: SessionMaker, settings: Settings, cipher: DataCipher
) -> None:
    one = await _sign_up(sessionmaker, cipher, "mine")
    two = await _sign_up(sessionmaker, cipher, "yours")
    async with session_scope(sessionmaker) as session:
        contact = await contacts_service.get(session, one.contact_id)
        with pytest.raises(NotFound):
            await receipts.for_event(
                session, contact=contact, event_id=two.event_id, settings=settings, cipher=cipher
            )
        listed = await receipts.for_events(
            session,
            contact=contact,
            event_ids=[one.event_id, two.event_id],
            settings=settings,
            cipher=cipher,
        )
    assert [r.record_id for r in listed] == [one.event_id]


def _receipt_url(contact_id: int, event_id: int) -> str:
    return f"/api/v1/contacts/{contact_id}/consents/{event_id}/receipt"


async def test_the_api_serves_the_receipt_and_audits_the_read(
    admin: Client, sessionmaker: SessionMaker, cipher: DataCipher
) -> None:
    signed = await _sign_up(sessionmaker, cipher, "api-doi")
    response = await admin.get(_receipt_url(signed.contact_id, signed.event_id))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["form"] == "api-doi"
    assert body["texts"][0]["version"] == 1
    assert body["texts"][0]["hash"] == hashlib.sha256(WORDS.encode()).hexdigest()
    assert body["submitted_at"] and body["confirmed_at"]
    again = (await admin.get(_receipt_url(signed.contact_id, signed.event_id))).json()
    assert again["receipt_id"] == body["receipt_id"]
    async with sessionmaker() as session:
        rows = (
            await run(
                session,
                select(AuditEvent.action, AuditEvent.contact_id).where(
                    col(AuditEvent.action) == "consent_receipt.read"
                ),
            )
        ).all()
    assert [tuple(row) for row in rows] == [("consent_receipt.read", signed.contact_id)] * 2


async def test_unknown_or_anothers_event_is_404_and_hostile_ids_are_not_5xx(
    admin: Client, sessionmaker: SessionMaker, cipher: DataCipher
) -> None:
    one = await _sign_up(sessionmaker, cipher, "four-one")
    two = await _sign_up(sessionmaker, cipher, "four-two")
    assert (await admin.get(_receipt_url(one.contact_id, two.event_id))).status_code == 404
    assert (await admin.get(_receipt_url(one.contact_id, 10**9))).status_code == 404
    assert (await admin.get(_receipt_url(10**9, one.event_id))).status_code == 404
    for bad in ("x", "-1", "1e3", "%00"):
        url = f"/api/v1/contacts/{one.contact_id}/consents/{bad}/receipt"
        assert (await admin.get(url)).status_code in (400, 404), bad
    # Beyond the database's integers: out of range (on PostgreSQL too), not a 5xx.
    for huge in (_receipt_url(one.contact_id, 10**40), _receipt_url(10**40, one.event_id)):
        assert (await admin.get(huge)).status_code == 422, huge
    # Past PostgreSQL's 32-bit ids, within SQLite's 64-bit ones.
    assert (await admin.get(_receipt_url(3 * 10**9, 1))).status_code in (404, 422)


async def test_a_staff_recorded_event_has_a_receipt_with_its_free_text(
    admin: Client, sessionmaker: SessionMaker, cipher: DataCipher
) -> None:
    contact_id = await create_contact(sessionmaker, cipher=cipher, email="staff-rec@example.fi")
    event = await grant(
        admin,
        contact_id,
        method="phone_call",
        evidence={"text": "Said yes on the phone.", "notice_version": "2026-01"},
    )
    event_id = event["history"][-1]["id"]
    body = (await admin.get(_receipt_url(contact_id, event_id))).json()
    assert body["method"] == "phone_call" and body["actor"] == "staff"
    assert "recorded by staff" in body["affirmative_action"]
    assert body["form"] is None and body["confirmed_at"] is None and body["submitted_at"] is None
    assert body["texts"] == [
        {
            "key": None,
            "language": None,
            "version": None,
            "hash": hashlib.sha256(b"Said yes on the phone.").hexdigest(),
            "text": "Said yes on the phone.",
        }
    ]
    withdrawn = await withdraw(admin, contact_id)
    out = (await admin.get(_receipt_url(contact_id, withdrawn["history"][-1]["id"]))).json()
    assert out["action"] == "withdraw" and "7(3)" in out["legal_basis"]["reference"]
    assert out["receipt_id"] != body["receipt_id"]


async def test_a_role_without_contacts_read_is_refused(
    client: Client, make_token: TokenFactory, sessionmaker: SessionMaker, cipher: DataCipher
) -> None:
    signed = await _sign_up(sessionmaker, cipher, "refused")
    url = _receipt_url(signed.contact_id, signed.event_id)
    caller = {"Authorization": f"Bearer {await make_token(Role.CALLER)}"}
    assert (await client.get(url, headers=caller)).status_code == 403
    viewer = {"Authorization": f"Bearer {await make_token(Role.VIEWER)}"}
    assert (await client.get(url, headers=viewer)).status_code == 200
    assert (await client.get(url)).status_code == 401


async def test_history_items_carry_method_form_and_how_collected(
    admin: Client, sessionmaker: SessionMaker, cipher: DataCipher
) -> None:
    signed = await _sign_up(sessionmaker, cipher, "history")
    await grant(admin, signed.contact_id, channel="sms")
    history = (await admin.get(f"/api/v1/contacts/{signed.contact_id}/consents")).json()["history"]
    first, second = history
    assert first["method"] == "double_opt_in" and first["form"] == "history"
    assert first["text_id"] == signed.text_id and first["language"] == "fi"
    assert first["form_version"] == 3 and first["submitted_at"] is not None
    assert "submission_ip" not in first and "contact_id" not in first
    assert second["method"] == "web_form" and second["form"] is None
    assert second["text_id"] is None and second["submitted_at"] is None


async def test_the_access_export_holds_every_receipt(
    admin: Client, sessionmaker: SessionMaker, cipher: DataCipher
) -> None:
    signed = await _sign_up(sessionmaker, cipher, "exported")
    await withdraw(admin, signed.contact_id)
    body = (await admin.get(f"/api/v1/contacts/{signed.contact_id}/export")).json()
    history = body["consents"]["history"]
    exported = body["consent_receipts"]
    assert [r["record_id"] for r in exported] == [e["id"] for e in history]
    assert exported[0]["form"] == "exported" and exported[0]["confirmed_at"] is not None
    single = (await admin.get(_receipt_url(signed.contact_id, signed.event_id))).json()
    assert exported[0]["receipt_id"] == single["receipt_id"]
    assert {k: v for k, v in exported[0].items() if k != "issued_at"} == {
        k: v for k, v in single.items() if k != "issued_at"
    }
    archive_zip = await admin.get(f"/api/v1/contacts/{signed.contact_id}/export.zip")
    assert archive_zip.status_code == 200, archive_zip.text
    files = zipfile.ZipFile(io.BytesIO(archive_zip.content))
    in_zip = json.loads(files.read("consent_receipts.json"))
    assert [r["receipt_id"] for r in in_zip] == [r["receipt_id"] for r in exported]
