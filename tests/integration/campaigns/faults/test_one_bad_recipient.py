"""One bad recipient never stops the others (issue 13 item 1).

Rows the API would refuse today (a line break or NUL in a name) are written
straight into the database, as an older version or an import may have left
them. Sent through the real queue jobs to a real SMTP server."""

from __future__ import annotations

from typing import Any

import pytest
from arq import Retry
from sqlalchemy import update
from sqlmodel import col, select

from service.campaigns import sending
from service.delivery.smtp import SmtpConfig, SmtpPool
from service.models import Campaign, CampaignRecipient, Contact
from tests.integration.campaigns.test_campaigns import Client, campaign
from tests.support.factories import add_campaign, add_recipient
from tests.support.smtp import PickySink
from tests.support.worker import drain
from workers import campaigns as campaign_jobs


async def set_name(ctx: dict[str, Any], contact_id: int, name: str) -> None:
    async with ctx["sessionmaker"]() as db:
        await db.exec(update(Contact).where(col(Contact.id) == contact_id).values(full_name=name))
        await db.commit()


async def recipients(ctx: dict[str, Any]) -> dict[int, CampaignRecipient]:
    async with ctx["sessionmaker"]() as db:
        rows = (await db.exec(select(CampaignRecipient))).all()
    return {row.contact_id or 0: row for row in rows}


@pytest.mark.parametrize(
    "poison", ["Anna\nBcc: all@example.fi", "Esc\x1bape", "Line\u2028sep", "Nul\x00l"]
)
async def test_a_poison_row_fails_alone_and_the_batch_goes_on(
    admin: Client, ctx: dict[str, Any], sink: PickySink, poison: str, database_url: str
) -> None:
    if "\x00" in poison and database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL text cannot hold NUL, so no such row can exist there")
    # Batches of three (the fixture's settings): the bad row is the middle one.
    ids = [await add_recipient(admin, f"p{i}@example.fi") for i in range(5)]
    await set_name(ctx, ids[1], poison)
    campaign_id = await add_campaign(admin)
    assert (await admin.post(f"/api/v1/campaigns/{campaign_id}/send")).status_code == 202
    await drain(ctx)

    rows = await recipients(ctx)
    assert rows[ids[1]].status == "failed" and rows[ids[1]].reason == "render_error"
    assert all(rows[i].status == "sent" for i in ids if i != ids[1])
    assert sorted(a for a, _ in sink.accepted) == sorted(f"p{i}@example.fi" for i in (0, 2, 3, 4))
    done = await campaign(admin, campaign_id)
    assert done["status"] == "done"
    assert done["counts"]["failed"] == 1 and done["failures"] == {"render_error": 1}
    stats = (await admin.get(f"/api/v1/campaigns/{campaign_id}/statistics")).json()
    # A message we could not make is a failure, not a bounce.
    assert stats["failures"] == {"render_error": 1} and stats["bounces"] == 0


async def test_a_template_error_for_one_person_fails_only_them(
    admin: Client, ctx: dict[str, Any], sink: PickySink
) -> None:
    ids = [await add_recipient(admin, f"q{i}@example.fi") for i in range(3)]
    # Valid at save for every contact; divides by zero for a name of 5 letters.
    campaign_id = await add_campaign(admin, body_text="Hi {{ 1 // (contact.name|length - 5) }}")
    await set_name(ctx, ids[2], "Maija")
    await admin.post(f"/api/v1/campaigns/{campaign_id}/send")
    await drain(ctx)
    rows = await recipients(ctx)
    assert [rows[i].status for i in ids] == ["sent", "sent", "failed"]
    assert rows[ids[2]].reason == "render_error"
    assert "line 1: integer division or modulo by zero" in (rows[ids[2]].smtp_reply or "")
    assert (await campaign(admin, campaign_id))["status"] == "done"


async def test_a_broken_template_pauses_at_once_with_the_reason(
    admin: Client, ctx: dict[str, Any], sink: PickySink
) -> None:
    await add_recipient(admin, "r@example.fi")
    campaign_id = await add_campaign(admin)
    async with ctx["sessionmaker"]() as db:
        await db.exec(
            update(Campaign).where(col(Campaign.id) == campaign_id).values(body_html="{{ x")
        )
        await db.commit()
    await admin.post(f"/api/v1/campaigns/{campaign_id}/send")
    await drain(ctx)
    paused = await campaign(admin, campaign_id)
    assert paused["status"] == "paused"
    assert paused["pause_reason"].startswith("the template cannot be used")
    assert sink.accepted == []


