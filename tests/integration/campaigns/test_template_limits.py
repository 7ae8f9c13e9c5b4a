"""Heavy templates through the API: refused at save naming the limit, and a
preview over a limit is a 422 naming it. That the API answers meanwhile is
tested against a real server (tests/e2e/test_template_limits.py): the test
client runs each request to its end before the next."""

from __future__ import annotations

import time

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.support.factories import contact_payload

Client = AsyncTestClient[Litestar]
CAMPAIGN = {
    "name": "Autumn coaching",
    "channel": "email",
    "subject": "Hello {{ contact.name }}",
    "body_html": "<p>Dear {{ contact.name }},</p>",
    "body_text": "Dear {{ contact.name }}",
}
# About 100 bytes that once froze the API for ~10 s at save.
NESTED_LOOPS = (
    "{% for a in range(99999) %}{% for b in range(99999) %}{{ a }}{% endfor %}{% endfor %}"
)


async def test_nested_loops_are_refused_naming_the_cpu_limit(admin: Client) -> None:
    response = await admin.post("/api/v1/campaigns", json={**CAMPAIGN, "body_text": NESTED_LOOPS})
    assert response.status_code == 422, response.text
    message = response.json()["fields"]["body_text"]
    assert "more than 2 s of CPU time" in message
    assert "CONSENTRY_TEMPLATE_CPU_SECONDS" in message
    assert (await admin.get("/api/v1/campaigns")).json() == []


async def test_huge_output_is_refused_naming_the_size_cap(admin: Client) -> None:
    huge = "{% for i in range(1500) %}{{ 'x' * 1000 }}{% endfor %}"
    response = await admin.post("/api/v1/campaigns", json={**CAMPAIGN, "body_html": huge})
    assert response.status_code == 422, response.text
    assert response.json()["fields"]["body_html"] == (
        "the rendered message is larger than 1 MB (limit: CONSENTRY_TEMPLATE_MAX_BYTES)"
    )
    created = await admin.post("/api/v1/campaigns", json=CAMPAIGN)
    edited = await admin.patch(
        f"/api/v1/campaigns/{created.json()['id']}", json={"body_text": huge}
    )
    assert edited.status_code == 422
    assert "CONSENTRY_TEMPLATE_MAX_BYTES" in edited.json()["fields"]["body_text"]


async def test_runaway_arithmetic_is_refused_quickly(admin: Client) -> None:
    for source in ("{{ 'x' * 10 ** 9 }}", "{{ 9 ** 9 ** 9 }}", "{{ 'x' * 1000000000 }}"):
        started = time.monotonic()
        response = await admin.post("/api/v1/campaigns", json={**CAMPAIGN, "body_text": source})
        assert time.monotonic() - started < 1
        assert response.status_code == 422, response.text
        assert response.json()["fields"]["body_text"].startswith("line 1: ")


async def test_a_preview_over_a_limit_is_a_422_naming_it(admin: Client) -> None:
    added = await admin.post(
        "/api/v1/contacts",
        json=contact_payload(email="turku@example.fi", city="Turku"),
    )
    assert added.status_code == 201, added.text
    # The save-time check's sample contacts live in Oulu, or nowhere.
    heavy = "{% if contact.city == 'Turku' %}" + NESTED_LOOPS + "{% endif %}"
    created = await admin.post("/api/v1/campaigns", json={**CAMPAIGN, "body_text": heavy})
    assert created.status_code == 201, created.text
    url = f"/api/v1/campaigns/{created.json()['id']}/preview"
    preview = await admin.post(url, json={"contact_id": added.json()["id"]})
    assert preview.status_code == 422, preview.text
    assert "CONSENTRY_TEMPLATE_CPU_SECONDS" in preview.json()["fields"]["body_text"]
