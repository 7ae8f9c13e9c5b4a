"""SMS campaigns end to end, through a real HTTP gateway on 127.0.0.1
(tests/support/sms_gateway.py): who gets one, what it says, each message
once; the gateway's answers; the STOP reply hook; the opt-out link."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlmodel import select

from service.app import create_app
from service.campaigns import sending
from service.consent.unsubscribe import SMS_UNSUBSCRIBE
from service.db import SessionMaker
from service.delivery.batch import RelayUnavailable, TemporaryFailures
from service.delivery.sms_catcher import HttpResponse
from service.models import CampaignRecipient, Contact, Suppression
from service.settings import Settings, load_settings
from service.tokens import TokenSigner, is_compact
from tests.conftest import TEST_SECRET
from tests.integration.campaigns.test_campaigns import Client, campaign
from tests.support.factories import SERVED, add_campaign, add_contact, ban, grant
from tests.support.sms_gateway import ACCEPTED, HANG, INVALID_NUMBER, SmsGateway
from tests.support.worker import drain, worker_context

TOKEN = "gateway-token-" + "t" * 24
HOOK_SECRET = "hook-secret-" + "h" * 32
PUBLIC_URL = "https://consentry.example.fi"
# Every campaign SMS names its sender (CONSENTRY_CONTROLLER_NAME).
SENDER = "Esimerkki Oy"
SMS_CAMPAIGN = {
    "name": "Autumn texts",
    "channel": "sms",
    "body_text": "Hei {{ contact.name }}! Syyskurssit alkavat.",
    "translations": {"sv": {"body_text": "Hej {{ contact.name }}! Höstkurserna börjar."}},
}
LINK = re.compile(r"https://consentry\.example\.fi/u/([A-Za-z0-9_.-]+)")


@pytest.fixture
def gateway() -> Iterator[SmsGateway]:
    server = SmsGateway()
    with server:
        yield server


@pytest.fixture
def settings(settings: Settings, settings_env: dict[str, str], gateway: SmsGateway) -> Settings:
    return load_settings(
        {
            **settings_env,
            "CONSENTRY_DATABASE_URL": settings.database_url,
            "CONSENTRY_REDIS_URL": settings.redis_url or "",
            "CONSENTRY_SMS_GATEWAY_URL": gateway.url,
            "CONSENTRY_SMS_GATEWAY_TOKEN": TOKEN,
            "CONSENTRY_SMS_HOOK_SECRET": HOOK_SECRET,
            # One at a time: the order of the messages is the recipients' order.
            "CONSENTRY_SMS_CONCURRENCY": "1",
            "CONSENTRY_SMS_TIMEOUT_SECONDS": "5",
            "CONSENTRY_PUBLIC_URL": PUBLIC_URL,
            "CONSENTRY_CONTROLLER_NAME": SENDER,
            "CONSENTRY_SEND_PAUSE_AFTER_FAILURES": "50",
        }
    )


@pytest.fixture
async def ctx(settings: Settings, sessionmaker: SessionMaker) -> AsyncIterator[dict[str, Any]]:
    async with worker_context(settings, sessionmaker) as context:
        await context["redis"].flushdb()
        yield context


async def texter(admin: Client, phone: str | None, *, sms: bool = True, **fields: Any) -> int:
    """A contact with this number (or none), with SMS marketing consent if ``sms``."""
    fields = {"email": None, "last_service_contact_at": SERVED, "phone": phone, **fields}
    contact_id = await add_contact(admin, **fields)
    if sms:
        await grant(admin, contact_id, channel="sms")
    return contact_id


async def sms_campaign(admin: Client, **fields: Any) -> int:
    response = await admin.post("/api/v1/campaigns", json={**SMS_CAMPAIGN, **fields})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def statuses(ctx: dict[str, Any]) -> dict[str | None, tuple[str, int, str | None]]:
    """(status, attempts, reason) of each recipient, by their phone number."""
    async with ctx["sessionmaker"]() as db:
        rows = (await db.exec(select(CampaignRecipient))).all()
        phones = {c.id: c.phone for c in (await db.exec(select(Contact))).all()}
    return {phones[r.contact_id]: (r.status.value, r.attempts, r.reason) for r in rows}


async def consents(admin: Client, contact_id: int) -> dict[tuple[str, str], str]:
    body = (await admin.get(f"/api/v1/contacts/{contact_id}/consents")).json()
    return {(s["channel"], s["purpose"]): s["state"] for s in body["current"]}


async def start(admin: Client, ctx: dict[str, Any], campaign_id: int) -> tuple[int, int]:
    """Ask to send, and build the list as the start job does; the batch's ids."""
    assert (await admin.post(f"/api/v1/campaigns/{campaign_id}/send")).status_code == 202
    await sending.start(ctx["sender"], campaign_id)
    async with ctx["sessionmaker"]() as db:
        ids = sorted(r.id or 0 for r in (await db.exec(select(CampaignRecipient))).all())
    return ids[0], ids[-1]


