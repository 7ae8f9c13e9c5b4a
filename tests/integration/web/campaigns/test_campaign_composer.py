"""The campaign composer pages: drafts through the form, template errors next
to their field, the live preview, the audience panel and the people behind
each of its counts, CSRF and roles."""

from __future__ import annotations

import html
import re

from sqlmodel import col, select

from service import i18n
from service.db import SessionMaker
from service.models import AuditEvent
from service.models.enums import CampaignChannel, Reason, Role
from service.web.campaign_stats import explain
from tests.integration.web.campaigns.conftest import FORM, compose, form_post
from tests.integration.web.conftest import Client, SignedIn, csrf
from tests.support.factories import add_recipient

BAD_HTML = "<p>Hi</p>\n<p>{{ contact.nme }}</p>"
HTMX = {"HX-Request": "true"}


async def audited(sessionmaker: SessionMaker, action: str) -> list[AuditEvent]:
    async with sessionmaker() as db:
        rows = await db.exec(select(AuditEvent).where(col(AuditEvent.action) == action))
        return list(rows.all())


def post_forms(page: str) -> list[str]:
    """The actions of the page's POST forms."""
    tags = [tag for tag in re.findall(r"<form\b[^>]*>", page) if 'method="post"' in tag]
    return [re.search(r'action="([^"]*)"', tag).group(1) for tag in tags]  # type: ignore[union-attr]


def panel_of(page: str) -> str:
    start = page.index('<section id="audience"')
    return page[start : page.index("</section>", start)]


def panel_counts(panel: str) -> tuple[int, dict[str, int]]:
    eligible = re.search(r'id="eligible-count">(\d+) eligible<', panel)
    assert eligible is not None, panel
    excluded = {
        code: int(n)
        for code, n in re.findall(r'/audience/([a-z_]+)">(\d+)<span class="sr">', panel)
    }
    return int(eligible.group(1)), excluded


async def test_a_draft_is_made_through_the_form(
    signed_in: SignedIn, admin: Client, sessionmaker: SessionMaker
) -> None:
    marketer = await signed_in(Role.MARKETER)
    listing = await marketer.get("/app/campaigns")
    assert listing.status_code == 200
    assert 'href="/app/campaigns/new"' in listing.text
    campaign_id = await compose(
        marketer,
        **{
            "segment.languages.fi": "on",
            "segment.tags": "coaching, Autumn",
            "segment.contact_types.person": "on",
            "translations.sv.subject": "Hej {{ contact.name }}",
            "translations.sv.body_html": "<p>Hej {{ contact.name }}</p>",
            "translations.sv.body_text": "Hej {{ contact.name }}",
        },
    )
    stored = (await admin.get(f"/api/v1/campaigns/{campaign_id}")).json()
    assert stored["status"] == "draft"
    assert stored["subject"] == FORM["subject"]
    assert stored["segment"] == {
        "languages": ["fi"],
        "tags": ["coaching", "autumn"],
        "contact_types": ["person"],
    }
    assert stored["translations"]["sv"]["subject"] == "Hej {{ contact.name }}"
    composer = await marketer.get(f"/app/campaigns/{campaign_id}?saved=1")
    assert composer.status_code == 200
    assert "Saved as a draft." in composer.text
    assert 'value="coaching, autumn"' in composer.text
    listing = await marketer.get("/app/campaigns")
    assert f'href="/app/campaigns/{campaign_id}">Autumn coaching</a>' in listing.text
    assert [
        e.details.get("campaign_id") for e in await audited(sessionmaker, "campaign.create")
    ] == [campaign_id]


