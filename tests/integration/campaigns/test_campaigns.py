"""Campaigns end to end: compose, audience, preview, send through the real
queue jobs to a real SMTP server, and the re-check right before sending."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlmodel import select

from service.campaigns import sending
from service.crypto import DataCipher
from service.db import SessionMaker
from service.delivery import batch
from service.models import CampaignRecipient, Suppression
from service.settings import Settings, load_settings
from service.tokens import TokenSigner
from tests.conftest import TEST_DATA_KEY, TEST_SECRET
from tests.support.clock import FrozenClock
from tests.support.factories import EMAIL_CAMPAIGN, add_campaign, add_recipient
from tests.support.smtp import PickySink
from tests.support.worker import drain, worker_context

Client = AsyncTestClient[Litestar]


@pytest.fixture
def sink() -> Iterator[PickySink]:
    with PickySink() as server:
        yield server


@pytest.fixture
def settings(settings: Settings, settings_env: dict[str, str], sink: PickySink) -> Settings:
    """The session's settings, with a real SMTP server to send to."""
    return load_settings(
        {
            **settings_env,
            "CONSENTRY_DATABASE_URL": settings.database_url,
            "CONSENTRY_REDIS_URL": settings.redis_url or "",
            "CONSENTRY_SMTP_HOST": "127.0.0.1",
            "CONSENTRY_SMTP_PORT": str(sink.port),
            "CONSENTRY_MAIL_FROM": "news@example.fi",
            "CONSENTRY_PUBLIC_URL": "https://consentry.example.fi",
            "CONSENTRY_CONTROLLER_NAME": "Esimerkki Oy",
            "CONSENTRY_SEND_BATCH_SIZE": "3",
            "CONSENTRY_SEND_PAUSE_AFTER_FAILURES": "4",
        }
    )


@pytest.fixture
async def ctx(settings: Settings, sessionmaker: SessionMaker) -> AsyncIterator[dict[str, Any]]:
    async with worker_context(settings, sessionmaker) as context:
        await context["redis"].flushdb()
        yield context


async def campaign(admin: Client, campaign_id: int) -> dict[str, Any]:
    response = await admin.get(f"/api/v1/campaigns/{campaign_id}")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


# -- composing --------------------------------------------------------------------


async def test_template_errors_are_a_422_naming_field_and_line(admin: Client) -> None:
    body = {**EMAIL_CAMPAIGN, "body_html": "<p>Hi</p>\n<p>{{ contact.nme }}</p>"}
    response = await admin.post("/api/v1/campaigns", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["fields"]["body_html"].startswith("line 2:")
    syntax = await admin.post(
        "/api/v1/campaigns", json={**EMAIL_CAMPAIGN, "body_text": "a\nb\n{{ x"}
    )
    assert syntax.status_code == 422
    assert syntax.json()["fields"]["body_text"].startswith("line 3:")
    assert (await admin.get("/api/v1/campaigns")).json() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**EMAIL_CAMPAIGN, "subject": ""}, "body"),
        ({**EMAIL_CAMPAIGN, "channel": "fax"}, "channel"),
        ({**EMAIL_CAMPAIGN, "purpose": "email_tracking"}, "purpose"),
        ({**EMAIL_CAMPAIGN, "segment": {"languages": ["de"]}}, "segment.languages.0"),
        ({**EMAIL_CAMPAIGN, "send_at": "2030-01-01T09:00:00"}, "send_at"),
        (
            {**EMAIL_CAMPAIGN, "translations": {"sv": {"subject": "Hej"}}},
            "translations.sv.body_html",
        ),
        ({**EMAIL_CAMPAIGN, "colour": "red"}, "colour"),
    ],
)
async def test_bad_campaigns_are_rejected(admin: Client, body: dict[str, Any], field: str) -> None:
    response = await admin.post("/api/v1/campaigns", json=body)
    assert response.status_code == 422, response.text
    assert field in response.json()["fields"], response.json()


async def test_drafts_are_editable_and_nothing_else_is(admin: Client) -> None:
    await add_recipient(admin, "a@example.fi")
    campaign_id = await add_campaign(admin)
    url = f"/api/v1/campaigns/{campaign_id}"
    edited = await admin.patch(url, json={"subject": "New {{ contact.name }}"})
    assert edited.status_code == 200 and edited.json()["subject"] == "New {{ contact.name }}"
    broken = await admin.patch(url, json={"body_text": "{{ contact.__class__ }}"})
    assert broken.status_code == 422
    assert (await admin.post(f"{url}/send")).status_code == 202
    late = await admin.patch(url, json={"subject": "Too late"})
    assert late.status_code == 409 and late.json()["reason"] == "wrong_status"


