"""Consent receipts: one ledger event as the person's copy (ISO/IEC TS 27560
fields), through the service, the staff API and the access export."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service import clock
from service.consent import archive, receipts
from service.consent import service as consent_service
from service.consent.schemas import ConsentCreate, Evidence
from service.consent.service import Collected
from service.contacts import service as contacts_service
from service.crypto import DataCipher
from service.db import SessionMaker, session_scope
from service.errors import NotFound
from service.models import SignupForm
from service.models.enums import (
    Actor,
    CaptureMethod,
    Channel,
    ConsentAction,
    Purpose,
    Source,
)
from service.settings import Settings
from tests.support.factories import create_contact

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