# -- who gets it, what it says ------------------------------------------------------


async def test_reaches_exactly_the_opted_in_with_the_opt_out_and_stop(
    admin: Client, ctx: dict[str, Any], gateway: SmsGateway
) -> None:
    fi = await texter(admin, "040 123 4567", full_name="Aino Virtanen")
    sv = await texter(admin, "+358 50 765 4321", full_name="Åsa Berg", language="sv")
    await texter(admin, "0401111111", sms=False)  # email consent is not SMS consent
    await grant(admin, await texter(admin, "0402222222", sms=False))
    banned = await texter(admin, "0403333333")
    await ban(admin, banned)
    await texter(admin, None)  # no number
    sms_only_ban = await texter(admin, "0404444444")
    await ban(admin, sms_only_ban, channel="sms")

    campaign_id = await sms_campaign(admin)
    assert (await admin.post(f"/api/v1/campaigns/{campaign_id}/send")).status_code == 202
    await drain(ctx)

    received = {r.to: r for r in gateway.received}
    assert set(received) == {"+358401234567", "+358507654321"}
    assert {r.authorization for r in gateway.received} == {f"Bearer {TOKEN}"}
    finnish, swedish = received["+358401234567"].text, received["+358507654321"].text
    # The sender's name on a line of its own, then the opt-out line.
    assert finnish.startswith(
        f"Hei Aino Virtanen! Syyskurssit alkavat.\n{SENDER}\nLopeta: https://"
    )
    assert finnish.endswith(" tai vastaa STOP")
    assert swedish.startswith(f"Hej Åsa Berg! Höstkurserna börjar.\n{SENDER}\nAvsluta: https://")
    assert swedish.endswith(" eller svara STOP")
    # Each message names its recipient and carries its own signed link, the
    # compact one: the whole opt-out line is under half a segment.
    tokens = {LINK.search(r.text).group(1) for r in gateway.received}  # type: ignore[union-attr]
    assert len(tokens) == 2
    assert all(is_compact(t) and len(t) <= 24 for t in tokens)
    signer = TokenSigner(TEST_SECRET)
    assert {signer.verify_compact(t, SMS_UNSUBSCRIBE) for t in tokens} == {
        (fi, campaign_id),
        (sv, campaign_id),
    }
    assert len(finnish.splitlines()[-1]) <= len(f"Lopeta: {PUBLIC_URL}/u/ tai vastaa STOP") + 24
    assert len({r.message_id for r in gateway.received}) == 2
    assert all(re.fullmatch(r"c\d+\.r\d+\.[0-9a-f]{20}", r.message_id) for r in gateway.received)

    body = await campaign(admin, campaign_id)
    assert body["status"] == "done" and body["counts"]["sent"] == 2
    excluded = body["audience_at_build"]["excluded"]
    assert excluded["no_consent"] == 2 and excluded["no_address"] == 1
    assert excluded["direct_marketing_ban"] == 1 and excluded["channel_ban"] == 1
    assert {fi, sv} <= {c for c in await _sent_contacts(ctx)}


async def _sent_contacts(ctx: dict[str, Any]) -> set[int]:
    async with ctx["sessionmaker"]() as db:
        rows = (await db.exec(select(CampaignRecipient))).all()
    return {r.contact_id for r in rows if r.status.value == "sent" and r.contact_id}


