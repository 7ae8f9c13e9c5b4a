"""The composer for an SMS campaign: made through the new-campaign form, its
text alone in the draft form, and its size in segments counted on the server
next to the text, opt-out line included."""

from __future__ import annotations

import html
import re

from service.models.enums import Role
from service.settings import Settings
from tests.integration.web.campaigns.conftest import compose, form_post
from tests.integration.web.conftest import Client, SignedIn
from tests.support.factories import SERVED, add_contact, grant


def sizes_of(page: str) -> str:
    start = page.index('id="sms-sizes"')
    return page[start : page.index("</div>", start)]


async def test_an_sms_draft_shows_its_text_and_its_segments(
    signed_in: SignedIn, admin: Client
) -> None:
    marketer = await signed_in(Role.MARKETER)
    new = await marketer.get("/app/campaigns/new")
    assert '<option value="sms"' in new.text
    # The email fields of the new form are not read for an SMS.
    campaign_id = await compose(
        marketer,
        channel="sms",
        body_text="Hei {{ contact.name }}! Syksyn kurssit.",
        **{"translations.sv.body_text": "Hej {{ contact.name }} \u2013 höstens kurser."},
    )
    stored = (await admin.get(f"/api/v1/campaigns/{campaign_id}")).json()
    assert (stored["channel"], stored["subject"], stored["body_html"]) == ("sms", "", "")
    assert stored["translations"] == {
        "sv": {"body_text": "Hej {{ contact.name }} \u2013 höstens kurser."}
    }

    composer = await marketer.get(f"/app/campaigns/{campaign_id}")
    assert composer.status_code == 200
    assert 'name="subject"' not in composer.text and 'name="body_html"' not in composer.text
    assert 'name="translations.sv.body_text"' in composer.text
    sizes = sizes_of(composer.text)
    assert re.search(r"Main text</strong>:\s+1 segment\s+\(GSM-7", sizes), sizes
    # The en dash is outside GSM-7: the Swedish version goes as UCS-2.
    assert re.search(r"Swedish</strong>:\s+\d segments?\s+\(UCS-2", sizes), sizes

    saved = await form_post(
        marketer,
        f"/app/campaigns/{campaign_id}",
        f"/app/campaigns/{campaign_id}",
        {"name": "Texts", "body_text": "Hei! " + "x" * 100},
    )
    assert saved.status_code == 303, saved.text
    again = await marketer.get(f"/app/campaigns/{campaign_id}")
    assert re.search(r"Main text</strong>:\s+2 segments\s+\(GSM-7", sizes_of(again.text))


async def test_an_sms_draft_explains_its_audience_previews_and_can_be_sent(
    signed_in: SignedIn, admin: Client, settings: Settings
) -> None:
    texter = await add_contact(
        admin, email=None, phone="0401234567", last_service_contact_at=SERVED
    )
    await grant(admin, texter, channel="sms")
    await add_contact(admin, email=None, phone="0407654321")  # no SMS consent
    await add_contact(admin, email="e@example.fi", phone=None)  # no number
    marketer = await signed_in(Role.MARKETER)
    campaign_id = await compose(marketer, channel="sms", body_text="Hei {{ contact.name }}!")
    page = await marketer.get(f"/app/campaigns/{campaign_id}")
    assert page.status_code == 200
    assert 'id="send-now"' in page.text and "A phone campaign" not in page.text
    assert "mobile number" in page.text  # the no-address reason, in SMS words
    preview = await form_post(
        marketer,
        f"/app/campaigns/{campaign_id}",
        f"/app/campaigns/{campaign_id}/preview",
        {"contact_id": str(texter)},
    )
    assert preview.status_code == 200, preview.text
    # The sender's name (here the development placeholder), then the opt-out line.
    sender = settings.controller_name
    assert f"Hei Maija Meikäläinen!\n{sender}\nLopeta: " in html.unescape(preview.text)
    assert re.search(r'id="preview-sms-size">1 segment, GSM-7', preview.text), preview.text
