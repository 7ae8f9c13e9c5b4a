"""``/app/contacts/{id}/consents/{event_id}/receipt``: each ledger row of the
contact page links to its consent receipt, shown as the API returns it."""

from __future__ import annotations

import hashlib
import html
import json
import re

from service.db import SessionMaker
from service.models.enums import Role
from tests.integration.web.conftest import SignedIn
from tests.integration.web.contacts.conftest import GRANT_EVIDENCE, Client, audit_rows
from tests.support.factories import add_contact, grant

RECEIPT_LINK = re.compile(r'<a href="(/app/contacts/\d+/consents/(\d+)/receipt)">Receipt</a>')


async def test_each_ledger_row_links_to_its_receipt(
    admin: Client, signed_in: SignedIn, sessionmaker: SessionMaker
) -> None:
    contact_id = await add_contact(admin)
    ledger = await grant(admin, contact_id, evidence=GRANT_EVIDENCE)
    event_id = ledger["history"][-1]["id"]
    browser = await signed_in(Role.VIEWER)
    page = await browser.get(f"/app/contacts/{contact_id}")
    assert page.status_code == 200
    links = RECEIPT_LINK.findall(page.text)
    assert [int(found) for _, found in links] == [event_id]
    shown = await browser.get(links[0][0])
    assert shown.status_code == 200, shown.text
    found = re.search(r'<pre id="receipt-json">(.*?)</pre>', shown.text, re.DOTALL)
    assert found is not None
    body = json.loads(html.unescape(found.group(1)))
    api = (await admin.get(f"/api/v1/contacts/{contact_id}/consents/{event_id}/receipt")).json()
    assert body["receipt_id"] == api["receipt_id"] and body["record_id"] == event_id
    digest = hashlib.sha256(GRANT_EVIDENCE["text"].encode()).hexdigest()
    assert digest in shown.text and html.escape(GRANT_EVIDENCE["text"]) in shown.text
    reads = await audit_rows(sessionmaker, "consent_receipt.read")
    assert [(r.contact_id, r.route) for r in reads][:1] == [
        (contact_id, "/app/contacts/{contact_id}/consents/{event_id}/receipt")
    ]


async def test_another_contacts_event_is_a_404_page_and_a_caller_is_refused(
    admin: Client, signed_in: SignedIn
) -> None:
    mine = await add_contact(admin)
    theirs = await add_contact(admin, email="theirs@example.fi")
    event_id = (await grant(admin, theirs))["history"][-1]["id"]
    browser = await signed_in(Role.ADMIN)
    answer = await browser.get(f"/app/contacts/{mine}/consents/{event_id}/receipt")
    assert answer.status_code == 404
    assert "receipt-json" not in answer.text
    caller = await signed_in(Role.CALLER)
    refused = await caller.get(f"/app/contacts/{theirs}/consents/{event_id}/receipt")
    assert refused.status_code == 403