async def test_each_message_goes_once_when_a_killed_batch_runs_again(
    admin: Client, ctx: dict[str, Any], gateway: SmsGateway
) -> None:
    for n in range(4):
        await texter(admin, f"040 555 000{n}")
    campaign_id = await sms_campaign(admin)
    first, last = await start(admin, ctx, campaign_id)
    # The gateway takes three and hangs on the fourth; the job is killed
    # there (as arq's timeout cancels it), before the chunk was recorded.
    gateway.answers["+358405550003"] = HANG
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(sending.send_batch(ctx["sender"], campaign_id, first, last), 1.0)
    assert {s for s, _, _ in (await statuses(ctx)).values()} == {"queued"}
    assert len(gateway.accepted()) == 3

    gateway.answers["+358405550003"] = ACCEPTED
    assert await sending.send_batch(ctx["sender"], campaign_id, first, last) == "sent 1"
    accepted = [r.to for r in gateway.accepted()]
    assert sorted(accepted) == [f"+35840555000{n}" for n in range(4)]
    assert {s for s, _, _ in (await statuses(ctx)).values()} == {"sent"}
    assert (await campaign(admin, campaign_id))["status"] == "done"


async def test_gateway_answers_fail_or_keep_only_that_recipient(
    admin: Client, ctx: dict[str, Any], gateway: SmsGateway
) -> None:
    for n in range(5):
        await texter(admin, f"040 666 000{n}", email=f"t{n}@example.fi")
    campaign_id = await sms_campaign(admin)
    first, last = await start(admin, ctx, campaign_id)
    gateway.answers["+358406660001"] = HttpResponse(500, {"error": "busy"})
    gateway.answers["+358406660002"] = HttpResponse(400, {"error": "message refused"})
    gateway.answers["+358406660003"] = INVALID_NUMBER

    with pytest.raises(TemporaryFailures):
        await sending.send_batch(ctx["sender"], campaign_id, first, last)
    assert await statuses(ctx) == {
        "+358406660000": ("sent", 1, None),
        "+358406660001": ("queued", 1, None),
        "+358406660002": ("failed", 1, "rejected"),
        "+358406660003": ("failed", 1, "address_not_deliverable"),
        "+358406660004": ("sent", 1, None),
    }
    # An invalid number suppresses nothing: not the number (it may still
    # be called), not the person's email address.
    async with ctx["sessionmaker"]() as db:
        assert (await db.exec(select(Suppression))).all() == []

    gateway.answers.pop("+358406660001")
    assert await sending.send_batch(ctx["sender"], campaign_id, first, last) == "sent 1"
    assert (await statuses(ctx))["+358406660001"] == ("sent", 2, None)
    assert len(gateway.accepted()) == 3


async def test_a_gateway_that_is_down_stops_the_batch_and_keeps_everyone_queued(
    admin: Client, ctx: dict[str, Any], gateway: SmsGateway
) -> None:
    for n in range(2):
        await texter(admin, f"040 777 000{n}")
    campaign_id = await sms_campaign(admin)
    first, last = await start(admin, ctx, campaign_id)
    gateway.stop()
    with pytest.raises(RelayUnavailable):
        await sending.send_batch(ctx["sender"], campaign_id, first, last)
    assert {v[:2] for v in (await statuses(ctx)).values()} == {("queued", 0)}
    gateway.start()
    assert await sending.send_batch(ctx["sender"], campaign_id, first, last) == "sent 2"


async def test_a_bad_number_fails_alone(
    admin: Client, ctx: dict[str, Any], gateway: SmsGateway, sessionmaker: SessionMaker
) -> None:
    good = await texter(admin, "0408888881")
    bad = await texter(admin, "0408888882")
    async with sessionmaker() as db:
        contact = await db.get(Contact, bad)
        assert contact is not None
        contact.phone = "not a number"  # written around the API, as old data may be
        db.add(contact)
        await db.commit()
    campaign_id = await sms_campaign(admin)
    first, last = await start(admin, ctx, campaign_id)
    assert await sending.send_batch(ctx["sender"], campaign_id, first, last) == "sent 1"
    result = await statuses(ctx)
    assert result["not a number"] == ("failed", 1, "address_not_deliverable")
    assert [r.to for r in gateway.received] == ["+358408888881"]
    assert await _sent_contacts(ctx) == {good}


# -- opting out ----------------------------------------------------------------------