async def test_a_template_error_is_shown_at_its_field_with_its_line(
    signed_in: SignedIn, admin: Client
) -> None:
    marketer = await signed_in(Role.MARKETER)
    form_page = await marketer.get("/app/campaigns/new")
    answer = await marketer.post(
        "/app/campaigns/new",
        data={**FORM, "body_html": BAD_HTML, "csrf_token": csrf(form_page)},
    )
    assert answer.status_code == 422
    error = re.search(
        r'<p class="error field-error" id="f-body-html-error">([^<]*)</p>', answer.text
    )
    assert error is not None, answer.text
    assert html.unescape(error.group(1)).startswith("line 2:")
    assert 'aria-describedby="f-body-html-error" aria-invalid="true"' in answer.text
    assert html.escape(BAD_HTML, quote=False) in answer.text  # what was typed, shown again
    assert (await admin.get("/api/v1/campaigns")).json() == []

    empty_name = await marketer.post(
        "/app/campaigns/new", data={**FORM, "name": " ", "csrf_token": csrf(form_page)}
    )
    assert empty_name.status_code == 422
    assert 'id="f-name-error"' in empty_name.text
    assert (await admin.get("/api/v1/campaigns")).json() == []


async def test_saving_a_bad_edit_changes_nothing(signed_in: SignedIn, admin: Client) -> None:
    marketer = await signed_in(Role.MARKETER)
    campaign_id = await compose(marketer)
    url = f"/app/campaigns/{campaign_id}"
    bad = {**FORM, "subject": "New", "body_text": "a\nb\n{{ x"}
    answer = await form_post(marketer, url, url, bad)
    assert answer.status_code == 422
    assert re.search(r'id="f-body-text-error">line 3:', answer.text), answer.text
    stored = (await admin.get(f"/api/v1/campaigns/{campaign_id}")).json()
    assert stored["subject"] == FORM["subject"]
    good = await form_post(marketer, url, url, {**FORM, "subject": "New {{ contact.name }}"})
    assert good.status_code == 303
    stored = (await admin.get(f"/api/v1/campaigns/{campaign_id}")).json()
    assert stored["subject"] == "New {{ contact.name }}"


async def test_the_preview_shows_the_draft_as_the_contact_sees_it(
    signed_in: SignedIn, admin: Client, sessionmaker: SessionMaker
) -> None:
    aino = await add_recipient(admin, "aino@example.fi", full_name="Aino Aaltonen")
    marketer = await signed_in(Role.MARKETER)
    swedish_version = {
        "translations.sv.subject": "Hej {{ contact.name }}",
        "translations.sv.body_html": "<p>Hej {{ contact.name }}</p>",
        "translations.sv.body_text": "Hej {{ contact.name }}",
    }
    campaign_id = await compose(marketer, **swedish_version)
    url = f"/app/campaigns/{campaign_id}"
    composer = await marketer.get(url)
    assert 'value="Hej {{ contact.name }}"' in composer.text
    # The picker offers the first eligible contacts; the form previews on change.
    assert f'<option value="{aino}">Aino Aaltonen (#{aino})</option>' in composer.text
    assert 'data-hx-trigger="load, keyup changed delay:500ms, change"' in composer.text
    unsaved = {
        **FORM,
        **swedish_version,
        "subject": "Special for {{ contact.name }}",
        "contact_id": str(aino),
    }
    fragment = await marketer.post(
        f"{url}/preview", data={**unsaved, "csrf_token": csrf(composer)}, headers=HTMX
    )
    assert fragment.status_code == 200
    assert "<html" not in fragment.text  # the fragment alone
    assert "Preview for <strong>Aino Aaltonen</strong> reading Finnish:\nthe main version" in (
        fragment.text
    )
    assert "Special for Aino Aaltonen" in fragment.text
    # The email is in a sandboxed frame loaded from its own address, whose
    # policy allows the email's inline styles and never a script.
    frame = re.search(r'<iframe class="preview-frame" sandbox src="([^"]*)"', fragment.text)
    assert frame is not None, fragment.text
    shown = await marketer.get(html.unescape(frame.group(1)))
    assert "<p>Dear Aino Aaltonen,</p>" in shown.text
    policy = shown.headers["content-security-policy"]
    assert "style-src 'unsafe-inline'" in policy and "sandbox" in policy
    assert "script-src" not in policy and "default-src 'none'" in policy
    assert "frame-ancestors 'self'" in policy and "'none'" not in shown.headers.get(
        "x-frame-options", ""
    )
    assert shown.headers["x-frame-options"] == "SAMEORIGIN"
    assert len(shown.headers.get_list("content-security-policy")) == 1
    assert "frame-src 'self'" in fragment.headers["content-security-policy"]
    # Another member cannot read it by its address.
    other = await admin.get(html.unescape(frame.group(1)))
    assert "Dear Aino" not in other.text
    assert "Aino Aaltonen would receive this campaign." in fragment.text
    stored = (await admin.get(f"/api/v1/campaigns/{campaign_id}")).json()
    assert stored["subject"] == FORM["subject"]  # previewing saves nothing

    swedish = await marketer.post(
        f"{url}/preview",
        data={**unsaved, "preview_language": "sv", "csrf_token": csrf(composer)},
        headers=HTMX,
    )
    assert "reading Swedish:\nthe Swedish version." in swedish.text
    assert "Hej Aino Aaltonen" in swedish.text

    broken = await marketer.post(
        f"{url}/preview",
        data={**unsaved, "body_html": BAD_HTML, "csrf_token": csrf(composer)},
        headers=HTMX,
    )
    assert "<strong>body_html</strong>: line 2:" in broken.text

    # Without JavaScript the Preview button posts the same and gets the whole page.
    whole = await marketer.post(f"{url}/preview", data={**unsaved, "csrf_token": csrf(composer)})
    assert whole.status_code == 200
    assert "<html" in whole.text and "Preview for <strong>Aino Aaltonen</strong>" in whole.text
    assert 'value="Special for {{ contact.name }}"' in whole.text  # the unsaved draft kept
    previews = await audited(sessionmaker, "campaign.preview")
    assert {event.contact_id for event in previews} == {aino}


