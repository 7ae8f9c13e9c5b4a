"""The second look before a campaign goes out from /app: the confirmation page
shows the audience API's numbers, and the final POST sends only with a fresh
confirmation of its own (service.campaigns.confirmation)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx

from service import clock
from service.embedded import MailCatcher
from service.models.enums import Role
from tests.integration.web.campaigns.conftest import (
    compose,
    confirmation_of,
    send_confirmed,
)
from tests.integration.web.conftest import Client, SignedIn, csrf
from tests.support.clock import FrozenClock
from tests.support.factories import add_recipient
from tests.support.worker import drain


async def status_of(admin: Client, campaign_id: int) -> str:
    answer = await admin.get(f"/api/v1/campaigns/{campaign_id}")
    assert answer.status_code == 200
    status: str = answer.json()["status"]
    return status


def count(page: httpx.Response, element_id: str) -> int:
    found = re.search(rf'id="{element_id}"[^>]*data-count="(\d+)"', page.text)
    assert found is not None, (element_id, page.text)
    return int(found.group(1))


def excluded_shown(page: httpx.Response) -> dict[str, int]:
    rows = re.findall(
        r'<tr id="confirm-reason-([a-z_]+)"><td>[^<]*</td><td class="count" data-count="(\d+)"',
        page.text,
    )
    return {reason: int(n) for reason, n in rows}


async def four_contacts(admin: Client) -> None:
    await add_recipient(admin, "aino@example.fi", full_name="Aino Aaltonen")
    await add_recipient(admin, "bertta@example.fi", full_name="Bertta Berg")
    await add_recipient(admin, "cecilia@example.fi", full_name="Cecilia Co", consent=())
    await add_recipient(admin, None, full_name="Daniel Dahl")


async def post_with(
    browser: Client, campaign_id: int, token: str | None, **fields: str
) -> httpx.Response:
    url = f"/app/campaigns/{campaign_id}"
    shown = await browser.get(url)
    data = {"csrf_token": csrf(shown), **fields}
    if token is not None:
        data["confirmation"] = token
    action = "schedule" if "send_at" in fields else "send"
    return await browser.post(f"{url}/{action}", data=data)


async def test_the_second_look_shows_the_audience_apis_numbers_in_words(
    signed_in: SignedIn,
    admin: Client,
    ctx: dict[str, Any],
    smtp_server: MailCatcher,
) -> None:
    await four_contacts(admin)
    marketer = await signed_in(Role.MARKETER)
    campaign_id = await compose(marketer)
    url = f"/app/campaigns/{campaign_id}"
    composer = await marketer.get(url)
    # The buttons lead to the confirmation page: a GET, so nothing changes yet.
    assert f'<form method="get" action="{url}/send">' in composer.text
    assert f'<form method="get" action="{url}/schedule"' in composer.text

    look = await marketer.get(f"{url}/send")
    assert look.status_code == 200
    assert await status_of(admin, campaign_id) == "draft"
    audience = (await admin.get(f"/api/v1/campaigns/{campaign_id}/audience")).json()
    assert count(look, "confirm-eligible") == audience["eligible"] == 2
    assert count(look, "confirm-total") == audience["total"] == 4
    assert excluded_shown(look) == audience["excluded"] == {"no_consent": 1, "no_address": 1}
    assert '<dd id="confirm-channel">email</dd>' in look.text
    assert '<dd id="confirm-when">now</dd>' in look.text
    assert "no consent for email marketing and no other lawful basis" in look.text
    assert "no email address recorded" in look.text
    assert re.search(r'id="confirm-send">\s*Send to 2 people now\s*</button>', look.text)
    assert "Aino" not in look.text  # counts, not people

    before = smtp_server.received
    sent = await marketer.post(
        f"{url}/send", data={"csrf_token": csrf(look), "confirmation": confirmation_of(look)}
    )
    assert sent.status_code == 303 and sent.headers["location"] == f"{url}#sending"
    assert await status_of(admin, campaign_id) == "sending"
    await drain(ctx)
    assert smtp_server.received - before == 2

    # The same confirmation again: the campaign is no longer a draft.
    replay = await marketer.post(
        f"{url}/send", data={"csrf_token": csrf(look), "confirmation": confirmation_of(look)}
    )
    assert replay.status_code == 409
    assert "cannot be sent" in replay.text
    await drain(ctx)
    assert smtp_server.received - before == 2


async def test_without_a_confirmation_nothing_is_sent(
    signed_in: SignedIn, admin: Client, ctx: dict[str, Any]
) -> None:
    await four_contacts(admin)
    marketer = await signed_in(Role.MARKETER)
    campaign_id = await compose(marketer)
    other_id = await compose(marketer, name="Another")
    other = confirmation_of(await marketer.get(f"/app/campaigns/{other_id}/send"))
    mine = confirmation_of(await marketer.get(f"/app/campaigns/{campaign_id}/send"))
    colleague = await signed_in(Role.MARKETER)
    theirs = confirmation_of(await colleague.get(f"/app/campaigns/{campaign_id}/send"))
    later = (clock.now() + timedelta(days=2)).astimezone(clock.LOCAL_ZONE)
    for token, fields, words in (
        (None, {}, "confirm the numbers on the confirmation page first"),
        ("", {}, "confirm the numbers on the confirmation page first"),
        ("forged.token.value", {}, "confirm the numbers on the confirmation page first"),
        (mine[:-2] + ("AA" if not mine.endswith("AA") else "BB"), {}, "page first"),
        (other, {}, "for another campaign, person or time"),
        (theirs, {}, "for another campaign, person or time"),
        # A send-now confirmation does not schedule, nor the other way round.
        (mine, {"send_at": later.strftime("%Y-%m-%dT%H:%M")}, "another campaign, person or time"),
    ):
        refused = await post_with(marketer, campaign_id, token, **fields)
        assert refused.status_code == 400, (token, refused.text)
        assert words in refused.text
        assert 'role="alert"' in refused.text
        assert await status_of(admin, campaign_id) == "draft"
    # The API is not the web UI: it still answers 202 at once.
    assert (await admin.post(f"/api/v1/campaigns/{other_id}/send")).status_code == 202


async def test_a_change_since_the_look_asks_again(
    signed_in: SignedIn, admin: Client, ctx: dict[str, Any]
) -> None:
    await four_contacts(admin)
    marketer = await signed_in(Role.MARKETER)
    campaign_id = await compose(marketer)
    url = f"/app/campaigns/{campaign_id}"

    # The campaign edited after the look.
    token = confirmation_of(await marketer.get(f"{url}/send"))
    edited = await admin.patch(f"/api/v1/campaigns/{campaign_id}", json={"subject": "New words"})
    assert edited.status_code == 200, edited.text
    again = await post_with(marketer, campaign_id, token)
    assert again.status_code == 409
    assert "The campaign has changed since you confirmed" in again.text
    assert await status_of(admin, campaign_id) == "draft"
    fresh = confirmation_of(again)
    assert fresh != token

    # Someone new became reachable after that look.
    await add_recipient(admin, "eero@example.fi", full_name="Eero Ek")
    moved = await post_with(marketer, campaign_id, fresh)
    assert moved.status_code == 409
    assert "Who the campaign reaches has changed since you confirmed" in moved.text
    assert count(moved, "confirm-eligible") == 3  # the new numbers, to look at
    assert await status_of(admin, campaign_id) == "draft"

    assert (await post_with(marketer, campaign_id, confirmation_of(moved))).status_code == 303
    assert await status_of(admin, campaign_id) == "sending"


async def test_a_confirmation_expires(
    signed_in: SignedIn, admin: Client, ctx: dict[str, Any], frozen_clock: FrozenClock
) -> None:
    await four_contacts(admin)
    marketer = await signed_in(Role.MARKETER)
    campaign_id = await compose(marketer)
    token = confirmation_of(await marketer.get(f"/app/campaigns/{campaign_id}/send"))
    frozen_clock.advance(minutes=16)
    late = await post_with(marketer, campaign_id, token)
    assert late.status_code == 409 and "Your confirmation has expired" in late.text
    assert await status_of(admin, campaign_id) == "draft"


async def test_scheduling_goes_through_the_same_look(
    signed_in: SignedIn, admin: Client, ctx: dict[str, Any]
) -> None:
    await four_contacts(admin)
    marketer = await signed_in(Role.MARKETER)
    campaign_id = await compose(marketer)
    url = f"/app/campaigns/{campaign_id}"
    local = (clock.now() + timedelta(days=3)).astimezone(clock.LOCAL_ZONE)
    field = local.strftime("%Y-%m-%dT%H:%M")
    look = await marketer.get(f"{url}/schedule?send_at={field}")
    assert look.status_code == 200
    assert count(look, "confirm-eligible") == 2
    assert f'<input type="hidden" name="send_at" value="{field}">' in look.text
    assert re.search(r'id="confirm-send">\s*Schedule for 2 people\s*</button>', look.text)
    assert f'action="{url}/schedule"' in look.text
    assert await status_of(admin, campaign_id) == "draft"

    without = await post_with(marketer, campaign_id, None, send_at=field)
    assert without.status_code == 400 and await status_of(admin, campaign_id) == "draft"
    other_time = (local + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    moved = await post_with(marketer, campaign_id, confirmation_of(look), send_at=other_time)
    assert moved.status_code == 400 and await status_of(admin, campaign_id) == "draft"

    scheduled = await send_confirmed(marketer, campaign_id, send_at=field)
    assert scheduled.status_code == 303
    assert await status_of(admin, campaign_id) == "scheduled"


async def test_only_who_may_send_gets_the_confirmation_page(
    signed_in: SignedIn, admin: Client, ctx: dict[str, Any]
) -> None:
    await four_contacts(admin)
    campaign_id = await compose(await signed_in(Role.MARKETER))
    url = f"/app/campaigns/{campaign_id}"
    viewer = await signed_in(Role.VIEWER)
    for path in (f"{url}/send", f"{url}/schedule?send_at=2099-01-01T09:00"):
        denied = await viewer.get(path)
        assert denied.status_code == 403 and "Not for your role" in denied.text
    # A campaign past its draft has nothing to confirm.
    assert (await admin.post(f"/api/v1/campaigns/{campaign_id}/send")).status_code == 202
    late = await (await signed_in(Role.MARKETER)).get(f"{url}/send")
    assert late.status_code == 409 and "cannot be sent" in late.text