async def test_the_link_in_an_sms_withdraws_sms_consent_not_email(
    admin: Client, ctx: dict[str, Any], gateway: SmsGateway
) -> None:
    contact_id = await texter(admin, "0409999999", email="both@example.fi")
    await grant(admin, contact_id)  # email marketing too
    campaign_id = await sms_campaign(admin)
    assert (await admin.post(f"/api/v1/campaigns/{campaign_id}/send")).status_code == 202
    await drain(ctx)
    (message,) = gateway.received
    match = LINK.search(message.text)
    assert match is not None
    assert is_compact(match.group(1))
    url = f"/u/{match.group(1)}"
    anonymous = {"Authorization": ""}

    page = await admin.get(url, headers=anonymous)
    assert page.status_code == 200
    assert 'value="sms" checked' in page.text and 'value="email"' not in page.text
    # An SMS's token is bound to SMS: it cannot withdraw email consent.
    refused = await admin.post(url, data={"via": "page", "scope": "email"}, headers=anonymous)
    assert refused.status_code == 400
    done = await admin.post(url, headers=anonymous)
    assert done.status_code == 200
    assert await consents(admin, contact_id) == {
        ("email", "direct_marketing"): "grant",
        ("sms", "direct_marketing"): "withdraw",
    }
    history = (await admin.get(f"/api/v1/contacts/{contact_id}/consents")).json()["history"]
    assert (history[-1]["channel"], history[-1]["campaign_id"]) == ("sms", campaign_id)
    eligibility = await admin.get(f"/api/v1/contacts/{contact_id}/eligibility?channel=sms")
    assert eligibility.json()["reasons"] == ["consent_withdrawn"]


async def test_a_long_link_sent_before_the_compact_one_still_withdraws_sms_consent(
    admin: Client,
) -> None:
    contact_id = await texter(admin, "0409999998", email="old@example.fi")
    await grant(admin, contact_id)
    campaign_id = await sms_campaign(admin)
    url = f"/u/{TokenSigner(TEST_SECRET).sign('unsubscribe', contact_id, campaign_id)}"
    assert (await admin.post(url, headers={"Authorization": ""})).status_code == 200
    assert await consents(admin, contact_id) == {
        ("email", "direct_marketing"): "grant",
        ("sms", "direct_marketing"): "withdraw",
    }


def _forgeries(contact_id: int, campaign_id: int) -> list[str]:
    signer = TokenSigner(TEST_SECRET)
    real = signer.sign_compact(SMS_UNSUBSCRIBE, contact_id, campaign_id)
    forged = TokenSigner("another-secret-" + "x" * 40)
    return [
        forged.sign_compact(SMS_UNSUBSCRIBE, contact_id, campaign_id),  # another key
        signer.sign_compact("unsubscribe", contact_id, campaign_id),  # another purpose
        signer.sign_compact(SMS_UNSUBSCRIBE, contact_id),  # signed, but one id only
        real[:-2] + ("AA" if not real.endswith("AA") else "BB"),  # damaged tag
        real[1:],  # cut short
        real + "A",
    ]


async def test_a_forged_or_damaged_compact_link_changes_nothing(admin: Client) -> None:
    contact_id = await texter(admin, "0409999997", email="forged@example.fi")
    await grant(admin, contact_id)
    campaign_id = await sms_campaign(admin)
    anonymous = {"Authorization": ""}
    for token in _forgeries(contact_id, campaign_id):
        url = f"/u/{token}"
        assert (await admin.get(url, headers=anonymous)).status_code == 400
        for body in ({}, {"List-Unsubscribe": "One-Click"}, {"via": "page", "scope": "all"}):
            refused = await admin.post(url, data=body, headers=anonymous)
            assert refused.status_code == 400, token
            assert "not valid" in refused.text
    assert await consents(admin, contact_id) == {
        ("email", "direct_marketing"): "grant",
        ("sms", "direct_marketing"): "grant",
    }
    history = (await admin.get(f"/api/v1/contacts/{contact_id}/consents")).json()["history"]
    assert [e["action"] for e in history] == ["grant", "grant"]


async def test_a_stop_reply_after_the_list_was_built_is_honoured(
    admin: Client, ctx: dict[str, Any], gateway: SmsGateway
) -> None:
    await texter(admin, "0401010101")
    await texter(admin, "0402020202")
    campaign_id = await sms_campaign(admin)
    first, last = await start(admin, ctx, campaign_id)
    stop = {"from": "0402020202", "text": "Lopeta"}
    assert (await admin.post("/hooks/sms", json=stop, headers=hook())).status_code == 200
    assert await sending.send_batch(ctx["sender"], campaign_id, first, last) == "sent 1"
    assert [r.to for r in gateway.received] == ["+358401010101"]
    assert (await statuses(ctx))["+358402020202"] == ("skipped", 0, "consent_withdrawn")


