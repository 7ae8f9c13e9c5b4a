"""Behavioural profiles through the HTTP API: consent, encryption at rest,
metadata-only listings, the person's choices, and who may see them."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text, update
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.crypto import DataCipher, DecryptionError
from service.db import SessionMaker, run, session_scope
from service.models import Contact, Profile
from service.models.audit import AuditEvent
from service.models.base import utcnow
from service.models.enums import ProfileState, Role
from tests.conftest import TEST_DATA_KEY, TokenFactory
from tests.support.clock import FrozenClock
from tests.support.factories import add_contact, grant, withdraw

Client = AsyncTestClient[Litestar]
REPORT = "Maija is a steady, supportive team player (S-style); secret marker 7f3a."
STRUCTURED = {"style": "DI", "scores": {"D": 71, "I": 64, "S": 22, "C": 30}, "note": "äö"}
METADATA = {
    "id",
    "contact_id",
    "completed_on",
    "has_vendor_account",
    "transfer_forbidden_at",
    "state",
    "transfer_notice_sent_at",
    "transferred_at",
    "destroyed_at",
    "recorded_by_user_id",
    "recorded_at",
}


def profile(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "completed_on": "2026-01-15",
        "has_vendor_account": False,
        "content": REPORT,
    }
    body.update(overrides)
    return body


# How these tests give consent to a profiling report.
PROFILING = {
    "purpose": "profiling_report",
    "method": "paper_form",
    "evidence": {"text": "I agree to a DISC report.", "notice_version": "2026-01"},
}


@pytest.fixture
async def contact_id(admin: Client) -> int:
    """A contact who granted consent for profiling reports."""
    contact_id = await add_contact(admin)
    await grant(admin, contact_id, **PROFILING)
    return contact_id


async def create(admin: Client, contact_id: int, **overrides: Any) -> dict[str, Any]:
    response = await admin.post(
        f"/api/v1/contacts/{contact_id}/profiles", json=profile(**overrides)
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def stored(session: AsyncSession) -> int:
    return int((await session.exec(select(func.count()).select_from(Profile))).one())


async def set_column(sessionmaker: SessionMaker, model: Any, row_id: int, **values: Any) -> None:
    async with session_scope(sessionmaker) as db:
        await db.exec(update(model).where(col(model.id) == row_id).values(**values))


async def test_a_profile_is_stored_and_listed_without_its_content(
    admin: Client, contact_id: int
) -> None:
    created = await create(admin, contact_id)
    assert set(created) == METADATA
    assert created["state"] == "kept" and created["contact_id"] == contact_id
    assert created["completed_on"] == "2026-01-15"
    assert created["transfer_forbidden_at"] is None
    newer = await create(admin, contact_id, completed_on="2026-01-30", content=STRUCTURED)
    response = await admin.get(f"/api/v1/contacts/{contact_id}/profiles")
    assert response.status_code == 200
    assert [p["id"] for p in response.json()] == [newer["id"], created["id"]]
    assert all(set(p) == METADATA for p in response.json())
    assert "secret marker" not in response.text and "scores" not in response.text
    one = await admin.get(f"/api/v1/profiles/{created['id']}")
    assert one.json() == created and "secret marker" not in one.text


async def test_the_content_reads_back_as_it_was_given(admin: Client, contact_id: int) -> None:
    as_text = await create(admin, contact_id)
    as_object = await create(admin, contact_id, content=STRUCTURED)
    response = await admin.get(f"/api/v1/profiles/{as_text['id']}/content")
    assert response.status_code == 200, response.text
    assert response.json() == {"id": as_text["id"], "contact_id": contact_id, "content": REPORT}
    response = await admin.get(f"/api/v1/profiles/{as_object['id']}/content")
    assert response.json()["content"] == STRUCTURED


async def test_the_content_is_ciphertext_in_the_database(
    admin: Client, contact_id: int, session: AsyncSession
) -> None:
    created = await create(admin, contact_id)
    query = text("SELECT content_encrypted FROM profiles WHERE id = :id")
    raw = (await run(session, query, {"id": created["id"]})).scalar_one()
    assert raw.startswith("v1:")
    assert "secret marker" not in raw and "7f3a" not in raw and "S-style" not in raw
    cipher = DataCipher(TEST_DATA_KEY)
    assert json.loads(cipher.decrypt(raw, context=b"profiles.content")) == REPORT
    # Sealed to its column: the identity code's context does not open it.
    with pytest.raises(DecryptionError):
        cipher.decrypt(raw, context=b"contacts.identity_code")
    with pytest.raises(DecryptionError):
        DataCipher("another-key-" + "k" * 32).decrypt(raw, context=b"profiles.content")


async def test_no_profile_without_consent(admin: Client, session: AsyncSession) -> None:
    contact_id = await add_contact(admin)
    url = f"/api/v1/contacts/{contact_id}/profiles"
    response = await admin.post(url, json=profile())
    assert response.status_code == 409, response.text
    assert response.json()["reason"] == "no_consent"
    # Consent to something else does not count.
    await grant(admin, contact_id, **{**PROFILING, "purpose": "direct_marketing"})
    assert (await admin.post(url, json=profile())).json()["reason"] == "no_consent"
    # A grant on any channel counts …
    await grant(admin, contact_id, channel="post", **PROFILING)
    assert (await admin.post(url, json=profile())).status_code == 201
    # … and a withdrawal ends it.
    await withdraw(
        admin, contact_id, channel="post", purpose="profiling_report", method="paper_form"
    )
    assert (await admin.post(url, json=profile())).json()["reason"] == "no_consent"
    assert await stored(session) == 1


async def test_a_restricted_contact_gets_no_new_profile(
    admin: Client, contact_id: int, sessionmaker: SessionMaker, session: AsyncSession
) -> None:
    kept = await create(admin, contact_id)
    await set_column(sessionmaker, Contact, contact_id, restricted_at=utcnow())
    response = await admin.post(f"/api/v1/contacts/{contact_id}/profiles", json=profile())
    assert response.status_code == 409, response.text
    assert response.json()["reason"] == "restricted"
    assert await stored(session) == 1
    # Amending is an edit too; forbidding the transfer only limits processing.
    url = f"/api/v1/profiles/{kept['id']}"
    edit = await admin.patch(url, json={"has_vendor_account": True})
    assert edit.status_code == 409 and edit.json()["reason"] == "restricted"
    forbid = await admin.patch(url, json={"transfer_forbidden": True})
    assert forbid.status_code == 200, forbid.text
    assert forbid.json()["transfer_forbidden_at"] is not None
    assert forbid.json()["has_vendor_account"] is False


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"completed_on": "2026-02-01"}, "completed_on"),
        ({"content": ""}, "content"),
        ({"content": 42}, "content"),
        ({"has_vendor_account": None}, "has_vendor_account"),
        ({"state": "transferred"}, "state"),
    ],
)
async def test_bad_input_is_refused_and_changes_nothing(
    admin: Client, contact_id: int, session: AsyncSession, overrides: dict[str, Any], field: str
) -> None:
    url = f"/api/v1/contacts/{contact_id}/profiles"
    response = await admin.post(url, json=profile(**overrides))
    assert response.status_code == 422, response.text
    assert any(key.startswith(field) for key in response.json()["fields"]), response.json()
    assert await stored(session) == 0


async def test_an_oversized_report_is_refused(
    admin: Client, contact_id: int, session: AsyncSession
) -> None:
    response = await admin.post(
        f"/api/v1/contacts/{contact_id}/profiles", json=profile(content="x" * 500_001)
    )
    assert response.status_code == 422, response.text
    assert "content" in response.json()["fields"]
    assert await stored(session) == 0


async def test_unknown_contact_or_profile_is_404(admin: Client) -> None:
    assert (await admin.post("/api/v1/contacts/999/profiles", json=profile())).status_code == 404
    assert (await admin.get("/api/v1/contacts/999/profiles")).status_code == 404
    assert (await admin.get("/api/v1/profiles/999")).status_code == 404
    assert (await admin.get("/api/v1/profiles/999/content")).status_code == 404
    assert (await admin.patch("/api/v1/profiles/999", json={})).status_code == 404


async def test_the_person_may_forbid_the_transfer(
    admin: Client, contact_id: int, frozen_clock: FrozenClock
) -> None:
    created = await create(admin, contact_id)
    url = f"/api/v1/profiles/{created['id']}"
    forbidden = (await admin.patch(url, json={"transfer_forbidden": True})).json()
    assert forbidden["transfer_forbidden_at"].startswith("2026-01-31T10:00")
    frozen_clock.set(date(2026, 2, 5))
    # Saying it again keeps the first time it was said.
    again = (await admin.patch(url, json={"transfer_forbidden": True})).json()
    assert again["transfer_forbidden_at"] == forbidden["transfer_forbidden_at"]
    account = (await admin.patch(url, json={"has_vendor_account": True})).json()
    assert account["has_vendor_account"] is True
    assert account["transfer_forbidden_at"] == forbidden["transfer_forbidden_at"]
    cleared = (await admin.patch(url, json={"transfer_forbidden": False})).json()
    assert cleared["transfer_forbidden_at"] is None and cleared["has_vendor_account"] is True
    null = await admin.patch(url, json={"has_vendor_account": None})
    assert null.status_code == 422 and "has_vendor_account" in null.json()["fields"]
    assert (await admin.patch(url, json={"content": "new"})).status_code == 422
    assert (await admin.get(url)).json() == cleared


@pytest.mark.parametrize("state", [ProfileState.TRANSFERRED, ProfileState.DESTROYED])
async def test_a_profile_no_longer_kept_is_gone(
    admin: Client, contact_id: int, sessionmaker: SessionMaker, state: ProfileState
) -> None:
    created = await create(admin, contact_id)
    stamp = "transferred_at" if state is ProfileState.TRANSFERRED else "destroyed_at"
    await set_column(
        sessionmaker,
        Profile,
        created["id"],
        state=state,
        content_encrypted=None,
        **{stamp: utcnow()},
    )
    url = f"/api/v1/profiles/{created['id']}"
    content = await admin.get(f"{url}/content")
    assert content.status_code == 410, content.text
    assert content.json()["status_code"] == 410
    patch = await admin.patch(url, json={"transfer_forbidden": True})
    assert patch.status_code == 409 and patch.json()["reason"] == "not_kept"
    metadata = (await admin.get(url)).json()
    assert metadata["state"] == state.value and metadata[stamp] is not None
    assert metadata["transfer_forbidden_at"] is None


async def test_marketers_never_see_profiles(
    client: Client, make_token: TokenFactory, admin: Client, contact_id: int
) -> None:
    created = await create(admin, contact_id)
    marketer = {"Authorization": f"Bearer {await make_token(Role.MARKETER)}"}
    content = await client.get(f"/api/v1/profiles/{created['id']}/content", headers=marketer)
    assert content.status_code == 403, content.text
    assert "profiles:read" in content.json()["detail"]
    assert "secret marker" not in content.text
    for method, url, body in (
        ("GET", f"/api/v1/profiles/{created['id']}", None),
        ("GET", f"/api/v1/contacts/{contact_id}/profiles", None),
        ("POST", f"/api/v1/contacts/{contact_id}/profiles", profile()),
        ("PATCH", f"/api/v1/profiles/{created['id']}", {"transfer_forbidden": True}),
    ):
        response = await client.request(method, url, json=body, headers=marketer)
        assert response.status_code == 403, (method, url, response.text)
    officer = {"Authorization": f"Bearer {await make_token(Role.PRIVACY_OFFICER)}"}
    response = await client.get(f"/api/v1/profiles/{created['id']}/content", headers=officer)
    assert response.status_code == 200 and response.json()["content"] == REPORT
    response = await client.post(
        f"/api/v1/contacts/{contact_id}/profiles", json=profile(), headers=officer
    )
    assert response.status_code == 201, response.text


async def test_reading_a_profile_is_in_the_audit_trail(
    admin: Client, contact_id: int, sessionmaker: SessionMaker
) -> None:
    profile_id = (await create(admin, contact_id))["id"]
    for path in ("", "/content"):
        assert (await admin.get(f"/api/v1/profiles/{profile_id}{path}")).status_code == 200

    async with sessionmaker() as db:
        rows = (await db.exec(select(AuditEvent).order_by(col(AuditEvent.id)))).all()
    reads = [(row.action, row.contact_id) for row in rows if row.action.startswith("profile")]
    assert reads == [
        ("profile.create", contact_id),
        ("profile.read", contact_id),
        ("profile_content.read", contact_id),
    ]
