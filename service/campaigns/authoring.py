"""A campaign's body made from what its author wrote: Markdown or HTML, in a
saved layout or not (``service.mail.authoring`` does the converting).

Runs on every save of a draft, before the templates are checked, so what is
checked is what will be sent. An HTML campaign without a layout is kept as
written (its text part made from the HTML only when ``text_written`` is off).
"""

from __future__ import annotations

import asyncio

from sqlmodel.ext.asyncio.session import AsyncSession

from service.errors import InvalidInput
from service.labels import N_
from service.mail import authoring
from service.models import Campaign, Layout
from service.models.enums import BodyFormat, CampaignChannel


def derived(campaign: Campaign) -> bool:
    """Whether body_html is made from body_source (Markdown, or a layout)."""
    return campaign.body_format is BodyFormat.MARKDOWN or campaign.layout_id is not None


async def author(session: AsyncSession, campaign: Campaign) -> None:
    """Make body_html (and body_text unless written) from the campaign's
    source and layout, and each translation's likewise. 422 naming the
    field when it cannot be done."""
    if campaign.channel is not CampaignChannel.EMAIL:
        if derived(campaign) or campaign.body_source:
            raise InvalidInput(
                N_("only an email campaign has a layout or a Markdown body"),
                fields={"body_format": N_("html only, without a layout")},
            )
        return
    layout_html = None
    if campaign.layout_id is not None:
        layout = await session.get(Layout, campaign.layout_id)
        if layout is None:
            raise InvalidInput(
                N_("no such layout"), fields={"layout_id": N_("no layout with that id")}
            )
        layout_html = layout.html
    markdown = campaign.body_format is BodyFormat.MARKDOWN
    try:
        if derived(campaign):
            composed = await asyncio.to_thread(
                authoring.compose,
                body=campaign.body_source,
                markdown=markdown,
                layout_html=layout_html,
            )
            campaign.body_html = composed.html
            if not campaign.text_written:
                campaign.body_text = composed.text
        elif not campaign.text_written:
            made = await asyncio.to_thread(
                authoring.compose,
                body=campaign.body_html,
                markdown=False,
                layout_html=None,
                field="body_html",
            )
            campaign.body_text = made.text
        campaign.translations = await asyncio.to_thread(
            _translations, campaign.translations or {}, markdown, layout_html
        )
    except authoring.AuthoringError as exc:
        raise InvalidInput(exc.message, fields={exc.field: exc.message}) from None


def _translations(
    translations: dict[str, dict[str, str]], markdown: bool, layout_html: str | None
) -> dict[str, dict[str, str]]:
    """Each language version as written goes the same way as the main one:
    its body (``body_source`` once made, else the ``body_html`` given) in the
    campaign's format and layout; its text part stays as written."""
    if not markdown and layout_html is None:
        # Back to plain HTML: the version as its author wrote it.
        return {
            lang: {
                **{k: v for k, v in body.items() if k != "body_source"},
                "body_html": body.get("body_source") or body.get("body_html", ""),
            }
            for lang, body in translations.items()
        }
    made: dict[str, dict[str, str]] = {}
    for lang, body in translations.items():
        source = body.get("body_source") or body.get("body_html", "")
        composed = authoring.compose(
            body=source,
            markdown=markdown,
            layout_html=layout_html,
            field=f"translations.{lang}.body_html",
        )
        made[lang] = {**body, "body_source": source, "body_html": composed.html}
    return made


def pixel_warning(campaign: Campaign) -> bool:
    """Whether the open pixel would dominate the saved body: an email with
    images and little text (``service.mail.authoring.pixel_dominates``)."""
    if campaign.channel is not CampaignChannel.EMAIL:
        return False
    if campaign.body_format is BodyFormat.MARKDOWN:
        body = authoring.markdown_html(campaign.body_source)
    elif campaign.layout_id is not None:
        body = campaign.body_source
    else:
        body = campaign.body_html
    return authoring.pixel_dominates(body)