async def test_a_link_from_an_email_cannot_withdraw_sms_consent(admin: Client) -> None:
    contact_id = await texter(admin, "0409999990", email="mail@example.fi")
    email_campaign = await add_campaign(admin)
    url = f"/u/{TokenSigner(TEST_SECRET).sign('unsubscribe', contact_id, email_campaign)}"
    anonymous = {"Authorization": ""}
    page = await admin.get(url, headers=anonymous)
    assert 'value="email" checked' in page.text and 'value="sms"' not in page.text
    for body in ({"via": "page", "scope": "sms"}, {}):
        refused = await admin.post(url, data=body, headers=anonymous)
        assert refused.status_code == 400
    assert (await consents(admin, contact_id))[("sms", "direct_marketing")] == "grant"


def hook(secret: str | None = HOOK_SECRET) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}" if secret else ""}


@pytest.mark.parametrize("word", ["STOP", " lopeta ", "Sluta", "STOPP", "peru!", "Stop."])
async def test_a_stop_reply_withdraws_sms_consent_of_that_number(admin: Client, word: str) -> None:
    one = await texter(admin, "0401212121", email="one@example.fi")
    await grant(admin, one)
    two = await texter(admin, "+358401212121")  # the same number, written otherwise
    other = await texter(admin, "0403434343")
    answer = await admin.post(
        "/hooks/sms", json={"from": "+358401212121", "text": word}, headers=hook()
    )
    assert answer.status_code == 200 and answer.json() == {"status": "stopped"}
    for contact_id in (one, two):
        assert (await consents(admin, contact_id))[("sms", "direct_marketing")] == "withdraw"
    assert (await consents(admin, one))[("email", "direct_marketing")] == "grant"
    assert (await consents(admin, other))[("sms", "direct_marketing")] == "grant"
    history = (await admin.get(f"/api/v1/contacts/{one}/consents")).json()["history"]
    assert (history[-1]["method"], history[-1]["actor"]) == ("sms", "public_link")


async def test_the_hook_refuses_a_wrong_secret_and_ignores_other_texts(admin: Client) -> None:
    contact_id = await texter(admin, "0405656565")
    body = {"from": "+358405656565", "text": "STOP"}
    for headers in (
        hook("wrong-" + "x" * 40),
        hook(None),
        {"Authorization": f"Basic {HOOK_SECRET}"},
    ):
        refused = await admin.post("/hooks/sms", json=body, headers=headers)
        assert refused.status_code == 401
    for text in ("stop sending me bills", "Kiitos!", "", "STOP STOP"):
        answer = await admin.post("/hooks/sms", json={**body, "text": text}, headers=hook())
        assert answer.json() == {"status": "ignored"}
    for bad in (b"not json", b"[]", b'{"from": 1, "text": "STOP"}', b"{" * 5000):
        answer = await admin.post("/hooks/sms", content=bad, headers=hook())
        assert answer.status_code in (400, 413), answer.text
    unknown = await admin.post("/hooks/sms", json={"from": "bogus", "text": "STOP"}, headers=hook())
    assert unknown.json() == {"status": "ignored"}
    assert (await consents(admin, contact_id))[("sms", "direct_marketing")] == "grant"


async def test_the_hook_is_not_there_without_a_secret(
    admin: Client, settings: Settings, sessionmaker: SessionMaker
) -> None:
    app = create_app(replace(settings, sms_hook_secret=None))
    async with AsyncTestClient(app=app) as client:
        answer = await client.post("/hooks/sms", json={"from": "+358401", "text": "STOP"})
    assert answer.status_code == 404


# -- composing and counting ------------------------------------------------------------


