"""The public links: one-click unsubscribe (RFC 8058), its page, the
preference centre. Reached without logging in; trust only signed tokens."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.consent.unsubscribe import SMS_UNSUBSCRIBE, Scope, unsubscribe
from service.db import SessionMaker, session_scope
from service.models.enums import CaptureMethod
from service.tokens import TokenSigner
from tests.conftest import TEST_SECRET
from tests.support.factories import MARKETING, add_contact, grant

Client = AsyncTestClient[Litestar]
SIGNER = TokenSigner(TEST_SECRET)
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


async def ledger(admin: Client, contact_id: int) -> list[dict[str, Any]]:
    history: list[dict[str, Any]] = (
        await admin.get(f"/api/v1/contacts/{contact_id}/consents")
    ).json()["history"]
    return history


def assert_plain_answer(response: Any, status: int = 200) -> None:
    assert response.status_code == status, response.text
    assert "set-cookie" not in response.headers
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"


async def test_get_shows_the_page_in_the_contacts_language_and_changes_nothing(
    admin: Client, client: Client
) -> None:
    contact_id = await add_contact(admin, consent=MARKETING, language="sv")
    token = SIGNER.sign("unsubscribe", contact_id, 7)
    response = await client.get(f"/u/{token}", headers={"Authorization": ""})
    assert_plain_answer(response)
    assert 'lang="sv"' in response.text and "Avsluta" in response.text
    assert 'method="post"' in response.text
    assert [e["action"] for e in await ledger(admin, contact_id)] == ["grant"]


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
async def test_one_click_post_withdraws_at_once_and_repeats_harmlessly(
    admin: Client, encoding: str
) -> None:
    contact_id = await add_contact(admin, consent=MARKETING)
    token = SIGNER.sign("unsubscribe", contact_id, 7)
    anonymous = {"Authorization": ""}
    post: dict[str, Any] = (
        {"data": ONE_CLICK}
        if encoding == "urlencoded"
        else {"files": {"List-Unsubscribe": (None, "One-Click")}}
    )
    first = await admin.post(f"/u/{token}", headers=anonymous, **post)
    assert_plain_answer(first)
    again = await admin.post(f"/u/{token}", headers=anonymous, **post)
    assert_plain_answer(again)
    events = await ledger(admin, contact_id)
    assert [(e["action"], e["method"], e["actor"], e["campaign_id"]) for e in events] == [
        ("grant", "web_form", "staff", None),
        ("withdraw", "one_click", "public_link", 7),
    ]
    assert events[1]["recorded_by_user_id"] is None
    eligibility = (await admin.get(f"/api/v1/contacts/{contact_id}/eligibility")).json()
    assert eligibility == {"eligible": False, "reasons": ["consent_withdrawn"]}


@pytest.mark.parametrize("scope", [Scope.EMAIL, Scope.ALL])
async def test_repeats_arriving_at_once_record_one_change(
    admin: Client, sessionmaker: SessionMaker, scope: Scope
) -> None:
    # A mail provider's retry overlapping the person's own click, each in a
    # transaction of its own: the ledger (or the bans) must still say it once.
    contact_id = await add_contact(admin, consent=MARKETING)

    async def one_click() -> None:
        async with session_scope(sessionmaker) as session:
            await unsubscribe(
                session,
                contact_id=contact_id,
                campaign_id=7,
                scopes={scope},
                method=CaptureMethod.ONE_CLICK,
                ip=None,
            )

    await asyncio.gather(*(one_click() for _ in range(8)))

    actions = [e["action"] for e in await ledger(admin, contact_id)]
    bans = (await admin.get(f"/api/v1/contacts/{contact_id}/bans")).json()
    if scope is Scope.EMAIL:
        assert (actions, bans) == (["grant", "withdraw"], [])
    else:
        assert actions == ["grant"] and len(bans) == 1


async def test_the_page_offers_every_channel_and_stopping_tracking(admin: Client) -> None:
    contact_id = await add_contact(admin, consent=MARKETING, phone="0401234567")
    await grant(admin, contact_id, purpose="email_tracking")
    token = SIGNER.sign("unsubscribe", contact_id, 3)
    form = {"via": "page", "scope": ["all", "tracking"]}
    assert_plain_answer(await admin.post(f"/u/{token}", data=form, headers={"Authorization": ""}))
    bans = (await admin.get(f"/api/v1/contacts/{contact_id}/bans")).json()
    assert [(b["kind"], b["channel"], b["method"], b["actor"], b["campaign_id"]) for b in bans] == [
        ("direct_marketing", "all", "link_page", "public_link", 3)
    ]
    states = {
        (s["channel"], s["purpose"]): s["state"]
        for s in (await admin.get(f"/api/v1/contacts/{contact_id}/consents")).json()["current"]
    }
    # Email marketing was not ticked: its consent stands, but the ban rules it out.
    assert states == {
        ("email", "direct_marketing"): "grant",
        ("email", "email_tracking"): "withdraw",
    }
    reasons = (await admin.get(f"/api/v1/contacts/{contact_id}/eligibility?channel=phone")).json()
    assert reasons["reasons"] == ["direct_marketing_ban"]


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # damaged signature
        lambda t: "zzzz" + t[4:],  # unknown key id
        lambda t: t.replace(".", "", 1),  # broken structure
        lambda t: TokenSigner("another-secret-" + "x" * 40).sign("unsubscribe", 1, 1),  # forged
        lambda t: SIGNER.sign("preferences", 1),  # a token of another purpose
        lambda t: "",
        # Compact (an SMS's) tokens: forged, of another purpose, damaged.
        lambda t: TokenSigner("another-secret-" + "x" * 40).sign_compact(SMS_UNSUBSCRIBE, 1, 1),
        lambda t: SIGNER.sign_compact("unsubscribe", 1, 1),
        lambda t: (lambda c: c[:-1] + ("A" if c[-1] != "A" else "B"))(
            SIGNER.sign_compact(SMS_UNSUBSCRIBE, 1, 1)
        ),
        lambda t: SIGNER.sign_compact(SMS_UNSUBSCRIBE, 1),
    ],
)
async def test_forged_or_damaged_tokens_get_one_generic_page_and_change_nothing(
    admin: Client, mangle: Any
) -> None:
    contact_id = await add_contact(admin, consent=MARKETING)
    token = mangle(SIGNER.sign("unsubscribe", contact_id, 1))
    url = f"/u/{token}" if token else "/u/%20"
    for response in (
        await admin.get(url, headers={"Authorization": ""}),
        await admin.post(url, data=ONE_CLICK, headers={"Authorization": ""}),
    ):
        assert_plain_answer(response, 400)
        assert "not valid" in response.text and "Maija" not in response.text
    assert [e["action"] for e in await ledger(admin, contact_id)] == ["grant"]


async def test_a_post_without_the_one_click_body_changes_nothing(admin: Client) -> None:
    contact_id = await add_contact(admin, consent=MARKETING)
    token = SIGNER.sign("unsubscribe", contact_id, 1)
    assert_plain_answer(await admin.post(f"/u/{token}", data={"foo": "bar"}), 400)
    bad_scope = {"via": "page", "scope": "everything"}
    assert_plain_answer(await admin.post(f"/u/{token}", data=bad_scope), 400)
    assert [e["action"] for e in await ledger(admin, contact_id)] == ["grant"]


async def test_a_compact_token_withdraws_sms_consent_only(admin: Client) -> None:
    contact_id = await add_contact(admin, consent=MARKETING, phone="0401234567")
    await grant(admin, contact_id, channel="sms")
    url = f"/u/{SIGNER.sign_compact(SMS_UNSUBSCRIBE, contact_id, 7)}"
    anonymous = {"Authorization": ""}
    page = await admin.get(url, headers=anonymous)
    assert_plain_answer(page)
    assert 'value="sms" checked' in page.text and 'value="email"' not in page.text
    for bound_to_sms in ({"via": "page", "scope": "email"}, {"via": "page", "scope": "tracking"}):
        assert_plain_answer(await admin.post(url, data=bound_to_sms, headers=anonymous), 400)
    assert_plain_answer(await admin.post(url, data=ONE_CLICK, headers=anonymous))
    events = await ledger(admin, contact_id)
    assert [(e["channel"], e["action"], e["method"], e["campaign_id"]) for e in events] == [
        ("email", "grant", "web_form", None),
        ("sms", "grant", "web_form", None),
        ("sms", "withdraw", "one_click", 7),
    ]


async def test_tokens_carry_no_personal_data_and_old_keys_still_verify() -> None:
    token = SIGNER.sign("unsubscribe", 42, 7)
    kid, payload, _mac = token.split(".")
    assert base64.urlsafe_b64decode(payload + "==").decode() == "unsubscribe:42:7"
    rotated = TokenSigner("a-brand-new-secret-key-" + "n" * 32, previous_secrets=[TEST_SECRET])
    assert rotated.verify(token, "unsubscribe") == (42, 7)
    assert rotated.sign("unsubscribe", 42, 7).split(".")[0] != kid


async def test_preference_centre_shows_and_changes_each_consent(admin: Client) -> None:
    contact_id = await add_contact(admin, consent=MARKETING, phone="0401234567")
    token = SIGNER.sign("preferences", contact_id)
    page = await admin.get(f"/p/{token}", headers={"Authorization": ""})
    assert_plain_answer(page)
    assert 'name="email:direct_marketing" value="grant" checked' in page.text
    assert 'name="sms:direct_marketing" value="withdraw" checked' in page.text
    assert 'name="phone:direct_marketing" value="grant" checked' in page.text
    form = {
        "email:direct_marketing": "grant",  # unchanged: not recorded again
        "sms:direct_marketing": "grant",
        "phone:direct_marketing": "withdraw",
    }
    saved = await admin.post(f"/p/{token}", data=form, headers={"Authorization": ""})
    assert_plain_answer(saved)
    events = (await ledger(admin, contact_id))[1:]
    assert {(e["channel"], e["action"], e["method"]) for e in events} == {
        ("sms", "grant", "preference_centre"),
        ("phone", "withdraw", "preference_centre"),
    }
    sms = next(e for e in events if e["channel"] == "sms")
    assert sms["evidence_text"] == "Markkinointi tekstiviestillä: Kyllä"
    bad = await admin.post(f"/p/{token}", data={"sms:direct_marketing": "maybe"})
    assert_plain_answer(bad, 400)
    assert_plain_answer(await admin.get("/p/garbage"), 400)
