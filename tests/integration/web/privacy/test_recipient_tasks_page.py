"""``/app/privacy/recipients``: the GDPR 19 tasks on the privacy officer's
pages, each with a "Done" button; the same service and audit actions as the
API's ``/recipient-notifications``."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.db import SessionMaker
from service.models.enums import Role
from tests.integration.audit.support import trail
from tests.integration.web.conftest import csrf
from tests.integration.web.privacy.support import Staff
from tests.support.factories import add_contact

Client = AsyncTestClient[Litestar]
PAGE = "/app/privacy/recipients"


async def _restricted_with_recipient(api: Client, name: str) -> int:
    contact_id = await add_contact(api)
    disclosed = await api.post(
        f"/api/v1/contacts/{contact_id}/disclosures",
        json={
            "recipient_type": "coach",
            "recipient_name": name,
            "data_categories": ["name"],
            "purpose": "Coaching",
            "disclosed_on": "2026-01-15",
        },
    )
    assert disclosed.status_code == 201, disclosed.text
    restricted = await api.post(
        f"/api/v1/contacts/{contact_id}/restriction", json={"reason": "Contested"}
    )
    assert restricted.status_code == 200, restricted.text
    return contact_id


async def test_open_tasks_are_listed_and_marked_done(
    staff: Staff, sessionmaker: SessionMaker
) -> None:
    contact_id = await _restricted_with_recipient(staff.client, "Coach <b>Ab</b>")
    [task] = (await staff.client.get("/api/v1/recipient-notifications?open=true")).json()["items"]

    officer = await staff.become(Role.PRIVACY_OFFICER)
    shown = await officer.get(PAGE)
    assert shown.status_code == 200, shown.text
    assert 'id="recipient-tasks"' in shown.text and "Restriction of processing" in shown.text
    # The recipient's name is escaped like every value on the page.
    assert "Coach &lt;b&gt;Ab&lt;/b&gt;" in shown.text and "<b>Ab</b>" not in shown.text
    assert f'action="{PAGE}/{task["id"]}/done"' in shown.text

    too_long = await officer.post(
        f"{PAGE}/{task['id']}/done", data={"csrf_token": csrf(shown), "note": "x" * 2001}
    )
    assert too_long.status_code == 422 and "at most 2000" in too_long.text
    done = await officer.post(
        f"{PAGE}/{task['id']}/done", data={"csrf_token": csrf(shown), "note": "Phoned the coach"}
    )
    assert done.status_code == 303 and done.headers["location"] == f"{PAGE}?done={task['id']}"
    after = await officer.get(PAGE)
    assert "Nobody is waiting to be told." in after.text
    assert "Phoned the coach" in (await officer.get(f"{PAGE}?show=done")).text
    twice = await officer.post(f"{PAGE}/{task['id']}/done", data={"csrf_token": csrf(after)})
    assert twice.status_code == 409 and "already done" in twice.text
    missing = await officer.post(f"{PAGE}/99999/done", data={"csrf_token": csrf(after)})
    assert missing.status_code == 404

    actions = [(row.action, row.contact_id) for row in await trail(sessionmaker)]
    assert ("recipient_notification.done", contact_id) in actions
    assert any(action == "recipient_notification.list" for action, _ in actions)


async def test_a_marketer_does_not_see_the_tasks(staff: Staff) -> None:
    marketer = await staff.become(Role.MARKETER)
    assert (await marketer.get(PAGE)).status_code == 403
