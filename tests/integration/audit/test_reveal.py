"""``POST /api/v1/contacts/{id}/identity-code/reveal``: the one way to see an
identity code unmasked — with the permission, a reason, and a row in the
trail; and the person's access export shows who looked."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile

import pytest

from service.db import SessionMaker
from service.models.enums import Role
from tests.conftest import TokenFactory
from tests.integration.audit.support import HETU, Client, as_role, trail, trail_text
from tests.support.factories import add_contact

REASON = "Verifying identity for the rectification request of 3 May"
# The shape of a Finnish identity code, whoever it belongs to.
IDENTITY_CODE = re.compile(r"\d{6}[-+A-FU-Y]\d{3}[0-9A-Y]")


def _reveal(contact_id: int) -> str:
    return f"/api/v1/contacts/{contact_id}/identity-code/reveal"


async def test_a_privacy_officer_sees_the_code_and_the_trail_keeps_why(
    admin: Client, sessionmaker: SessionMaker, make_token: TokenFactory
) -> None:
    contact_id = await add_contact(admin, personal_identity_code=HETU)
    officer = await as_role(make_token, Role.PRIVACY_OFFICER)
    response = await admin.post(_reveal(contact_id), json={"reason": REASON}, headers=officer)
    assert response.status_code == 200, response.text
    assert response.json() == {"personal_identity_code": HETU}
    assert response.headers["cache-control"] == "no-store"

    [_, reveal] = await trail(sessionmaker)
    assert (reveal.action, reveal.contact_id, reveal.reason) == (
        "identity_code.reveal",
        contact_id,
        REASON,
    )
    assert reveal.route == "/api/v1/contacts/{contact_id}/identity-code/reveal"
    # Everywhere else the code stays masked.
    detail = await admin.get(f"/api/v1/contacts/{contact_id}")
    assert detail.json()["personal_identity_code"] == "131052-****"


@pytest.mark.parametrize("role", [Role.MARKETER, Role.VIEWER, Role.CALLER])
async def test_roles_without_the_permission_are_refused_and_recorded(
    admin: Client, sessionmaker: SessionMaker, make_token: TokenFactory, role: Role
) -> None:
    contact_id = await add_contact(admin, personal_identity_code=HETU)
    headers = await as_role(make_token, role)
    response = await admin.post(_reveal(contact_id), json={"reason": REASON}, headers=headers)
    assert response.status_code == 403
    assert HETU not in response.text
    [_, denial] = await trail(sessionmaker)
    assert (denial.action, denial.contact_id) == ("permission.denied", contact_id)
    assert denial.details["permission"] == "contacts:read_identity_code"
    assert denial.reason is None  # the reason of a refused request is not kept


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"reason": ""},
        {"reason": "    why  "},
        {"reason": "x" * 501},
        {"reason": REASON, "x": 1},
    ],
    ids=["missing", "empty", "short", "long", "extra-field"],
)
async def test_a_reason_is_required(
    admin: Client, sessionmaker: SessionMaker, body: dict[str, object]
) -> None:
    contact_id = await add_contact(admin, personal_identity_code=HETU)
    response = await admin.post(_reveal(contact_id), json=body)
    assert response.status_code == 422, response.text
    assert HETU not in response.text
    assert len(await trail(sessionmaker)) == 1  # the creation only


async def test_no_code_or_no_contact_is_a_404(admin: Client, sessionmaker: SessionMaker) -> None:
    contact_id = await add_contact(admin)
    assert (await admin.post(_reveal(contact_id), json={"reason": REASON})).status_code == 404
    assert (await admin.post(_reveal(999999), json={"reason": REASON})).status_code == 404
    assert len(await trail(sessionmaker)) == 1


async def test_the_reveal_is_a_post_only(admin: Client) -> None:
    contact_id = await add_contact(admin, personal_identity_code=HETU)
    response = await admin.get(_reveal(contact_id))
    assert response.status_code == 405
    assert HETU not in response.text


async def test_nothing_searched_for_and_no_identity_code_reaches_the_trail(
    admin: Client, sessionmaker: SessionMaker, make_token: TokenFactory
) -> None:
    contact_id = await add_contact(admin, personal_identity_code=HETU)
    url = f"/api/v1/contacts/{contact_id}"
    await admin.patch(url, json={"personal_identity_code": "010101A123N"})
    await admin.get("/api/v1/contacts", params={"q": "Meikäläinen"})
    await admin.get("/api/v1/contacts", params={"email": "maija@example.fi"})
    await admin.get("/api/v1/contacts", params={"q": HETU})
    await admin.post(_reveal(contact_id), json={"reason": REASON})
    await admin.get(f"{url}/export")
    viewer = await as_role(make_token, Role.VIEWER)
    await admin.patch(url, json={"personal_identity_code": HETU}, headers=viewer)  # denied
    await admin.get(f"/api/v1/contacts?q={HETU}", headers={"Authorization": "Bearer cst_no"})

    assert len(await trail(sessionmaker)) == 9
    everything = await trail_text(sessionmaker)
    assert not IDENTITY_CODE.search(everything), everything
    for secret in ("131052", "010101", "Meikäläinen", "maija", "example.fi", "cst_no"):
        assert secret not in everything


async def test_the_access_export_says_who_looked_and_why(
    admin: Client, sessionmaker: SessionMaker, make_token: TokenFactory
) -> None:
    contact_id = await add_contact(admin, personal_identity_code=HETU)
    other = await add_contact(admin, email="other@example.fi")
    officer = await as_role(make_token, Role.PRIVACY_OFFICER)
    viewer = await as_role(make_token, Role.VIEWER)
    await admin.post(_reveal(contact_id), json={"reason": REASON}, headers=officer)
    await admin.get(f"/api/v1/contacts/{contact_id}", headers=viewer)
    await admin.get(f"/api/v1/contacts/{other}", headers=viewer)  # someone else's record
    await admin.delete(f"/api/v1/contacts/{contact_id}", headers=viewer)  # refused: saw nothing

    export = await admin.get(f"/api/v1/contacts/{contact_id}/export", headers=officer)
    assert export.status_code == 200, export.text
    log = export.json()["accesses"]["access_log"]
    assert log["recorded"] is True
    assert [(e["action"], e["user_role"]) for e in log["events"]] == [
        ("contact.create", "admin"),
        ("identity_code.reveal", "privacy_officer"),
        ("contact.read", "viewer"),
    ]
    assert log["events"][1]["reason"] == REASON
    assert all(e["user_id"] for e in log["events"])
    # The code is the person's own: their export carries it once, in their
    # record, and the access log says who looked at it, never the code.
    assert export.text.count(HETU) == 1
    assert export.json()["contact"]["personal_identity_code"] == HETU
    assert HETU not in json.dumps(log)

    archive = zipfile.ZipFile(
        io.BytesIO((await admin.get(f"/api/v1/contacts/{contact_id}/export.zip")).content)
    )
    rows = list(csv.DictReader(io.StringIO(archive.read("access_log.csv").decode())))
    # The JSON export above is now in the log too.
    assert [row["action"] for row in rows][-2:] == ["contact.read", "contact.export"]
    assert rows[1]["reason"] == REASON