async def test_a_failing_batch_retries_then_pauses_with_the_reason(
    admin: Client, ctx: dict[str, Any], sink: PickySink
) -> None:
    """A failure of the whole batch (here: no relay configured) is retried with
    back-off, and after the last try the campaign pauses: never a silent loop."""
    await add_recipient(admin, "s@example.fi")
    campaign_id = await add_campaign(admin)
    await admin.post(f"/api/v1/campaigns/{campaign_id}/send")
    await sending.start(ctx["sender"], campaign_id)
    first = min((await recipients(ctx)).values(), key=lambda r: r.id or 0).id or 0
    smtp, ctx["sender"].smtp = ctx["sender"].smtp, None
    try:
        # arq's job_try also counts kills and deferred recipients' retries:
        # the job's own failure count decides (here job_try stays 1).
        job = {**ctx, "job_id": "test-batch", "job_try": 1}
        for failures in range(1, campaign_jobs.MAX_JOB_FAILURES):
            with pytest.raises(Retry) as retry:
                await campaign_jobs.send_batch(job, campaign_id, first, first)
            assert retry.value.defer_score == campaign_jobs.backoff(failures) * 1000
            assert (await campaign(admin, campaign_id))["status"] == "sending"
        result = await campaign_jobs.send_batch(job, campaign_id, first, first)
    finally:
        ctx["sender"].smtp = smtp
    assert result.startswith("paused")
    paused = await campaign(admin, campaign_id)
    assert paused["status"] == "paused"
    assert "failed 6 times" in paused["pause_reason"]
    assert "RuntimeError" in paused["pause_reason"] and "SMTP" in paused["pause_reason"]
    # Resumed once the relay is back, it finishes.
    assert (await admin.post(f"/api/v1/campaigns/{campaign_id}/resume")).status_code == 202
    await drain(ctx)
    assert (await campaign(admin, campaign_id))["status"] == "done"
    assert [a for a, _ in sink.accepted] == ["s@example.fi"]


async def test_a_non_ascii_local_part_goes_out_with_smtputf8(
    admin: Client, ctx: dict[str, Any]
) -> None:
    """Accepted at input (docs/web-contacts.md), delivered where the relay
    offers SMTPUTF8, and failed for that recipient alone where it does not."""
    plain = await add_recipient(admin, "plain@example.fi")
    utf8 = await add_recipient(admin, "käyttäjä@example.fi")
    campaign_id = await add_campaign(admin)
    await admin.post(f"/api/v1/campaigns/{campaign_id}/send")
    with PickySink(smtputf8=True) as relay:
        sender = ctx["sender"]
        old, sender.smtp = sender.smtp, SmtpPool(SmtpConfig("127.0.0.1", relay.port), size=2)
        try:
            await drain(ctx)
        finally:
            await sender.smtp.close()
            sender.smtp = old
    assert sorted(a for a, _ in relay.accepted) == ["käyttäjä@example.fi", "plain@example.fi"]
    message = next(m for a, m in relay.accepted if a == "käyttäjä@example.fi")
    assert message["To"] == "käyttäjä@example.fi"
    rows = await recipients(ctx)
    assert rows[plain].status == rows[utf8].status == "sent"


async def test_without_smtputf8_only_that_recipient_fails(
    admin: Client, ctx: dict[str, Any], sink: PickySink
) -> None:
    before = await add_recipient(admin, "a@example.fi")
    utf8 = await add_recipient(admin, "åsa@example.fi")
    after = await add_recipient(admin, "b@example.fi")
    campaign_id = await add_campaign(admin)
    await admin.post(f"/api/v1/campaigns/{campaign_id}/send")
    await drain(ctx)
    rows = await recipients(ctx)
    assert rows[before].status == rows[after].status == "sent"
    assert rows[utf8].status == "failed" and rows[utf8].reason == "address_not_deliverable"
    assert (await campaign(admin, campaign_id))["failures"] == {"address_not_deliverable": 1}
    # Nothing about the address itself says it is gone: it is not suppressed.
    audience = (await admin.get(f"/api/v1/campaigns/{campaign_id}/audience")).json()
    assert "suppressed" not in audience["excluded"]


@pytest.mark.parametrize("poison", ["Anna\nBcc: all@example.fi", "Esc\x1bape"])
async def test_the_preview_for_a_poison_row_is_no_5xx(
    admin: Client, ctx: dict[str, Any], poison: str
) -> None:
    contact = await add_recipient(admin, "preview@example.fi")
    await set_name(ctx, contact, poison)
    campaign_id = await add_campaign(admin)
    response = await admin.post(
        f"/api/v1/campaigns/{campaign_id}/preview", json={"contact_id": contact}
    )
    assert response.status_code == 422, response.text
    assert response.json()["fields"]["subject"]