async def test_composing_an_sms_campaign(admin: Client) -> None:
    for body, field in (
        ({**SMS_CAMPAIGN, "subject": "Hi"}, "body"),
        ({**SMS_CAMPAIGN, "body_text": ""}, "body"),
        ({**SMS_CAMPAIGN, "translations": {"sv": {"subject": "x"}}}, "translations"),
        ({**SMS_CAMPAIGN, "body_text": "{{ contact.nme }}"}, "body_text"),
        ({**SMS_CAMPAIGN, "body_text": "x" * 1601}, "body"),
    ):
        response = await admin.post("/api/v1/campaigns", json=body)
        assert response.status_code == 422, response.text
        assert field in response.json().get("fields", {}), response.json()
    campaign_id = await sms_campaign(admin)
    url = f"/api/v1/campaigns/{campaign_id}"
    edited = await admin.patch(url, json={"translations": {"en": {"body_text": "Hi!"}}})
    assert edited.status_code == 200, edited.text
    assert edited.json()["translations"] == {"en": {"body_text": "Hi!"}}
    email_kind = {"en": {"subject": "s", "body_html": "<p>h</p>", "body_text": "t"}}
    assert (await admin.patch(url, json={"translations": email_kind})).status_code == 422
    assert (await admin.patch(url, json={"subject": "no"})).status_code == 422
    # An email campaign refuses an SMS's text-only translation.
    email_id = await add_campaign(admin)
    text_only = {"translations": {"sv": {"body_text": "Hej"}}}
    assert (await admin.patch(f"/api/v1/campaigns/{email_id}", json=text_only)).status_code == 422


async def test_segments_of_each_version_and_the_preview(admin: Client) -> None:
    contact_id = await texter(admin, "0401231231", full_name="Åsa Berg", language="sv")
    campaign_id = await sms_campaign(
        admin, translations={"en": {"body_text": "Hi {{ contact.name }} 😀 " + "x" * 40}}
    )
    sizes = (await admin.get(f"/api/v1/campaigns/{campaign_id}/sms-segments")).json()
    assert set(sizes["versions"]) == {"default", "en"}
    default = sizes["versions"]["default"]
    assert default["encoding"] == "gsm7" and default["segments"] == 1
    assert sizes["text"]["default"].endswith("tai vastaa STOP")
    english = sizes["versions"]["en"]
    # The emoji makes it UCS-2: the opt-out line alone then takes two segments.
    assert english["encoding"] == "ucs2" and english["segments"] == 3
    assert english["characters"] == len(sizes["text"]["en"])
    assert english["units"] == len(sizes["text"]["en"]) + 1  # the emoji is two units

    preview = await admin.post(
        f"/api/v1/campaigns/{campaign_id}/preview", json={"contact_id": contact_id}
    )
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["language"] == "default" and body["subject"] == "" and body["html"] == ""
    assert body["text"].startswith("Hei Åsa Berg!") and "eller svara STOP" in body["text"]
    assert body["sms"]["encoding"] == "gsm7" and body["eligible"] is True
    email_id = await add_campaign(admin)
    assert (await admin.get(f"/api/v1/campaigns/{email_id}/sms-segments")).status_code == 409


async def test_the_opt_out_line_leaves_most_of_one_segment(admin: Client) -> None:
    # 66 characters of text, the sender's name (13 with its line break) and
    # the opt-out line fit one GSM-7 message (160); with an email's long token
    # (about 58 characters) they took two.
    campaign_id = await sms_campaign(admin, body_text="x" * 66, translations={})
    sizes = (await admin.get(f"/api/v1/campaigns/{campaign_id}/sms-segments")).json()
    default = sizes["versions"]["default"]
    assert (default["encoding"], default["segments"]) == ("gsm7", 1)
    line = sizes["text"]["default"].splitlines()[-1]
    assert line.startswith(f"Lopeta: {PUBLIC_URL}/u/") and line.endswith(" tai vastaa STOP")
    token = line.removeprefix(f"Lopeta: {PUBLIC_URL}/u/").removesuffix(" tai vastaa STOP")
    # 22 characters for a campaign id over 127 and a contact id of seven digits.
    assert len(token) <= 22 and len(line) <= 77


async def test_the_sender_is_named_once(admin: Client) -> None:
    # Not named by the text: a line of its own before the opt-out line.
    unnamed = await sms_campaign(admin, body_text="Syyskurssit alkavat.", translations={})
    sizes = (await admin.get(f"/api/v1/campaigns/{unnamed}/sms-segments")).json()
    assert sizes["text"]["default"].splitlines()[:2] == ["Syyskurssit alkavat.", SENDER]
    # Already signed by the author (any case): not said twice.
    signed = await sms_campaign(
        admin, body_text="Syyskurssit alkavat. T. ESIMERKKI OY", translations={}
    )
    text = (await admin.get(f"/api/v1/campaigns/{signed}/sms-segments")).json()["text"]["default"]
    assert text.splitlines()[0] == "Syyskurssit alkavat. T. ESIMERKKI OY"
    assert text.splitlines()[1].startswith("Lopeta: ") and SENDER not in text