# -- audience and preview ---------------------------------------------------------------


async def test_audience_counts_eligible_and_each_reason(
    admin: Client, sessionmaker: SessionMaker
) -> None:
    await add_recipient(admin, "yes@example.fi")
    await add_recipient(admin, "no-consent@example.fi", consent=())
    banned = await add_recipient(admin, "banned@example.fi")
    await admin.post(
        f"/api/v1/contacts/{banned}/bans",
        json={"kind": "direct_marketing", "channel": "email", "source": "self"},
    )
    await add_recipient(admin, "swede@example.fi", language="sv")
    await add_recipient(admin, "suppressed@example.fi")
    async with sessionmaker() as db:
        digest = DataCipher(TEST_DATA_KEY).lookup_hash("email", "suppressed@example.fi")
        db.add(Suppression(value_hash=digest, kind="email", reason="objection"))
        await db.commit()
    campaign_id = await add_campaign(admin, segment={"languages": ["fi"]})
    response = await admin.get(f"/api/v1/campaigns/{campaign_id}/audience")
    assert response.status_code == 200
    assert response.json() == {
        "total": 5,
        "eligible": 1,
        "excluded": {
            "no_consent": 1,
            "channel_ban": 1,
            "suppressed": 1,
            "outside_segment": 1,
        },
    }


async def test_preview_in_the_contacts_language(admin: Client) -> None:
    swede = await add_recipient(
        admin, "sv@example.fi", language="sv", full_name="Sven <b>Svensson</b>"
    )
    campaign_id = await add_campaign(
        admin,
        translations={
            "sv": {
                "subject": "Hej {{ contact.name }}",
                "body_html": "<p>Hej {{ contact.name }}</p>",
                "body_text": "Hej",
            }
        },
    )
    response = await admin.post(
        f"/api/v1/campaigns/{campaign_id}/preview", json={"contact_id": swede}
    )
    assert response.status_code == 200, response.text
    preview = response.json()
    assert preview["language"] == "sv" and preview["subject"] == "Hej Sven <b>Svensson</b>"
    assert "Sven &lt;b&gt;Svensson&lt;/b&gt;" in preview["html"]
    assert "Esimerkki Oy" in preview["html"] and "/u/" in preview["html"]
    assert preview["eligible"] is True and preview["reasons"] == []
    missing = await admin.post(f"/api/v1/campaigns/{campaign_id}/preview", json={"contact_id": 999})
    assert missing.status_code == 404


# -- sending -----------------------------------------------------------------------


async def test_send_reaches_exactly_the_eligible_with_the_right_headers(
    admin: Client, ctx: dict[str, Any], sink: PickySink
) -> None:
    eligible = ["a@example.fi", "b@example.fi", "c@example.fi", "d@example.fi", "e@example.fi"]
    for address in eligible:
        await add_recipient(admin, address)
    await add_recipient(admin, "nope@example.fi", consent=())
    campaign_id = await add_campaign(admin)
    response = await admin.post(f"/api/v1/campaigns/{campaign_id}/send")
    assert response.status_code == 202 and response.json()["status"] == "sending"
    await drain(ctx)

    assert sorted(address for address, _ in sink.accepted) == eligible
    message_ids = {message["Message-ID"] for _, message in sink.accepted}
    assert len(message_ids) == len(eligible)
    signer = TokenSigner(TEST_SECRET)
    contacts_by_address: dict[str, int] = {}
    for address, message in sink.accepted:
        assert message["From"] == "news@example.fi" and message["To"] == address
        assert message["List-Id"] == f"<campaign-{campaign_id}.example.fi>"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        https, mailto = (part.strip(" <>") for part in message["List-Unsubscribe"].split(","))
        assert https.startswith("https://consentry.example.fi/u/")
        assert mailto.startswith("mailto:unsubscribe@example.fi?subject=unsubscribe")
        token_contact, token_campaign = signer.verify(https.rsplit("/", 1)[1], "unsubscribe")
        assert token_campaign == campaign_id
        contacts_by_address[address] = token_contact
        assert address not in https and "@" not in https.split("/u/")[1]
        text = message.get_body(("plain",))
        assert text is not None and https in text.get_content()
    # Each token names its own recipient.
    for address, contact_id in contacts_by_address.items():
        assert (await admin.get(f"/api/v1/contacts/{contact_id}")).json()["email"] == address
    done = await campaign(admin, campaign_id)
    assert done["status"] == "done" and done["finished_at"]
    assert done["counts"] == {"queued": 0, "sent": 5, "failed": 0, "skipped": 0}
    assert done["audience_at_build"]["eligible"] == 5
    assert done["audience_at_build"]["excluded"] == {"no_consent": 1}


