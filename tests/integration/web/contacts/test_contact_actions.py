"""The forms on a contact's page: each changes the ledger (or the rights
record) through the API's services, and the gate's answer with it; bad input
and a missing form token change nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from service.db import SessionMaker
from service.models import Ban, ConsentEvent, Contact, LegalHold, Restriction
from service.models.enums import Role
from service.rights import erasure
from tests.integration.web.conftest import SignedIn, csrf
from tests.integration.web.contacts.conftest import Client, audit_rows, count, reasons, row_of
from tests.support.factories import add_contact

CONSENT = {
    "action": "grant",
    "channel": "email",
    "purpose": "direct_marketing",
    "source": "self",
    "method": "paper_form",
    "evidence_text": "I want the newsletter (signed form 12)",
    "evidence_notice_version": "",
    "evidence_ip": "",
}
WITHDRAWAL = {
    "action": "withdraw",
    "channel": "email",
    "purpose": "direct_marketing",
    "source": "self",
    "method": "phone_call",
    "request_id": "",
}
BAN = {
    "kind": "direct_marketing",
    "channel": "all",
    "source": "self",
    "method": "post",
    "note": "Letter of 3 May",
}


async def _post(browser: Client, path: str, form: dict[str, str]) -> httpx.Response:
    """Post a form as the page does: with the session's form token (any page has it)."""
    home = await browser.get("/app")
    return await browser.post(path, data={**form, "csrf_token": csrf(home)})


async def test_each_action_changes_the_ledger_and_the_eligibility(
    admin: Client, signed_in: SignedIn, sessionmaker: SessionMaker
) -> None:
    contact_id = await add_contact(admin)
    here = f"/app/contacts/{contact_id}"
    browser = await signed_in(Role.ADMIN)
    assert "no_consent" in row_of((await browser.get(here)).text, "email")

    steps: list[tuple[str, dict[str, str], str, list[str]]] = [
        ("consents", CONSENT, "consent", []),
        ("consents", WITHDRAWAL, "withdrawal", ["consent_withdrawn"]),
        ("consents", CONSENT, "consent", []),
        ("bans", BAN, "ban", ["direct_marketing_ban"]),
        (
            "restriction",
            {"reason": "Accuracy contested", "request_id": ""},
            "restriction",
            ["direct_marketing_ban", "restricted"],
        ),
    ]
    for path, form, done, expected in steps:
        answer = await _post(browser, f"{here}/{path}", form)
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == f"{here}?done={done}"
        assert await reasons(sessionmaker, contact_id) == expected
        page = await browser.get(answer.headers["location"])
        assert 'role="status"' in page.text
        for reason in expected:
            assert f"<code>{reason}</code>" in row_of(page.text, "email")
    async with sessionmaker() as session:
        events = (await session.exec(select(ConsentEvent).order_by(col(ConsentEvent.id)))).all()
        ban = (await session.exec(select(Ban))).one()
        restriction = (await session.exec(select(Restriction))).one()
    assert [e.action for e in events] == ["grant", "withdraw", "grant"]
    assert events[0].evidence_text == "I want the newsletter (signed form 12)"
    assert events[0].method == "paper_form" and events[1].method == "phone_call"
    assert (ban.kind, ban.channel, ban.note, ban.actor) == (
        "direct_marketing",
        "all",
        "Letter of 3 May",
        "staff",
    )
    assert restriction.reason == "Accuracy contested"
    page = (await browser.get(here)).text
    assert "Processing restricted" in page and "Letter of 3 May" in page
    # The same audit actions as the API's routes.
    assert len(await audit_rows(sessionmaker, "consent.record")) == 3
    assert [r.contact_id for r in await audit_rows(sessionmaker, "ban.record")] == [contact_id]
    assert len(await audit_rows(sessionmaker, "restriction.place")) == 1

    # Lifting: the ban and the restriction stay on record, the gate lets the contact through.
    # Only the person's own new act lifts a direct-marketing ban (issue 17).
    bare = await _post(browser, f"{here}/bans/{ban.id}/lift", {"note": "Asked again"})
    assert bare.status_code == 422 and "the person&#39;s own new act" in bare.text
    assert (await _post(browser, f"{here}/consents", CONSENT)).status_code == 303
    async with sessionmaker() as session:
        newest = (await session.exec(select(ConsentEvent).order_by(col(ConsentEvent.id)))).all()
    act = {"note": "Asked again", "consent_event_id": str(newest[-1].id)}
    lifted = await _post(browser, f"{here}/bans/{ban.id}/lift", act)
    assert lifted.headers["location"] == f"{here}?done=ban_lifted"
    lifted = await _post(
        browser, f"{here}/restriction/lift", {"note": "Corrected", "informed_how": "phone"}
    )
    assert lifted.headers["location"] == f"{here}?done=restriction_lifted"
    assert await reasons(sessionmaker, contact_id) == []
    page = (await browser.get(here)).text
    assert "Lifted: Direct-marketing ban, All channels" in page and "Asked again" in page
    assert "Restriction lifted" in page
    assert await count(sessionmaker, Ban) == 1


