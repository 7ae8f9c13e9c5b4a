"""``/app/exports`` on both databases: the browser's download is the API's
export (same file, same scope, same counts), audited as ``contact.export``
with counts and filter names only; its filters travel in the body."""

from __future__ import annotations

import csv
import io
import json

from service.exports.service import COLUMNS
from service.models.enums import Role
from tests.integration.audit.support import trail
from tests.integration.web.conftest import csrf
from tests.integration.web.privacy.support import Staff
from tests.support.factories import add_contact, ban

PAGE = "/app/exports"


async def _people(staff: Staff) -> None:
    await add_contact(staff.client, email="aino@example.fi", full_name="Aino A", tags=["vip"])
    await add_contact(staff.client, email="bertta@example.fi", full_name="Bertta B")
    refused = await add_contact(staff.client, email="kielto@example.fi", full_name="Kielto K")
    await ban(staff.client, refused)  # on every channel: left out for a marketer


async def test_the_download_is_the_apis_export_and_is_audited(staff: Staff, sessionmaker) -> None:
    await _people(staff)
    api = await staff.client.get("/api/v1/contacts/export.csv", headers={})
    marketer = await staff.become(Role.MARKETER)
    form = await marketer.get(PAGE)
    assert form.status_code == 200, form.text
    assert "are left out" in form.text  # a marketer's scope is said

    answer = await marketer.post(f"{PAGE}/download", data={"csrf_token": csrf(form)})

    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["content-disposition"].startswith('attachment; filename="contacts-')
    assert answer.headers["x-export-contacts"] == "2"
    assert answer.headers["x-export-left-out"] == "1"
    assert answer.headers["cache-control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert tuple(rows[0]) == COLUMNS
    assert sorted(r["email"] for r in rows) == ["aino@example.fi", "bertta@example.fi"]
    # The admin's API export of the same register includes the refused one.
    assert "kielto@example.fi" in api.text
    audit = [row for row in await trail(sessionmaker) if row.route == "/app/exports/download"]
    assert [row.action for row in audit] == ["contact.export"]
    assert audit[0].details["contacts"] == 2 and audit[0].details["left_out"] == 1
    assert audit[0].actor_user_id == staff.user_ids[Role.MARKETER]


async def test_filters_and_json_and_the_refused_for_a_privacy_officer(
    staff: Staff, sessionmaker
) -> None:
    await _people(staff)
    officer = await staff.become(Role.PRIVACY_OFFICER)
    form = await officer.get(PAGE)
    assert "also exports people who refused" in form.text

    everyone = await officer.post(f"{PAGE}/download", data={"csrf_token": csrf(form)})
    assert "kielto@example.fi" in everyone.text

    tagged = await officer.post(
        f"{PAGE}/download",
        data={
            "csrf_token": csrf(form),
            "format": "json",
            "tag": "vip",
            "email": " AINO@example.fi",
        },
    )
    assert tagged.status_code == 200, tagged.text
    body = json.loads(tagged.text)
    assert [c["email"] for c in body["contacts"]] == ["aino@example.fi"]
    audit = [row for row in await trail(sessionmaker) if row.route == "/app/exports/download"]
    assert audit[-1].details["filters"] == ["email", "tag"]
    # The filter values are in neither the audit row nor any URL.
    assert "aino" not in str(audit[-1].details)
    assert "aino" not in str(tagged.url)


async def test_bad_choices_are_shown_not_exported(staff: Staff, sessionmaker) -> None:
    marketer = await staff.become(Role.MARKETER)
    form = await marketer.get(PAGE)
    before = len(await trail(sessionmaker))
    for data, field in (
        ({"email": "not an address"}, "email"),
        ({"format": "xlsx"}, "format"),
        ({"language": "de"}, "language"),
        ({"q": "x" * 201}, "q"),
    ):
        answer = await marketer.post(f"{PAGE}/download", data={"csrf_token": csrf(form), **data})
        assert answer.status_code == 422, (data, answer.text)
        assert f'id="export-{field}-error"' in answer.text
    assert len(await trail(sessionmaker)) == before  # nothing exported, nothing recorded
    assert (await marketer.post(f"{PAGE}/download", data={})).status_code == 403


async def test_roles_without_contacts_export_get_no_export(staff: Staff) -> None:
    caller = await staff.become(Role.CALLER)
    assert (await caller.get(PAGE)).status_code == 403
    viewer = await staff.become(Role.VIEWER)
    assert (await viewer.get(PAGE)).status_code == 403
    assert 'href="/app/exports"' not in (await viewer.get("/app")).text