async def test_a_ban_after_the_list_was_built_is_honoured(
    admin: Client, ctx: dict[str, Any], sink: PickySink
) -> None:
    keep = await add_recipient(admin, "keep@example.fi")
    leaver = await add_recipient(admin, "leaver@example.fi")
    campaign_id = await add_campaign(admin)
    assert (await admin.post(f"/api/v1/campaigns/{campaign_id}/send")).status_code == 202
    # Build the list (the start job), then the person forbids marketing.
    await sending.start(ctx["sender"], campaign_id)
    await admin.post(
        f"/api/v1/contacts/{leaver}/bans",
        json={"kind": "direct_marketing", "channel": "all", "source": "self"},
    )
    await drain(ctx)
    assert [address for address, _ in sink.accepted] == ["keep@example.fi"]
    async with ctx["sessionmaker"]() as db:
        rows = {r.contact_id: r for r in (await db.exec(select(CampaignRecipient))).all()}
    assert rows[keep].status == "sent" and rows[keep].sent_at is not None
    assert rows[leaver].status == "skipped" and rows[leaver].reason == "direct_marketing_ban"
    assert (await campaign(admin, campaign_id))["counts"]["skipped"] == 1


async def test_refused_addresses_fail_and_are_suppressed(
    admin: Client, ctx: dict[str, Any], sink: PickySink
) -> None:
    await add_recipient(admin, "ok@example.fi")
    await add_recipient(admin, "gone@example.fi")
    campaign_id = await add_campaign(admin)
    await admin.post(f"/api/v1/campaigns/{campaign_id}/send")
    await drain(ctx)
    async with ctx["sessionmaker"]() as db:
        rows = (await db.exec(select(CampaignRecipient))).all()
        suppressed = (await db.exec(select(Suppression))).all()
    failed = [r for r in rows if r.status == "failed"]
    assert (
        len(failed) == 1 and failed[0].smtp_code == 550 and "5.1.1" in (failed[0].smtp_reply or "")
    )
    assert [(s.kind, s.reason) for s in suppressed] == [("email", "bounce")]
    assert suppressed[0].value_hash == DataCipher(TEST_DATA_KEY).lookup_hash(
        "email", "gone@example.fi"
    )
    assert (await campaign(admin, campaign_id))["status"] == "done"
    # The next campaign does not even try.
    second = await add_campaign(admin, name="Second")
    audience = (await admin.get(f"/api/v1/campaigns/{second}/audience")).json()
    assert audience["excluded"]["suppressed"] == 1


async def test_temporary_failures_stay_queued_for_a_retry(
    admin: Client, ctx: dict[str, Any]
) -> None:
    ctx["sender"].settings = replace(ctx["sender"].settings, send_pause_after_failures=100)
    await add_recipient(admin, "later@example.fi")
    campaign_id = await add_campaign(admin)
    await admin.post(f"/api/v1/campaigns/{campaign_id}/send")
    await sending.start(ctx["sender"], campaign_id)
    async with ctx["sessionmaker"]() as db:
        row = (await db.exec(select(CampaignRecipient))).one()
    with pytest.raises(batch.TemporaryFailures):
        await sending.send_batch(ctx["sender"], campaign_id, row.id or 0, row.id or 0)
    async with ctx["sessionmaker"]() as db:
        row = (await db.exec(select(CampaignRecipient))).one()
    assert row.status == "queued" and row.attempts == 1 and row.smtp_code == 451
    # After the last allowed attempt it is given up, not retried for ever.
    for _ in range(batch.MAX_TEMPORARY_ATTEMPTS - 2):
        with pytest.raises(batch.TemporaryFailures):
            await sending.send_batch(ctx["sender"], campaign_id, row.id or 0, row.id or 0)
    await sending.send_batch(ctx["sender"], campaign_id, row.id or 0, row.id or 0)
    async with ctx["sessionmaker"]() as db:
        row = (await db.exec(select(CampaignRecipient))).one()
    assert row.status == "failed" and "gave up after 5" in (row.smtp_reply or "")
    assert (await campaign(admin, campaign_id))["status"] == "done"


