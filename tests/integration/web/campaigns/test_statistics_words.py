"""Issue 18 item 5: the statistics page counts people with the right plural
("1 person", never "1 people"), in the reader's language."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from service.auth import login
from service.auth.cookies import PLAIN_COOKIE
from service.db import SessionMaker, session_scope
from service.models import EngagementEvent
from service.models.engagement import EngagementKind
from service.models.enums import Role
from service.settings import Settings
from tests.integration.web.campaigns.conftest import compose, send_confirmed
from tests.integration.web.conftest import Client, SignedIn
from tests.support.factories import add_recipient, add_staff
from tests.support.worker import drain

AT = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


async def _events(
    sessionmaker: SessionMaker, campaign_id: int, events: list[tuple[str, int]]
) -> None:
    async with sessionmaker() as db:
        for number, (kind, contact_id) in enumerate(events):
            db.add(
                EngagementEvent(
                    stream_id=f"words-{campaign_id}-{number}",
                    kind=EngagementKind(kind),
                    campaign_id=campaign_id,
                    contact_id=contact_id,
                    browser_family="Firefox",
                    os_family="Linux",
                    automated=False,
                    occurred_at=AT,
                )
            )
        await db.commit()


def _totals(html: str) -> dict[str, str]:
    return dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]*\([^)]*\))</dd>", html))


async def test_one_person_is_one_person_in_every_language(
    signed_in: SignedIn,
    admin: Client,
    ctx: dict[str, Any],
    sessionmaker: SessionMaker,
    settings: Settings,
    client: Any,
) -> None:
    aino = await add_recipient(admin, "aino@example.fi", full_name="Aino Aaltonen")
    bertta = await add_recipient(admin, "bertta@example.fi", full_name="Bertta Berg")
    marketer = await signed_in(Role.MARKETER)
    campaign_id = await compose(marketer)
    url = f"/app/campaigns/{campaign_id}"
    assert (await send_confirmed(marketer, campaign_id)).status_code == 303
    await drain(ctx)
    # Aino opens twice and clicks once; Bertta opens once: 2 people opened, 1 clicked.
    events = [("open", aino), ("open", aino), ("open", bertta), ("click", aino)]
    await _events(sessionmaker, campaign_id, events)
    api = (await admin.get(f"/api/v1/campaigns/{campaign_id}/statistics")).json()
    assert (api["opens"], api["unique_opens"], api["clicks"], api["unique_clicks"]) == (3, 2, 1, 1)

    english = _totals((await marketer.get(f"{url}/statistics")).text)
    assert english["Opens"] == "3 (2 people)"
    assert english["Clicks"] == "1 (1 person)"

    user = await add_staff(sessionmaker, role=Role.MARKETER, language="fi")
    async with session_scope(sessionmaker) as session:
        opened = await login.open_complete_session(session, user=user, settings=settings)
    finnish = Client(client, {"Cookie": f"{PLAIN_COOKIE}={opened.token}"})
    page = (await finnish.get(f"{url}/statistics")).text
    assert '<html lang="fi">' in page
    assert "(2 henkilöä)" in page and "(1 henkilö)" in page
    assert "people" not in page.split("<main", 1)[1].split("</dl>", 1)[0]
