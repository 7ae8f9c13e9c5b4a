"""Sending from the composer: send now, schedule, pause, resume, cancel, and
the progress fragment htmx polls until the campaign is done."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import col, select, update

from service import clock
from service.db import SessionMaker
from service.embedded import MailCatcher
from service.models import AuditEvent, Contact
from service.models.enums import Role
from tests.integration.web.campaigns.conftest import compose, form_post, send_confirmed
from tests.integration.web.conftest import Client, SignedIn
from tests.support.factories import add_recipient
from tests.support.worker import drain

HTMX = {"HX-Request": "true"}


async def campaign_of(admin: Client, campaign_id: int) -> dict[str, Any]:
    answer = await admin.get(f"/api/v1/campaigns/{campaign_id}")
    assert answer.status_code == 200
    body: dict[str, Any] = answer.json()
    return body


async def progress(browser: Client, campaign_id: int) -> str:
    answer = await browser.get(f"/app/campaigns/{campaign_id}/progress", headers=HTMX)
    assert answer.status_code == 200
    assert "<html" not in answer.text
    return answer.text


def polls(fragment: str) -> bool:
    opening = fragment[fragment.index('<section id="sending"') :].split(">", 1)[0]
    return 'data-hx-trigger="every 2s"' in opening


async def three_contacts(admin: Client) -> None:
    await add_recipient(admin, "aino@example.fi", full_name="Aino Aaltonen")
    await add_recipient(admin, "bertta@example.fi", full_name="Bertta Berg")
    await add_recipient(admin, "cecilia@example.fi", full_name="Cecilia Co", consent=())


async def test_send_now_and_the_progress_bar_until_done(
    signed_in: SignedIn,
    admin: Client,
    ctx: dict[str, Any],
    smtp_server: MailCatcher,
    sessionmaker: SessionMaker,
) -> None:
    await three_contacts(admin)
    marketer = await signed_in(Role.MARKETER)
    campaign_id = await compose(marketer)
    url = f"/app/campaigns/{campaign_id}"
    composer = await marketer.get(url)
    assert f'action="{url}/send"' in composer.text
    assert not polls(composer.text)  # a draft: nothing to watch yet
    before = smtp_server.received

    sent = await send_confirmed(marketer, campaign_id)
    assert sent.status_code == 303
    assert sent.headers["location"] == f"{url}#sending"
    assert (await campaign_of(admin, campaign_id))["status"] == "sending"
    live = await progress(marketer, campaign_id)
    assert polls(live)
    assert '<strong class="status status-sending" id="campaign-status">Sending</strong>' in live
    assert 'id="pause">Pause</button>' in live

    await drain(ctx)
    done = await progress(marketer, campaign_id)
    assert not polls(done)  # the answer without a trigger ends the polling
    assert '<progress id="progress-bar" max="2" value="2">' in done
    assert re.search(r"sent 2 / skipped 0 / failed 0 of 2\s*· done</p>", done), done
    assert 'id="pause"' not in done and 'id="cancel"' not in done
    assert smtp_server.received - before == 2
    page = await marketer.get(url)
    assert "sent 2 / skipped 0 / failed 0 of 2" in page.text
    assert "When the send list was built: 2 eligible of 3." in page.text
    async with sessionmaker() as db:
        rows = await db.exec(select(AuditEvent).where(col(AuditEvent.action) == "campaign.send"))
        assert [row.details for row in rows.all()] == [{"campaign_id": campaign_id}]
    # Without htmx the fragment's address is the composer's panel.
    plain = await marketer.get(f"{url}/progress")
    assert plain.status_code == 303 and plain.headers["location"] == f"{url}#sending"


async def test_pause_resume_and_cancel(
    signed_in: SignedIn, admin: Client, ctx: dict[str, Any], smtp_server: MailCatcher
) -> None:
    await three_contacts(admin)
    marketer = await signed_in(Role.MARKETER)
    campaign_id = await compose(marketer)
    url = f"/app/campaigns/{campaign_id}"
    assert (await send_confirmed(marketer, campaign_id)).status_code == 303

    assert (await form_post(marketer, url, f"{url}/pause")).status_code == 303
    stored = await campaign_of(admin, campaign_id)
    assert (stored["status"], stored["pause_reason"]) == ("paused", "paused by staff")
    paused = await progress(marketer, campaign_id)
    assert not polls(paused) and 'id="resume">Resume</button>' in paused
    assert "Paused: paused by staff" in paused

    assert (await form_post(marketer, url, f"{url}/resume")).status_code == 303
    assert (await campaign_of(admin, campaign_id))["status"] == "sending"
    assert polls(await progress(marketer, campaign_id))

    before = smtp_server.received
    assert (await form_post(marketer, url, f"{url}/cancel")).status_code == 303
    assert (await campaign_of(admin, campaign_id))["status"] == "cancelled"
    await drain(ctx)
    cancelled = await progress(marketer, campaign_id)
    assert not polls(cancelled)
    assert "cancelled" in cancelled and 'id="resume"' not in cancelled
    assert smtp_server.received == before

    # A step the status does not allow: the reason on the page, nothing changed.
    again = await form_post(marketer, url, f"{url}/pause")
    assert again.status_code == 409
    assert "a cancelled campaign cannot be paused" in again.text
    assert (await campaign_of(admin, campaign_id))["status"] == "cancelled"


async def test_schedule_takes_a_future_helsinki_time(
    signed_in: SignedIn, admin: Client, ctx: dict[str, Any]
) -> None:
    await three_contacts(admin)
    marketer = await signed_in(Role.MARKETER)
    campaign_id = await compose(marketer)
    url = f"/app/campaigns/{campaign_id}"
    for value, message in (
        ("", "Give a date and a time"),
        ("tomorrow", "Give a date and a time"),
        ("2020-01-01T09:00", "Choose a time in the future"),
    ):
        refused = await marketer.get(f"{url}/schedule?send_at={value}")
        assert refused.status_code == 422, value
        assert re.search(rf'id="send-at-error">{message}', refused.text), refused.text
        assert 'aria-invalid="true" aria-describedby="send-at-error"' in refused.text
        assert (await campaign_of(admin, campaign_id))["status"] == "draft"

    local = (clock.now() + timedelta(days=3)).astimezone(clock.LOCAL_ZONE).replace(second=0)
    field = local.strftime("%Y-%m-%dT%H:%M")
    scheduled = await send_confirmed(marketer, campaign_id, send_at=field)
    assert scheduled.status_code == 303
    stored = await campaign_of(admin, campaign_id)
    assert stored["status"] == "scheduled"
    send_at = datetime.fromisoformat(stored["send_at"])
    assert send_at.replace(tzinfo=send_at.tzinfo or UTC) == local.replace(microsecond=0)
    fragment = await progress(marketer, campaign_id)
    # The member's language's way (English here: en_GB's short form).
    assert f"starts {local.strftime('%d/%m/%Y, %H:%M')} (Helsinki time)" in fragment
    assert 'id="cancel"' in fragment


async def test_a_viewer_watches_but_does_not_send(
    signed_in: SignedIn, admin: Client, ctx: dict[str, Any]
) -> None:
    await three_contacts(admin)
    marketer = await signed_in(Role.MARKETER)
    campaign_id = await compose(marketer)
    url = f"/app/campaigns/{campaign_id}"
    assert (await send_confirmed(marketer, campaign_id)).status_code == 303
    viewer = await signed_in(Role.VIEWER)
    watched = await progress(viewer, campaign_id)
    assert polls(watched) and "<form" not in watched
    refused = await viewer.post(f"{url}/cancel", data={})
    assert refused.status_code == 403 and "Not for your role" in refused.text
    assert (await campaign_of(admin, campaign_id))["status"] == "sending"


async def test_failed_recipients_are_shown_with_the_reason_in_words(
    signed_in: SignedIn,
    admin: Client,
    ctx: dict[str, Any],
    smtp_server: MailCatcher,
    sessionmaker: SessionMaker,
) -> None:
    await three_contacts(admin)
    # A name left with a line break by an older version: its message cannot be made.
    async with sessionmaker() as db:
        await db.exec(
            update(Contact)
            .where(col(Contact.email) == "bertta@example.fi")
            .values(full_name="Bertta\nBcc: everyone@example.fi")
        )
        await db.commit()
    marketer = await signed_in(Role.MARKETER)
    campaign_id = await compose(marketer, subject="Hello {{ contact.name }}")
    assert (await send_confirmed(marketer, campaign_id)).status_code == 303
    await drain(ctx)
    done = await progress(marketer, campaign_id)
    assert re.search(r"sent 1 / skipped 0 / failed 1 of 2\s*· done</p>", done), done
    assert "<li>1 failed: the template failed for their data</li>" in done
