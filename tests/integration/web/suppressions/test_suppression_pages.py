"""``/app/suppressions`` and ``/api/v1/suppressions`` on both databases: an
address is looked up by its keyed hash (never listed), its reason and time
shown; a lift needs a reason and is audited; only rights:manage may."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from service.crypto import DataCipher
from service.db import SessionMaker, session_scope
from service.models.enums import Role, SuppressionKind, SuppressionReason
from service.settings import Settings
from service.suppressions import service as suppressions
from tests.integration.audit.support import trail
from tests.integration.web.conftest import csrf
from tests.integration.web.privacy.support import Staff

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
PAGE = "/app/suppressions"

pytestmark = pytest.mark.usefixtures("frozen_clock")


@pytest.fixture
def clock_start() -> datetime:
    return NOW


async def _suppress(
    sessionmaker: SessionMaker, settings: Settings, kind: SuppressionKind, value: str, reason
) -> str:
    cipher = DataCipher(settings.data_key)
    value_hash = suppressions.address_hash(cipher, kind, value)
    async with session_scope(sessionmaker) as session:
        await suppressions.record(session, value_hash=value_hash, kind=kind, reason=reason)
    return value_hash


async def _listed(sessionmaker: SessionMaker, value_hash: str) -> bool:
    async with sessionmaker() as session:
        return await suppressions.is_suppressed(session, value_hash)


async def test_a_lookup_shows_the_reason_and_a_lift_takes_it_off_with_a_reason(
    staff: Staff, sessionmaker: SessionMaker, settings: Settings
) -> None:
    bounced = await _suppress(
        sessionmaker, settings, SuppressionKind.EMAIL, "pomppu@example.fi", SuppressionReason.BOUNCE
    )
    phone = await _suppress(
        sessionmaker, settings, SuppressionKind.PHONE, "+358401234567", SuppressionReason.OBJECTION
    )
    officer = await staff.become(Role.PRIVACY_OFFICER)
    form = await officer.get(PAGE)
    assert form.status_code == 200
    assert "pomppu" not in form.text  # the page never lists the list

    # Typed as staff type it: the case and spacing do not matter.
    found = await officer.post(
        f"{PAGE}/lookup",
        data={"csrf_token": csrf(form), "kind": "email", "value": " Pomppu@Example.fi "},
    )
    assert found.status_code == 200, found.text
    assert 'data-reason="bounce"' in found.text
    assert "mail to it bounced for good" in found.text
    # A phone written the Finnish way finds the E.164 entry.
    by_phone = await officer.post(
        f"{PAGE}/lookup", data={"csrf_token": csrf(form), "kind": "phone", "value": "040 123 4567"}
    )
    assert 'data-reason="objection"' in by_phone.text
    missing = await officer.post(
        f"{PAGE}/lookup", data={"csrf_token": csrf(form), "kind": "email", "value": "x@example.fi"}
    )
    assert 'id="not-listed"' in missing.text

    # A lift without a reason is refused; with one, the hash is gone.
    bare = await officer.post(
        f"{PAGE}/lift",
        data={"csrf_token": csrf(found), "kind": "email", "value": "pomppu@example.fi", "why": " "},
    )
    assert bare.status_code == 422 and 'id="lift-why-error"' in bare.text
    assert await _listed(sessionmaker, bounced)
    lifted = await officer.post(
        f"{PAGE}/lift",
        data={
            "csrf_token": csrf(found),
            "kind": "email",
            "value": "pomppu@example.fi",
            "why": "the mailbox works again (ticket 42)",
        },
    )
    assert lifted.status_code == 303
    assert lifted.headers["location"] == f"{PAGE}?lifted=1"
    assert not await _listed(sessionmaker, bounced)
    assert await _listed(sessionmaker, phone)
    again = await officer.post(
        f"{PAGE}/lift",
        data={"csrf_token": csrf(found), "kind": "email", "value": "pomppu@example.fi", "why": "x"},
    )
    assert again.status_code == 404

    rows = [row for row in await trail(sessionmaker) if row.route.startswith(PAGE)]
    assert [row.action for row in rows] == ["suppression.lookup"] * 3 + ["suppression.lift"]
    assert [row.details.get("found") for row in rows[:3]] == [True, True, False]
    assert rows[3].reason == "the mailbox works again (ticket 42)"
    assert rows[3].details["lifted"] == "email:bounce"
    assert "pomppu" not in " ".join(str(row.details) for row in rows)


async def test_bad_input_is_a_message(staff: Staff, sessionmaker: SessionMaker) -> None:
    officer = await staff.become(Role.PRIVACY_OFFICER)
    form = await officer.get(PAGE)
    for data in (
        {"kind": "email", "value": "not an address"},
        {"kind": "phone", "value": "abc"},
        {"kind": "fax", "value": "123"},
        {"kind": "email", "value": ""},
        {"kind": "email", "value": "a" * 5000},
        {"kind": "email", "value": "nul\x00@example.fi"},
    ):
        answer = await officer.post(f"{PAGE}/lookup", data={"csrf_token": csrf(form), **data})
        assert answer.status_code == 422, (data, answer.text)
        assert 'id="suppression-error"' in answer.text
    assert (await officer.post(f"{PAGE}/lookup", data={"kind": "email"})).status_code == 403


async def test_a_marketer_may_neither_look_up_nor_lift(
    staff: Staff, sessionmaker: SessionMaker, settings: Settings
) -> None:
    value_hash = await _suppress(
        sessionmaker, settings, SuppressionKind.EMAIL, "pomppu@example.fi", SuppressionReason.BOUNCE
    )
    officer = await staff.become(Role.PRIVACY_OFFICER)
    token = csrf(await officer.get(PAGE))
    marketer = await staff.become(Role.MARKETER)
    assert (await marketer.get(PAGE)).status_code == 403
    assert 'href="/app/suppressions"' not in (await marketer.get("/app")).text
    mine = csrf(await marketer.get("/app/contacts"))
    for path, data in (
        ("lookup", {"kind": "email", "value": "pomppu@example.fi"}),
        ("lift", {"kind": "email", "value": "pomppu@example.fi", "why": "because"}),
    ):
        answer = await marketer.post(f"{PAGE}/{path}", data={"csrf_token": mine, **data})
        assert answer.status_code == 403
    assert await _listed(sessionmaker, value_hash)
    assert token  # the officer's form had one; the marketer never got the page


async def test_the_api_looks_up_and_lifts_as_the_page_does(
    staff: Staff, sessionmaker: SessionMaker, settings: Settings, make_token
) -> None:
    value_hash = await _suppress(
        sessionmaker,
        settings,
        SuppressionKind.EMAIL,
        "pomppu@example.fi",
        SuppressionReason.ERASURE,
    )
    api = staff.client  # an admin's bearer token
    found = await api.post(
        "/api/v1/suppressions/lookup", json={"kind": "email", "value": "POMPPU@example.fi"}
    )
    assert found.status_code == 200, found.text
    assert found.json()["listed"] is True and found.json()["reason"] == "erasure"
    assert "pomppu" not in found.text
    bad = await api.post("/api/v1/suppressions/lookup", json={"kind": "email", "value": "nope"})
    assert bad.status_code == 422
    marketer = {"Authorization": f"Bearer {await make_token(Role.MARKETER)}"}
    refused = await api.post(
        "/api/v1/suppressions/lift",
        json={"kind": "email", "value": "pomppu@example.fi", "why": "x"},
        headers=marketer,
    )
    assert refused.status_code == 403
    lifted = await api.post(
        "/api/v1/suppressions/lift",
        json={"kind": "email", "value": "pomppu@example.fi", "why": "asked to be mailed again"},
    )
    assert lifted.status_code == 200, lifted.text
    assert not await _listed(sessionmaker, value_hash)
    gone = await api.post(
        "/api/v1/suppressions/lift",
        json={"kind": "email", "value": "pomppu@example.fi", "why": "again"},
    )
    assert gone.status_code == 404
    actions = [row.action for row in await trail(sessionmaker) if "suppressions" in row.route]
    # A refused request changes nothing and records nothing but a denial.
    assert actions == ["suppression.lookup", "permission.denied", "suppression.lift"]
