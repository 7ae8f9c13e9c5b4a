"""Campaign authoring through the API: layouts in MJML compiled when saved,
Markdown bodies put in them with the CSS inlined and a text part made, the
send, the test send to the caller alone, duplicate and delete of drafts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlmodel import col, select

from service.campaigns.layouts import default_mjml
from service.db import SessionMaker, session_scope
from service.models import AuditEvent
from service.settings import Settings, load_settings
from tests.support.factories import add_campaign, add_recipient
from tests.support.smtp import PickySink
from tests.support.worker import drain, worker_context

Client = AsyncTestClient[Litestar]
LAYOUT = """<mjml><mj-head><mj-style>
  .content h1 { color: #aa0000; font-size: 30px; }
  .content p { margin: 0 0 14px; }
</mj-style></mj-head><mj-body><mj-section><mj-column>
  <mj-text css-class="content">{{ content }}</mj-text>
</mj-column></mj-section></mj-body></mjml>"""
MARKDOWN = (
    "# Hello {{ contact.nickname or contact.full_name }}\n\n"
    "Our **autumn** offer: [see it](https://shop.example.fi/autumn).\n\n"
    "<script>alert(1)</script>\n"
)


@pytest.fixture
def sink() -> Iterator[PickySink]:
    with PickySink() as server:
        yield server


@pytest.fixture
def settings(settings: Settings, settings_env: dict[str, str], sink: PickySink) -> Settings:
    return load_settings(
        {
            **settings_env,
            "CONSENTRY_DATABASE_URL": settings.database_url,
            "CONSENTRY_REDIS_URL": settings.redis_url or "",
            "CONSENTRY_SMTP_HOST": "127.0.0.1",
            "CONSENTRY_SMTP_PORT": str(sink.port),
            "CONSENTRY_MAIL_FROM": "news@example.fi",
            "CONSENTRY_PUBLIC_URL": "https://consentry.example.fi",
        }
    )


@pytest.fixture
async def ctx(settings: Settings, sessionmaker: SessionMaker) -> AsyncIterator[dict[str, Any]]:
    async with worker_context(settings, sessionmaker) as context:
        await context["redis"].flushdb()
        yield context


async def _layout(api: Client, mjml: str = LAYOUT, name: str = "Autumn") -> int:
    response = await api.post("/api/v1/layouts", json={"name": name, "mjml": mjml})
    assert response.status_code == 201, response.text
    assert "{{ content }}" in response.json()["html"]
    return int(response.json()["id"])


async def _markdown_campaign(api: Client, layout_id: int, **fields: Any) -> dict[str, Any]:
    body = {
        "name": "Autumn",
        "channel": "email",
        "subject": "Autumn news",
        "body_format": "markdown",
        "body_source": MARKDOWN,
        "layout_id": layout_id,
        **fields,
    }
    response = await api.post("/api/v1/campaigns", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_a_markdown_campaign_in_a_layout_is_sent_styled_with_a_text_part(
    admin: Client, ctx: dict[str, Any], sink: PickySink
) -> None:
    await add_recipient(admin, "reader@example.fi", nickname="Aino")
    campaign = await _markdown_campaign(admin, await _layout(admin))
    assert campaign["text_written"] is False
    assert "Our autumn offer" in campaign["body_text"] and "<strong>" not in campaign["body_text"]
    assert (await admin.post(f"/api/v1/campaigns/{campaign['id']}/send")).status_code == 202
    await drain(ctx)

    [(address, message)] = sink.accepted
    assert address == "reader@example.fi"
    html_part = message.get_body(("html",))
    text_part = message.get_body(("plain",))
    assert html_part is not None and text_part is not None
    page = html_part.get_content()
    # The layout's CSS, inlined on the Markdown's elements; the name rendered.
    assert '<h1 style="color: #aa0000;font-size: 30px;">Hello Aino</h1>' in page
    assert "<strong>autumn</strong>" in page
    # HTML written in the Markdown is text, never markup.
    assert "<script>" not in page and "&lt;script&gt;" in page
    # The trusted footer is in the layout's document, once, before its end.
    assert page.count("</body>") == 1
    assert page.index("/u/") < page.index("</body>")
    text = text_part.get_content()
    assert "Hello Aino" in text and "https://shop.example.fi/autumn" in text
    assert "<h1" not in text and "{{" not in text


async def test_a_written_text_part_is_kept(admin: Client) -> None:
    campaign = await _markdown_campaign(
        admin, await _layout(admin), body_text="My own words", text_written=True
    )
    assert campaign["body_text"] == "My own words"


async def test_html_campaigns_stay_as_written(admin: Client) -> None:
    campaign_id = await add_campaign(admin, body_html="<p>Hi</p>", body_text="Hi there")
    campaign = (await admin.get(f"/api/v1/campaigns/{campaign_id}")).json()
    assert campaign["body_html"] == "<p>Hi</p>" and campaign["body_text"] == "Hi there"
    assert campaign["body_format"] == "html" and campaign["text_written"] is True
    assert campaign["layout_id"] is None


@pytest.mark.parametrize(
    ("mjml", "says"),
    [
        ("<mjml><mj-body><mj-text>no slot</mj-text></mj-body></mjml>", "{{ content }}"),
        ("<mjml><mj-body>{{ content }}", "cannot be compiled"),
        (LAYOUT.replace("</mj-text>", "{{ contact.full_name }}</mj-text>"), "no template code"),
        (LAYOUT.replace("</mj-text>", "{% include 'x' %}</mj-text>"), "no template code"),
        (
            "<mjml><mj-body><mj-section><mj-column><mj-image src='{{ content }}'/>"
            "</mj-column></mj-section></mj-body></mjml>",
            "inside text",
        ),
        ("<mjml>" + "<mj-body>" * 5000 + "{{ content }}", ""),
        ("x" * 300_000, ""),
    ],
)
async def test_a_bad_layout_is_a_422_on_its_field(admin: Client, mjml: str, says: str) -> None:
    response = await admin.post("/api/v1/layouts", json={"name": "Bad", "mjml": mjml})
    assert response.status_code in (400, 422), response.text
    if response.status_code == 422 and says:
        assert says in str(response.json())


async def test_editing_a_layout_remakes_its_drafts_and_one_in_use_stays(admin: Client) -> None:
    layout_id = await _layout(admin)
    campaign = await _markdown_campaign(admin, layout_id)
    changed = LAYOUT.replace("#aa0000", "#0000bb")
    response = await admin.patch(f"/api/v1/layouts/{layout_id}", json={"mjml": changed})
    assert response.status_code == 200, response.text
    again = (await admin.get(f"/api/v1/campaigns/{campaign['id']}")).json()
    assert "#0000bb" in again["body_html"] and "#aa0000" not in again["body_html"]
    assert (await admin.delete(f"/api/v1/layouts/{layout_id}")).status_code == 409


async def test_the_default_layout_is_added_once_and_compiles(admin: Client) -> None:
    first = await admin.post("/api/v1/layouts/default")
    second = await admin.post("/api/v1/layouts/default")
    assert first.status_code == second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["mjml"] == default_mjml()
    assert "@media" in first.json()["html"]  # responsive


@pytest.mark.parametrize(
    "source",
    [
        "{{ contact.email }}",  # not in the view
        "{{ ''.__class__ }}",  # the sandbox
        "{% for x in range(10**9) %}{{ x }}{% endfor %}",  # the CPU limit
        "{{ contact.full_name }} {% if %}",  # a syntax error
        "<!-- {{ contact.full_name }}",
    ],
)
async def test_template_tricks_in_markdown_are_refused_not_5xx(admin: Client, source: str) -> None:
    layout_id = await _layout(admin)
    response = await admin.post(
        "/api/v1/campaigns",
        json={
            "name": "Tricks",
            "channel": "email",
            "subject": "S",
            "body_format": "markdown",
            "body_source": source,
            "layout_id": layout_id,
        },
    )
    assert response.status_code in (201, 422), response.text
    if "<!--" not in source:
        assert response.status_code == 422


async def test_contact_data_is_never_read_as_a_template(
    admin: Client, ctx: dict[str, Any], sink: PickySink
) -> None:
    # A name that looks like a template tag stays text: layout and body were
    # joined before rendering, so the name is a value, not template source.
    await add_recipient(admin, "x@example.fi", nickname="{{ campaign.name }}")
    campaign = await _markdown_campaign(admin, await _layout(admin), name="Secret name")
    assert (await admin.post(f"/api/v1/campaigns/{campaign['id']}/send")).status_code == 202
    await drain(ctx)
    [(_, message)] = sink.accepted
    page = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Hello {{ campaign.name }}" in page and "Secret name" not in page


async def test_test_send_goes_to_the_caller_alone_and_is_not_counted(
    admin: Client, sink: PickySink, sessionmaker: SessionMaker
) -> None:
    await add_recipient(admin, "reader@example.fi")
    campaign = await _markdown_campaign(admin, await _layout(admin))
    response = await admin.post(
        f"/api/v1/campaigns/{campaign['id']}/test-send", json={"language": "en"}
    )
    assert response.status_code == 202, response.text
    me = response.json()["sent_to"]
    [(address, message)] = sink.accepted
    assert address == me and address != "reader@example.fi"
    assert message["Subject"] == "[Test] Autumn news"
    assert "Hello Aino" in message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    after = (await admin.get(f"/api/v1/campaigns/{campaign['id']}")).json()
    assert after["status"] == "draft" and after["counts"]["sent"] == 0
    async with session_scope(sessionmaker) as session:
        actions = (
            await session.exec(
                select(AuditEvent.action).where(col(AuditEvent.action) == "campaign.test_send")
            )
        ).all()
    assert actions == ["campaign.test_send"]


async def test_duplicate_makes_a_draft_with_the_content_and_delete_takes_drafts_only(
    admin: Client, ctx: dict[str, Any]
) -> None:
    await add_recipient(admin, "reader@example.fi")
    campaign = await _markdown_campaign(admin, await _layout(admin))
    assert (await admin.post(f"/api/v1/campaigns/{campaign['id']}/send")).status_code == 202
    await drain(ctx)
    response = await admin.post(f"/api/v1/campaigns/{campaign['id']}/duplicate")
    assert response.status_code == 201, response.text
    copy = response.json()
    assert copy["status"] == "draft" and copy["id"] != campaign["id"]
    assert copy["body_source"] == MARKDOWN and copy["layout_id"] == campaign["layout_id"]
    assert copy["counts"] == {"queued": 0, "sent": 0, "failed": 0, "skipped": 0}
    assert copy["name"] == "Autumn (copy)"

    assert (await admin.delete(f"/api/v1/campaigns/{campaign['id']}")).status_code == 409
    assert (await admin.delete(f"/api/v1/campaigns/{copy['id']}")).status_code == 204
    assert (await admin.get(f"/api/v1/campaigns/{copy['id']}")).status_code == 404
