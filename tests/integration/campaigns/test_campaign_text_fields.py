"""Issue 13: a campaign's name and subject are one line each (the subject becomes a mail
header), and no control character but tab and line breaks reaches a body: refused when
the campaign is created or edited, naming the field, not met later by the sender."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

Client = AsyncTestClient[Litestar]
CAMPAIGN = {
    "name": "Autumn coaching",
    "channel": "email",
    "subject": "Hello {{ contact.name }}",
    "body_html": "<p>Dear {{ contact.name }},</p>\r\n<p>our autumn programme.</p>",
    "body_text": "Dear {{ contact.name }},\n\tour autumn programme.",
}
# A well-formed request with a bad field: 422, one message per field (service.app).
BAD_INPUT = {422}
HOSTILE = ["\x00", "\r\n", "\n", "\x85", "\u2028", "\u2029", "\x7f"]


def refused(response: Any, field: str) -> bool:
    assert response.status_code in BAD_INPUT, response.text
    return "control characters" in response.json()["fields"][field]


@pytest.mark.parametrize("character", HOSTILE, ids=repr)
async def test_a_name_or_subject_with_a_control_character_is_refused(
    admin: Client, character: str
) -> None:
    for field in ("name", "subject"):
        body = {**CAMPAIGN, field: f"Autumn{character}Bcc: everyone"}
        assert refused(await admin.post("/api/v1/campaigns", json=body), field)
    translated = {
        **CAMPAIGN,
        "translations": {"sv": {**CAMPAIGN, "subject": f"Hej{character}du"}},
    }
    translated["translations"]["sv"].pop("name")
    translated["translations"]["sv"].pop("channel")
    response = await admin.post("/api/v1/campaigns", json=translated)
    assert refused(response, "translations.sv.subject")
    assert (await admin.get("/api/v1/campaigns")).json() == []

    created = await admin.post("/api/v1/campaigns", json=CAMPAIGN)
    assert created.status_code == 201, created.text
    url = f"/api/v1/campaigns/{created.json()['id']}"
    for field in ("name", "subject"):
        assert refused(await admin.patch(url, json={field: f"New{character}one"}), field)
    kept = (await admin.get(url)).json()
    assert (kept["name"], kept["subject"]) == (CAMPAIGN["name"], CAMPAIGN["subject"])


@pytest.mark.parametrize("character", ["\x00", "\x0b", "\x85", "\u2028"], ids=repr)
async def test_a_body_keeps_its_lines_but_not_other_control_characters(
    admin: Client, character: str
) -> None:
    for field in ("body_html", "body_text"):
        body = {**CAMPAIGN, field: f"Dear you,{character}bye"}
        assert refused(await admin.post("/api/v1/campaigns", json=body), field)
    created = await admin.post("/api/v1/campaigns", json=CAMPAIGN)
    assert created.status_code == 201, created.text
    assert created.json()["body_text"] == CAMPAIGN["body_text"]
