"""A recipient given up after its temporary tries, by the one bounce rule
(issue 15 item 3): the relay's last answer is classed like any other
refusal, through the real send jobs to a real SMTP server.

"452 4.2.2 mailbox over quota" on every try is a soft bounce: counted once
against the address, which is suppressed when the count reaches
CONSENTRY_SOFT_BOUNCE_LIMIT. "421 4.7.0 … unusual rate of unsolicited mail"
is a deferral for our reputation: counted against the campaign, never the
address."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from sqlmodel import col, select

from service.campaigns import sending
from service.crypto import DataCipher
from service.delivery import batch
from service.models import BounceCounter, CampaignRecipient, Suppression
from service.models.bounces import DeliveryEventRecord
from tests.conftest import TEST_DATA_KEY
from tests.integration.campaigns.test_campaigns import Client
from tests.support.factories import add_campaign, add_recipient
from tests.support.smtp import PickySink

CIPHER = DataCipher(TEST_DATA_KEY)


def hashed(address: str) -> str:
    return CIPHER.lookup_hash("email", address)


async def send_until_given_up(admin: Client, ctx: dict[str, Any]) -> int:
    """A campaign to the one recipient, its batch run until the loop gives up."""
    campaign_id = await add_campaign(admin)
    assert (await admin.post(f"/api/v1/campaigns/{campaign_id}/send")).status_code == 202
    await sending.start(ctx["sender"], campaign_id)
    async with ctx["sessionmaker"]() as db:
        row = (
            await db.exec(
                select(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign_id)
            )
        ).one()
    row_id = row.id or 0
    before = await events(ctx)
    for _ in range(batch.MAX_TEMPORARY_ATTEMPTS - 1):
        with pytest.raises(batch.TemporaryFailures):
            await sending.send_batch(ctx["sender"], campaign_id, row_id, row_id)
        # Nothing is counted while the recipient is still being tried.
        assert await events(ctx) == before
    await sending.send_batch(ctx["sender"], campaign_id, row_id, row_id)
    async with ctx["sessionmaker"]() as db:
        row = await db.get(CampaignRecipient, row_id)
    assert row is not None and row.status == "failed" and row.reason == "temporary_failures"
    return campaign_id


async def counters(ctx: dict[str, Any]) -> dict[str, tuple[int, int, str]]:
    async with ctx["sessionmaker"]() as db:
        rows = (await db.exec(select(BounceCounter))).all()
    return {row.value_hash: (row.soft_count, row.hard_count, row.last_status) for row in rows}


async def suppressed(ctx: dict[str, Any]) -> dict[str, str]:
    async with ctx["sessionmaker"]() as db:
        rows = (await db.exec(select(Suppression))).all()
    return {row.value_hash: str(row.reason) for row in rows}


async def events(ctx: dict[str, Any]) -> list[tuple[str, str, str | None, str | None, int | None]]:
    async with ctx["sessionmaker"]() as db:
        rows = (
            await db.exec(select(DeliveryEventRecord).order_by(col(DeliveryEventRecord.id)))
        ).all()
    return [(r.value_hash, r.source, r.bounce_class, r.status, r.campaign_id) for r in rows]


async def test_a_mailbox_full_on_every_try_counts_once_and_suppresses_at_the_limit(
    admin: Client, ctx: dict[str, Any], sink: PickySink
) -> None:
    ctx["sender"].settings = dataclasses.replace(
        ctx["sender"].settings, send_pause_after_failures=100, soft_bounce_limit=2
    )
    address = "quota@example.fi"
    await add_recipient(admin, address)

    first = await send_until_given_up(admin, ctx)
    # Five refusals of one message: one soft bounce, not five.
    assert await counters(ctx) == {hashed(address): (1, 0, "4.2.2")}
    assert await events(ctx) == [(hashed(address), "smtp", "soft", "4.2.2", first)]
    assert await suppressed(ctx) == {}

    second = await send_until_given_up(admin, ctx)
    assert await counters(ctx) == {hashed(address): (2, 0, "4.2.2")}
    assert [e[4] for e in await events(ctx)] == [first, second]
    assert await suppressed(ctx) == {hashed(address): "soft_bounce"}
    assert sink.accepted == []


async def test_a_reputation_deferral_given_up_counts_against_the_campaign_only(
    admin: Client, ctx: dict[str, Any], sink: PickySink
) -> None:
    ctx["sender"].settings = dataclasses.replace(
        ctx["sender"].settings,
        send_pause_after_failures=100,
        soft_bounce_limit=1,
        policy_pause_after=1,
    )
    address = "deferred@example.fi"
    await add_recipient(admin, address)
    campaign_id = await send_until_given_up(admin, ctx)
    assert await events(ctx) == [(hashed(address), "smtp", "policy", "4.7.0", campaign_id)]
    # The person did nothing wrong: their address is neither counted nor suppressed.
    assert await counters(ctx) == {} and await suppressed(ctx) == {}
    # Counted against the campaign: at policy_pause_after=1 it is a spike.
    shown = (await admin.get(f"/api/v1/campaigns/{campaign_id}")).json()
    assert shown["bounce_classes"] == {"policy": 1}
    assert shown["status"] == "paused"
    assert shown["pause_reason"].startswith("paused: 1 of the last 1 messages were refused")
