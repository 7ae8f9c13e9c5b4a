"""``/app/contacts/{id}``: the fields, the timeline, the gate's answer per
channel with its reasons, messages and engagement; what each role sees; the
audited reveal of the identity code; and the audit row of every view."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from service.db import SessionMaker, session_scope
from service.models import CampaignRecipient, EngagementEvent
from service.models.engagement import EngagementKind
from service.models.enums import CampaignChannel, RecipientStatus, Role
from tests.integration.web.conftest import SignedIn, csrf
from tests.integration.web.contacts.conftest import (
    GRANT_EVIDENCE,
    HETU,
    IDENTITY_CODE,
    Client,
    audit_rows,
    row_of,
)
from tests.support.factories import add_contact, add_purchase, grant

POST_FORM = re.compile(r'<form method="post" action="/app/contacts/')


async def _described(admin: Client) -> int:
    """A customer with an identity code, an email consent, an SMS ban and an address."""
    contact_id = await add_contact(
        admin,
        personal_identity_code=HETU,
        phone="0401234567",
        is_customer=True,
        street_address="Esimerkkikatu 1",
        postal_code="00100",
        city="Helsinki",
    )
    await grant(admin, contact_id, evidence=GRANT_EVIDENCE)
    ban = {
        "kind": "direct_marketing",
        "channel": "sms",
        "source": "self",
        "note": "Letter 3 May, ref_77",
    }
    answer = await admin.post(f"/api/v1/contacts/{contact_id}/bans", json=ban)
    assert answer.status_code == 201, answer.text
    return contact_id


async def test_the_page_shows_timeline_and_eligibility_with_reasons(
    admin: Client, signed_in: SignedIn, sessionmaker: SessionMaker
) -> None:
    contact_id = await _described(admin)
    browser = await signed_in(Role.ADMIN)
    page = await browser.get(f"/app/contacts/{contact_id}")
    assert page.status_code == 200
    text = page.text
    assert "Maija Meikäläinen" in text
    assert "maija@example.fi" in text
    assert "<dt>Phone</dt><dd>040 1234567</dd>" in text  # as people write it
    # The timeline, newest first, with source and proof.
    timeline = text.split('id="timeline"')[1].split("</ol>")[0]
    assert timeline.index("Direct-marketing ban, SMS") < timeline.index(
        "Consent granted: Email, Direct marketing"
    )
    assert "Letter 3 May, ref_77" in timeline  # as written, underscores and all
    assert "Yes, send me offers by email." in timeline and "2026-01" in timeline
    # The gate's answer per channel, with its reasons in words.
    assert "badge ok" in row_of(text, "email")
    sms = row_of(text, "sms")
    assert "badge bad" in sms and "<code>channel_ban</code>" in sms
    assert "direct-marketing ban on this channel" in sms
    assert "badge ok" in row_of(text, "post")  # an address, no opt-out
    # Every view of the page is in the audit trail, naming the contact.
    reads = await audit_rows(sessionmaker, "contact.read")
    assert [(r.contact_id, r.method, r.route) for r in reads] == [
        (contact_id, "GET", "/app/contacts/{contact_id}")
    ]


async def test_messages_and_engagement_are_shown(
    admin: Client, signed_in: SignedIn, sessionmaker: SessionMaker
) -> None:
    contact_id = await _described(admin)
    made = await admin.post(
        "/api/v1/campaigns",
        json={
            "name": "Spring news",
            "channel": "email",
            "subject": "Hi",
            "body_html": "<p>Hi</p>",
            "body_text": "Hi",
        },
    )
    assert made.status_code == 201, made.text
    campaign_id = made.json()["id"]
    sent = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    async with session_scope(sessionmaker) as session:
        session.add(
            CampaignRecipient(
                campaign_id=campaign_id,
                contact_id=contact_id,
                channel=CampaignChannel.EMAIL,
                status=RecipientStatus.SENT,
                sent_at=sent,
                bounced_at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
                bounce_status="5.1.1",
            )
        )
        session.add(
            EngagementEvent(
                stream_id="1-1",
                kind=EngagementKind.CLICK,
                contact_id=contact_id,
                campaign_id=campaign_id,
                page="https://shop.example.fi/autumn",
                browser_family="Firefox",
                os_family="Linux",
                occurred_at=datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
            )
        )
    page = await (await signed_in(Role.VIEWER)).get(f"/app/contacts/{contact_id}")
    messages = page.text.split('id="messages-heading"')[1].split("</section>")[0]
    assert "Spring news" in messages and "<td>Sent</td>" in messages  # the status in words
    assert "02/03/2026, 10:00" in messages  # sent, in Helsinki time, the language's way
    assert "(5.1.1)" in messages
    engagement = page.text.split('id="engagement-heading"')[1].split("</section>")[0]
    assert "click" in engagement and "Spring news" in engagement
    assert "https://shop.example.fi/autumn" in engagement and "Firefox, Linux" in engagement


async def test_a_marketer_sees_no_identity_code_and_no_rights_forms(
    admin: Client, signed_in: SignedIn
) -> None:
    contact_id = await _described(admin)
    browser = await signed_in(Role.MARKETER)
    page = await browser.get(f"/app/contacts/{contact_id}")
    assert page.status_code == 200
    assert not IDENTITY_CODE.search(page.text)
    assert "131052" not in page.text  # not even the masked code, which holds the birth date
    assert "identity-code/reveal" not in page.text and "Reveal" not in page.text
    assert f'action="/app/contacts/{contact_id}/bans"' in page.text
    assert f'action="/app/contacts/{contact_id}/consents"' in page.text
    assert "/restriction" not in page.text and "/legal-holds" not in page.text
    form = await browser.get("/app/contacts")
    refused = await browser.post(
        f"/app/contacts/{contact_id}/identity-code/reveal",
        data={"reason": "Just curious about it", "csrf_token": csrf(form)},
    )
    assert refused.status_code == 403
    assert not IDENTITY_CODE.search(refused.text)


async def test_a_viewer_reads_only(admin: Client, signed_in: SignedIn) -> None:
    contact_id = await _described(admin)
    browser = await signed_in(Role.VIEWER)
    page = await browser.get(f"/app/contacts/{contact_id}")
    assert page.status_code == 200
    assert "Consent and ban timeline" in page.text
    assert not POST_FORM.search(page.text)  # no action forms, no lift buttons
    assert ">Lift<" not in page.text
    refused = await browser.post(
        f"/app/contacts/{contact_id}/bans",
        data={"kind": "direct_marketing", "source": "self", "csrf_token": csrf(page)},
    )
    assert refused.status_code == 403
    assert "Not for your role" in refused.text


async def test_a_caller_may_not_open_a_contact(admin: Client, signed_in: SignedIn) -> None:
    contact_id = await _described(admin)
    page = await (await signed_in(Role.CALLER)).get(f"/app/contacts/{contact_id}")
    assert page.status_code == 403
    assert "Not for your role" in page.text
    assert "Maija" not in page.text


async def test_the_identity_code_is_revealed_once_with_a_reason(
    admin: Client, signed_in: SignedIn, sessionmaker: SessionMaker
) -> None:
    contact_id = await _described(admin)
    browser = await signed_in(Role.PRIVACY_OFFICER)
    page = await browser.get(f"/app/contacts/{contact_id}")
    assert '<dd id="identity-code">131052-****</dd>' in page.text
    assert not IDENTITY_CODE.search(page.text)
    short = await browser.post(
        f"/app/contacts/{contact_id}/identity-code/reveal",
        data={"reason": "why", "csrf_token": csrf(page)},
    )
    assert short.status_code == 422
    assert 'id="reveal-reason-error"' in short.text
    assert not IDENTITY_CODE.search(short.text)
    assert await audit_rows(sessionmaker, "identity_code.reveal") == []
    shown = await browser.post(
        f"/app/contacts/{contact_id}/identity-code/reveal",
        data={"reason": "Access request 12 needs the code", "csrf_token": csrf(page)},
    )
    assert shown.status_code == 200  # on this answer, not behind a redirect
    assert f'<code id="revealed-code">{HETU}</code>' in shown.text
    assert shown.headers["cache-control"] == "no-store"
    [row] = await audit_rows(sessionmaker, "identity_code.reveal")
    assert (row.contact_id, row.reason) == (contact_id, "Access request 12 needs the code")
    # Back on the contact page it is masked again.
    assert not IDENTITY_CODE.search((await browser.get(f"/app/contacts/{contact_id}")).text)


async def test_a_missing_contact_is_a_page_saying_so(signed_in: SignedIn) -> None:
    page = await (await signed_in(Role.ADMIN)).get("/app/contacts/999")
    assert page.status_code == 404
    assert "There is no contact with this number" in page.text


async def test_purchases_show_soft_opt_ins_evidence_and_the_gate_what_is_missing(
    admin: Client, signed_in: SignedIn
) -> None:
    customer = await add_contact(admin, email="asiakas@example.fi", is_customer=True)
    browser = await signed_in(Role.VIEWER)

    async def email_row() -> str:
        page = await browser.get(f"/app/contacts/{customer}")
        assert page.status_code == 200
        return row_of(page.text, "email")

    row = await email_row()
    assert "<code>no_consent</code>" in row
    soft = row.split('class="hint soft-opt-in"')[1]
    assert "similar products: not eligible" in soft
    assert "<code>no_purchase_record</code>" in soft
    assert "no purchase recorded in which the address was obtained" in soft
    await add_purchase(
        admin,
        customer,
        occurred_on="2026-02-03",
        product_group="Team <coaching>",
        refusal_offered=False,
    )
    soft = (await email_row()).split('class="hint soft-opt-in"')[1]
    assert "<code>no_refusal_notice</code>" in soft and "no_purchase_record" not in soft
    await add_purchase(admin, customer, occurred_on="2026-03-04", product_group="Workshops")
    soft = (await email_row()).split('class="hint soft-opt-in"')[1]
    assert "similar products: eligible" in soft and "<code>" not in soft
    page = await browser.get(f"/app/contacts/{customer}")
    purchases = page.text.split('id="purchases"')[1].split("</table>")[0]
    rows = purchases.split("<tr>")[2:]
    assert [r.split("</td>")[0].removeprefix("<td>") for r in rows] == ["4 Mar 2026", "3 Feb 2026"]
    assert "Workshops</td><td>yes</td><td>yes</td>" in rows[0]
    # What staff typed is shown as text, never as markup.
    assert "Team &lt;coaching&gt;</td><td>yes</td><td>no</td>" in rows[1]


async def test_a_contact_without_purchases_says_so(admin: Client, signed_in: SignedIn) -> None:
    contact_id = await add_contact(admin, email="ei.ostoja@example.fi")
    page = await (await signed_in(Role.VIEWER)).get(f"/app/contacts/{contact_id}")
    purchases = page.text.split('id="purchases-heading"')[1].split("</section>")[0]
    assert "No purchases recorded." in purchases
    assert "soft-opt-in" not in row_of(page.text, "email")  # not a customer: no second answer