async def test_a_legal_hold_is_placed_and_lifted(
    admin: Client, signed_in: SignedIn, sessionmaker: SessionMaker
) -> None:
    contact_id = await add_contact(admin)
    here = f"/app/contacts/{contact_id}"
    browser = await signed_in(Role.PRIVACY_OFFICER)
    placed = await _post(browser, f"{here}/legal-holds", {"reason": "Dispute 2026/4 pending"})
    assert placed.headers["location"] == f"{here}?done=legal_hold"
    async with sessionmaker() as session:
        hold = (await session.exec(select(LegalHold))).one()
    assert hold.reason == "Dispute 2026/4 pending" and hold.lifted_at is None
    # Erasure (API and retention alike) asks this before erasing.
    async with sessionmaker() as session:
        assert await erasure.is_held(session, contact_id)
    page = (await browser.get(here)).text
    assert "Legal hold placed" in page and "Dispute 2026/4 pending" in page
    lifted = await _post(browser, f"{here}/legal-holds/{hold.id}/lift", {"note": "Settled"})
    assert lifted.headers["location"] == f"{here}?done=legal_hold_lifted"
    async with sessionmaker() as session:
        hold = (await session.exec(select(LegalHold))).one()
    assert hold.lifted_at is not None and hold.lift_note == "Settled"
    async with sessionmaker() as session:
        assert not await erasure.is_held(session, contact_id)


@pytest.mark.parametrize(
    ("path", "form", "field", "message"),
    [
        (
            "consents",
            {**CONSENT, "evidence_text": ""},
            "consent-form-error",
            "a grant needs evidence",
        ),
        ("consents", {**CONSENT, "channel": ""}, "consent-channel-error", "required"),
        (
            "consents",
            {**CONSENT, "evidence_ip": "not-an-ip"},
            "consent-evidence_ip-error",
            "must be an IPv4 or IPv6 address",
        ),
        (
            "consents",
            {**WITHDRAWAL, "request_id": "abc"},
            "withdrawal-request_id-error",
            "must be a number",
        ),
        ("consents", {**WITHDRAWAL, "request_id": "77"}, "withdrawal-request_id-error", "77"),
        (
            "bans",
            {**BAN, "kind": "purchase_registration", "channel": "email"},
            "ban-form-error",
            "a purchase_registration ban applies to all channels",
        ),
        ("bans", {**BAN, "source": "nowhere"}, "ban-source-error", "Input should be"),
        ("restriction", {"reason": ""}, "restriction-reason-error", "required"),
        ("legal-holds", {"reason": "x" * 2001}, "hold-reason-error", "at most 2000"),
    ],
)
async def test_bad_input_shows_the_form_again_and_changes_nothing(
    admin: Client,
    signed_in: SignedIn,
    sessionmaker: SessionMaker,
    path: str,
    form: dict[str, str],
    field: str,
    message: str,
) -> None:
    contact_id = await add_contact(admin)
    browser = await signed_in(Role.ADMIN)
    refused = await _post(browser, f"/app/contacts/{contact_id}/{path}", form)
    assert refused.status_code in (404, 409, 422)
    error = refused.text.split(f'id="{field}"')[1].split("</p>")[0]
    assert message in error
    assert " open>" in refused.text  # the form is shown opened
    for model in (ConsentEvent, Ban, Restriction, LegalHold):
        assert await count(sessionmaker, model) == 0
    async with sessionmaker() as session:
        contact = await session.get(Contact, contact_id)
    assert contact is not None and contact.restricted_at is None
    assert await audit_rows(sessionmaker, "consent.record") == []


async def test_a_ban_already_in_force_is_a_conflict(admin: Client, signed_in: SignedIn) -> None:
    contact_id = await add_contact(admin)
    browser = await signed_in(Role.MARKETER)
    here = f"/app/contacts/{contact_id}"
    assert (await _post(browser, f"{here}/bans", BAN)).status_code == 303
    again = await _post(browser, f"{here}/bans", BAN)
    assert again.status_code == 409
    assert "already in force" in again.text


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("consents", CONSENT),
        ("bans", BAN),
        ("restriction", {"reason": "Accuracy contested"}),
        ("legal-holds", {"reason": "Dispute"}),
    ],
)
async def test_without_the_form_token_nothing_changes(
    admin: Client, signed_in: SignedIn, sessionmaker: SessionMaker, path: str, form: dict[str, Any]
) -> None:
    contact_id = await add_contact(admin)
    browser = await signed_in(Role.ADMIN)
    refused = await browser.post(f"/app/contacts/{contact_id}/{path}", data=form)
    assert refused.status_code == 403
    forged = await browser.post(
        f"/app/contacts/{contact_id}/{path}", data={**form, "csrf_token": "0" * 64}
    )
    assert forged.status_code == 403
    for model in (ConsentEvent, Ban, Restriction, LegalHold):
        assert await count(sessionmaker, model) == 0
    assert await reasons(sessionmaker, contact_id) == ["no_consent"]


async def test_a_marketer_may_not_restrict_or_hold(admin: Client, signed_in: SignedIn) -> None:
    contact_id = await add_contact(admin)
    browser = await signed_in(Role.MARKETER)
    for path in ("restriction", "legal-holds"):
        refused = await _post(browser, f"/app/contacts/{contact_id}/{path}", {"reason": "Why"})
        assert refused.status_code == 403
        assert "Not for your role" in refused.text


async def test_a_marketer_cannot_lift_a_direct_marketing_ban(
    admin: Client, signed_in: SignedIn, sessionmaker: SessionMaker
) -> None:
    contact_id = await add_contact(admin)
    here = f"/app/contacts/{contact_id}"
    browser = await signed_in(Role.MARKETER)
    assert (await _post(browser, f"{here}/bans", BAN)).status_code == 303
    async with sessionmaker() as session:
        ban = (await session.exec(select(Ban))).one()
    page = (await browser.get(here)).text
    assert f"{here}/bans/{ban.id}/lift" not in page  # no form for this role
    refused = await _post(
        browser, f"{here}/bans/{ban.id}/lift", {"note": "x", "consent_event_id": "bogus"}
    )
    assert refused.status_code == 403
    assert "may not lift a direct-marketing ban" in refused.text
    assert await reasons(sessionmaker, contact_id) == ["no_consent", "direct_marketing_ban"]