async def test_the_audience_panel_counts_what_the_api_counts(
    signed_in: SignedIn, admin: Client
) -> None:
    await add_recipient(admin, "aino@example.fi", full_name="Aino Aaltonen")
    await add_recipient(admin, "bertta@example.fi", full_name="Bertta Berg")
    await add_recipient(admin, "cecilia@example.fi", full_name="Cecilia Co", consent=())
    await add_recipient(admin, None, full_name="Doris Dahl", phone="+358401234567")
    marketer = await signed_in(Role.MARKETER)
    campaign_id = await compose(marketer)
    api = (await admin.get(f"/api/v1/campaigns/{campaign_id}/audience")).json()
    assert api["eligible"] == 2
    composer = await marketer.get(f"/app/campaigns/{campaign_id}")
    eligible, excluded = panel_counts(panel_of(composer.text))
    assert (eligible, excluded) == (api["eligible"], api["excluded"])
    assert "no_consent</code>: no consent for email marketing and no other lawful basis" in (
        composer.text
    )
    fragment = await marketer.get(f"/app/campaigns/{campaign_id}/audience", headers=HTMX)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert 'data-hx-trigger="every 10s"' in fragment.text
    assert panel_counts(panel_of(fragment.text)) == (api["eligible"], api["excluded"])
    plain = await marketer.get(f"/app/campaigns/{campaign_id}/audience")
    assert "<html" in plain.text and panel_counts(panel_of(plain.text))[0] == 2


