"""The personal identity code is masked in every output but the one
privileged reveal (issue 6, item 5): each route and file that carries a
person's data is read for a contact with a code, and searched for the code
itself and for anything shaped like one."""

from __future__ import annotations

import io
import json
import re
import zipfile

from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.db import SessionMaker
from service.models.enums import Role
from tests.conftest import TokenFactory
from tests.integration.audit.support import as_role, ready_call_list
from tests.support.factories import contact_payload, grant

Client = AsyncTestClient[Litestar]
HETU = "131052-308T"
# Day, month, year, century sign, individual number, check character.
SHAPE = re.compile(r"\d{6}[-+A-FU-Y]\d{3}[0-9A-Y]")


def assert_no_code(where: str, text: str) -> None:
    assert HETU not in text, where
    assert SHAPE.search(text) is None, (where, SHAPE.search(text))


async def test_the_code_is_masked_everywhere_but_the_reveal(
    admin: Client, sessionmaker: SessionMaker, make_token: TokenFactory
) -> None:
    payload = contact_payload(
        email="koodi@example.fi", phone="0401234567", personal_identity_code=HETU
    )
    created = await admin.post("/api/v1/contacts", json=payload)
    assert created.status_code == 201, created.text
    contact_id = created.json()["id"]
    base = f"/api/v1/contacts/{contact_id}"
    await grant(admin, contact_id)
    outputs: dict[str, str] = {"create": created.text}

    for path in ("", "/consents", "/eligibility"):
        response = await admin.get(base + path)
        assert response.status_code == 200, (path, response.text)
        outputs[f"GET {path or 'contact'}"] = response.text
    outputs["list"] = (await admin.get("/api/v1/contacts", params={"q": "koodi"})).text
    # The access export is the person's own copy: it carries their whole code
    # (GDPR 15), once, in the contact's own record, and nowhere else.
    export = (await admin.get(f"{base}/export")).json()
    assert export["contact"]["personal_identity_code"] == HETU
    export["contact"].pop("personal_identity_code")
    outputs["export"] = json.dumps(export)
    archive = await admin.get(f"{base}/export.zip")
    with zipfile.ZipFile(io.BytesIO(archive.content)) as files:
        for name in files.namelist():
            text = files.read(name).decode()
            if name.startswith("contact."):
                assert text.count(HETU) == 1, name
                text = text.replace(HETU, "")
            outputs[f"zip {name}"] = text

    # Templates never see the code: asking for it is an error at save time.
    leaking = await admin.post(
        "/api/v1/campaigns",
        json={
            "name": "Leak?",
            "channel": "email",
            "subject": "Hi",
            "body_html": "<p>{{ contact.personal_identity_code }}</p>",
            "body_text": "{{ contact.personal_identity_code }}",
        },
    )
    assert leaking.status_code == 422
    assert "has no attribute 'personal_identity_code'" in leaking.json()["fields"]["body_html"]
    campaign = await admin.post(
        "/api/v1/campaigns",
        json={
            "name": "Everything",
            "channel": "email",
            "subject": "Hi {{ contact.full_name }}",
            "body_html": "<p>{{ contact }}</p>",
            "body_text": "{{ contact }}",
        },
    )
    assert campaign.status_code == 201, campaign.text
    preview = await admin.post(
        f"/api/v1/campaigns/{campaign.json()['id']}/preview", json={"contact_id": contact_id}
    )
    assert preview.status_code == 200, preview.text
    outputs["preview"] = preview.text

    campaign_id, _ = await ready_call_list(admin, {}, sessionmaker, [contact_id])
    caller = await as_role(make_token, Role.CALLER)
    csv = await admin.get(f"/api/v1/campaigns/{campaign_id}/call-list.csv", headers=caller)
    assert csv.status_code == 200, csv.text
    outputs["call list"] = csv.text
    outputs["audit"] = (await admin.get("/api/v1/audit", params={"contact_id": contact_id})).text
    outputs["retention plan"] = (
        await admin.get("/api/v1/retention/plan", params={"as_of": "2040-01-01"})
    ).text

    for where, text in outputs.items():
        assert_no_code(where, text)
    # The masked form is there, so the search above looked at the right data.
    assert "131052-****" in outputs["GET contact"]

    # The one privileged read.
    revealed = await admin.post(f"{base}/identity-code/reveal", json={"reason": "Tax form"})
    assert revealed.status_code == 200 and revealed.json()["personal_identity_code"] == HETU