async def test_a_run_of_failures_pauses_the_campaign(admin: Client, ctx: dict[str, Any]) -> None:
    for index in range(6):
        await add_recipient(admin, f"later{index}@example.fi")
    campaign_id = await add_campaign(admin)
    await admin.post(f"/api/v1/campaigns/{campaign_id}/send")
    await sending.start(ctx["sender"], campaign_id)
    async with ctx["sessionmaker"]() as db:
        ids = sorted(r.id or 0 for r in (await db.exec(select(CampaignRecipient))).all())
    with pytest.raises(batch.TemporaryFailures):
        await sending.send_batch(ctx["sender"], campaign_id, ids[0], ids[2])
    result = await sending.send_batch(ctx["sender"], campaign_id, ids[3], ids[5])
    assert result.startswith("paused")
    paused = await campaign(admin, campaign_id)
    assert paused["status"] == "paused"
    assert (
        "6 failed deliveries in a row" in paused["pause_reason"] and "451" in paused["pause_reason"]
    )


async def test_pause_resume_and_cancel(admin: Client, ctx: dict[str, Any], sink: PickySink) -> None:
    for index in range(4):
        await add_recipient(admin, f"p{index}@example.fi")
    campaign_id = await add_campaign(admin)
    url = f"/api/v1/campaigns/{campaign_id}"
    await admin.post(f"{url}/send")
    paused = await admin.post(f"{url}/pause")
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    await drain(ctx)
    assert sink.accepted == []
    assert (await admin.post(f"{url}/pause")).status_code == 409
    resumed = await admin.post(f"{url}/resume")
    assert resumed.status_code == 202 and resumed.json()["status"] == "sending"
    await drain(ctx)
    assert len(sink.accepted) == 4
    assert (await campaign(admin, campaign_id))["status"] == "done"
    assert (await admin.post(f"{url}/cancel")).status_code == 409

    other = await add_campaign(admin, name="Other")
    await admin.post(f"/api/v1/campaigns/{other}/send")
    await sending.start(ctx["sender"], other)
    cancelled = await admin.post(f"/api/v1/campaigns/{other}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["counts"] == {"queued": 0, "sent": 0, "failed": 0, "skipped": 4}
    await drain(ctx)
    assert len(sink.accepted) == 4


async def test_frequency_cap(admin: Client, ctx: dict[str, Any], sink: PickySink) -> None:
    capped = replace(ctx["sender"].settings, frequency_cap_messages=1)
    ctx["sender"].settings = capped
    admin.app.state.settings = capped
    await add_recipient(admin, "f@example.fi")
    first = await add_campaign(admin, name="First")
    await admin.post(f"/api/v1/campaigns/{first}/send")
    await drain(ctx)
    second = await add_campaign(admin, name="Second")
    audience = (await admin.get(f"/api/v1/campaigns/{second}/audience")).json()
    assert audience == {"total": 1, "eligible": 0, "excluded": {"frequency_cap": 1}}
    assert Counter(address for address, _ in sink.accepted) == {"f@example.fi": 1}


async def test_a_scheduled_campaign_starts_when_due(
    admin: Client, ctx: dict[str, Any], sink: PickySink, frozen_clock: FrozenClock
) -> None:
    from workers.campaigns import sweep_campaigns

    await add_recipient(admin, "s@example.fi")
    send_at = frozen_clock.now + timedelta(hours=1)
    campaign_id = await add_campaign(admin, send_at=send_at.isoformat())
    response = await admin.post(f"/api/v1/campaigns/{campaign_id}/send")
    assert response.status_code == 202 and response.json()["status"] == "scheduled"
    assert await sweep_campaigns(ctx) == 0
    # Lose the deferred start job, as after a Redis failure: the sweep must
    # still start the campaign once it is due.
    await ctx["redis"].flushdb()
    frozen_clock.set(send_at + timedelta(seconds=1))
    assert await sweep_campaigns(ctx) == 1
    await drain(ctx)
    assert [address for address, _ in sink.accepted] == ["s@example.fi"]
    done = await campaign(admin, campaign_id)
    assert done["status"] == "done" and done["started_at"] is not None