async def test_a_reason_lists_exactly_the_contacts_behind_it(
    signed_in: SignedIn, admin: Client, sessionmaker: SessionMaker
) -> None:
    aino = await add_recipient(admin, "aino@example.fi", full_name="Aino Aaltonen")
    cecilia = await add_recipient(admin, "cecilia@example.fi", full_name="Cecilia Co", consent=())
    doris = await add_recipient(
        admin, None, full_name="Doris Dahl", consent=(), phone="+358401234568"
    )
    marketer = await signed_in(Role.MARKETER)
    campaign_id = await compose(marketer)
    listed = await marketer.get(f"/app/campaigns/{campaign_id}/audience/no_consent")
    assert listed.status_code == 200
    links = re.findall(r'<a href="/app/contacts/(\d+)">([^<]*)</a>', listed.text)
    assert links == [(str(cecilia), "Cecilia Co"), (str(doris), "Doris Dahl")]
    assert "no consent for email marketing and no other lawful basis" in listed.text
    no_address = await marketer.get(f"/app/campaigns/{campaign_id}/audience/no_address")
    assert re.findall(r'/app/contacts/(\d+)"', no_address.text) == [str(doris)]
    eligible = await marketer.get(f"/app/campaigns/{campaign_id}/audience/eligible")
    assert re.findall(r'/app/contacts/(\d+)"', eligible.text) == [str(aino)]
    reads = await audited(sessionmaker, "campaign.audience_read")
    assert [e.details for e in reads[-3:]] == [
        {"campaign_id": campaign_id, "count": 2},
        {"campaign_id": campaign_id, "count": 1},
        {"campaign_id": campaign_id, "count": 1},
    ]
    unknown = await marketer.get(f"/app/campaigns/{campaign_id}/audience/bored")
    assert unknown.status_code == 404 and "no audience reason" in unknown.text
    # A page past any register is an empty page, not a number the database refuses.
    far = await marketer.get(f"/app/campaigns/{campaign_id}/audience/eligible?page={10**20}")
    assert far.status_code == 200 and re.findall(r'/app/contacts/(\d+)"', far.text) == []
    missing = await marketer.get("/app/campaigns/999999")
    assert missing.status_code == 404 and "no campaign with id 999999" in missing.text


def test_every_reason_code_of_the_gate_is_explained() -> None:
    for reason in Reason:
        for channel in CampaignChannel:
            text = explain(reason, channel)
            assert text and "{" not in text, (reason, channel)
    with i18n.use("en"):  # the words follow the member's language (Finnish by default)
        assert explain(Reason.NO_CONSENT, CampaignChannel.EMAIL) == (
            "no consent for email marketing and no other lawful basis "
            "(a business contact, or an existing customer offered similar products)"
        )


async def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(
    signed_in: SignedIn, admin: Client
) -> None:
    marketer = await signed_in(Role.MARKETER)
    refused = await marketer.post("/app/campaigns/new", data=FORM)
    assert refused.status_code == 403
    assert (await admin.get("/api/v1/campaigns")).json() == []
    campaign_id = await compose(marketer)
    url = f"/app/campaigns/{campaign_id}"
    edit = await marketer.post(url, data={**FORM, "subject": "Changed", "csrf_token": "forged"})
    assert edit.status_code == 403
    for action in ("send", "cancel"):
        answer = await marketer.post(f"{url}/{action}", data={})
        assert answer.status_code == 403, action
    stored = (await admin.get(f"/api/v1/campaigns/{campaign_id}")).json()
    assert (stored["subject"], stored["status"]) == (FORM["subject"], "draft")


async def test_a_viewer_reads_without_forms_and_a_caller_not_at_all(
    signed_in: SignedIn, admin: Client
) -> None:
    await add_recipient(admin, "aino@example.fi", full_name="Aino Aaltonen")
    campaign_id = await compose(await signed_in(Role.MARKETER))
    viewer = await signed_in(Role.VIEWER)
    listing = await viewer.get("/app/campaigns")
    assert listing.status_code == 200 and "New campaign" not in listing.text
    composer = await viewer.get(f"/app/campaigns/{campaign_id}")
    assert composer.status_code == 200
    assert post_forms(composer.text) == ["/app/logout"]
    assert "<textarea" not in composer.text and "Send now" not in composer.text
    assert "Dear {{ contact.name }}" in composer.text  # the content, read-only
    assert panel_counts(panel_of(composer.text))[0] == 1
    preview = await viewer.get(f"/app/campaigns/{campaign_id}?contact_id=1&preview_language=")
    assert "Preview for <strong>Aino Aaltonen</strong>" in preview.text
    for path in ("/app/campaigns/new", f"/app/campaigns/{campaign_id}/schedule"):
        denied = await (viewer.get(path) if path.endswith("new") else viewer.post(path, data={}))
        assert denied.status_code == 403 and "Not for your role" in denied.text
    caller = await signed_in(Role.CALLER)
    for path in ("/app/campaigns", f"/app/campaigns/{campaign_id}"):
        answer = await caller.get(path)
        assert answer.status_code == 403 and "Not for your role" in answer.text
