"""The one bounce rule at send time (issue 15 item 3): the relay's refusals
while sending, through the real queue jobs to a real SMTP server.

Only a bad address is suppressed; a full mailbox is counted against the
address; a policy block ("550 5.7.606 banned sending IP") is counted against
the campaign, never the address, and a spike of them pauses the campaign."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest
from sqlmodel import col, select

from service.crypto import DataCipher
from service.models import BounceCounter, Suppression
from service.models.bounces import DeliveryEventRecord
from service.settings import Settings
from tests.conftest import TEST_DATA_KEY
from tests.integration.campaigns.test_campaigns import Client, campaign
from tests.support.factories import add_campaign, add_recipient
from tests.support.smtp import PickySink
from tests.support.worker import drain

CIPHER = DataCipher(TEST_DATA_KEY)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Failures in a row would pause first otherwise; here the policy rule is tested.
    return dataclasses.replace(settings, send_pause_after_failures=1000, policy_pause_after=3)


def hashed(address: str) -> str:
    return CIPHER.lookup_hash("email", address)


async def suppressed(ctx: dict[str, Any]) -> dict[str, str]:
    async with ctx["sessionmaker"]() as db:
        rows = (await db.exec(select(Suppression))).all()
    return {row.value_hash: str(row.reason) for row in rows}


async def counters(ctx: dict[str, Any]) -> dict[str, tuple[int, int]]:
    async with ctx["sessionmaker"]() as db:
        rows = (await db.exec(select(BounceCounter))).all()
    return {row.value_hash: (row.soft_count, row.hard_count) for row in rows}


async def events(ctx: dict[str, Any], campaign_id: int) -> list[tuple[str, str, str | None]]:
    async with ctx["sessionmaker"]() as db:
        rows = (
            await db.exec(
                select(DeliveryEventRecord)
                .where(DeliveryEventRecord.campaign_id == campaign_id)
                .order_by(col(DeliveryEventRecord.id))
            )
        ).all()
    return [(row.value_hash, row.source, row.bounce_class) for row in rows]


async def test_each_refusal_does_what_the_rule_says(
    admin: Client, ctx: dict[str, Any], sink: PickySink
) -> None:
    addresses = ["gone@example.fi", "full@example.fi", "blocked@example.fi", "ok@example.fi"]
    for address in addresses:
        await add_recipient(admin, address)
    campaign_id = await add_campaign(admin)
    assert (await admin.post(f"/api/v1/campaigns/{campaign_id}/send")).status_code == 202
    await drain(ctx)

    done = await campaign(admin, campaign_id)
    assert done["status"] == "done"
    assert done["bounce_classes"] == {"bad_address": 1, "soft": 1, "policy": 1}
    assert [a for a, _ in sink.accepted] == ["ok@example.fi"]
    assert await suppressed(ctx) == {hashed("gone@example.fi"): "bounce"}
    # The blocked person did nothing wrong: nothing about their address changes.
    assert await counters(ctx) == {
        hashed("gone@example.fi"): (0, 1),
        hashed("full@example.fi"): (1, 0),
    }
    assert sorted(await events(ctx, campaign_id)) == sorted(
        [
            (hashed("gone@example.fi"), "smtp", "bad_address"),
            (hashed("full@example.fi"), "smtp", "soft"),
            (hashed("blocked@example.fi"), "smtp", "policy"),
        ]
    )
    # The next campaign still reaches the blocked and the full mailbox.
    audience = (await admin.get(f"/api/v1/campaigns/{await add_campaign(admin)}/audience")).json()
    assert audience["excluded"] == {"suppressed": 1}


async def test_a_spike_of_policy_refusals_pauses_the_campaign_with_the_reason(
    admin: Client, ctx: dict[str, Any], sink: PickySink
) -> None:
    # Batches of three, which the worker may run side by side. The three
    # refusals come in one batch: refusals split over two batches running
    # at once are each counted by a transaction that may not see the other's
    # yet, and with nothing left to send the campaign may end before either
    # sees three (no harm: a pause would stop nothing).
    addresses = ["blocked1@example.fi", "blocked2@example.fi", "blocked3@example.fi"]
    addresses += ["a@example.fi", "b@example.fi", "c@example.fi"]
    for address in addresses:
        await add_recipient(admin, address)
    campaign_id = await add_campaign(admin)
    await admin.post(f"/api/v1/campaigns/{campaign_id}/send")
    await drain(ctx)

    paused = await campaign(admin, campaign_id)
    assert paused["status"] == "paused"
    assert re.fullmatch(
        r"paused: 3 of the last [3-6] messages were refused by policy \(5\.7\.x\)"
        r" — the sending IP or content is blocked",
        paused["pause_reason"],
    ), paused["pause_reason"]
    assert await suppressed(ctx) == {} and await counters(ctx) == {}
    assert len(await events(ctx, campaign_id)) == 3


async def test_a_few_policy_refusals_do_not_pause(
    admin: Client, ctx: dict[str, Any], sink: PickySink
) -> None:
    addresses = ["blocked1@example.fi", "blocked2@example.fi"]
    addresses += [f"fine{i}@example.fi" for i in range(4)]
    for address in addresses:
        await add_recipient(admin, address)
    campaign_id = await add_campaign(admin)
    await admin.post(f"/api/v1/campaigns/{campaign_id}/send")
    await drain(ctx)
    assert (await campaign(admin, campaign_id))["status"] == "done"
    assert len(sink.accepted) == 4
