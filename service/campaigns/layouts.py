"""Saved email layouts: written in MJML, compiled to HTML when saved.

A layout is shared by campaigns: editing one re-makes the drafts that use it
(a campaign already sent keeps the HTML it was sent with); one in use cannot
be deleted. The responsive default (templates/email/layouts/default.mjml) is
added the first time it is asked for (:func:`ensure_default`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.campaigns import authoring as campaign_authoring
from service.errors import Conflict, InvalidInput, NotFound
from service.labels import N_
from service.mail import authoring
from service.mail.render import DEFAULT_LAYOUT_DIR
from service.models import Campaign, Layout
from service.models.base import utcnow
from service.models.enums import CampaignStatus
from service.validation import MultiLine, SingleLine

DEFAULT_NAME = "Default (responsive)"
DEFAULT_FILE = "layouts/default.mjml"

LayoutName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), SingleLine
]
Mjml = Annotated[str, StringConstraints(min_length=1, max_length=authoring.MAX_MJML), MultiLine]


class LayoutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: LayoutName
    mjml: Mjml = Field(description="MJML with {{ content }} once, where a campaign's body goes.")


class LayoutUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: LayoutName | None = None
    mjml: Mjml | None = None


def default_mjml(layout_dir: Path = DEFAULT_LAYOUT_DIR) -> str:
    return (layout_dir / DEFAULT_FILE).read_text(encoding="utf-8")


async def _compile(mjml: str) -> str:
    try:
        return await asyncio.to_thread(authoring.compile_layout, mjml)
    except authoring.AuthoringError as exc:
        raise InvalidInput(exc.message, fields={exc.field: exc.message}) from None


async def _name_free(session: AsyncSession, name: str, layout_id: int | None = None) -> None:
    query = select(Layout.id).where(col(Layout.name) == name)
    if layout_id is not None:
        query = query.where(col(Layout.id) != layout_id)
    if (await session.exec(query)).first() is not None:
        raise Conflict(
            N_("a layout of that name exists"),
            reason="name_taken",
            fields={"name": N_("already taken")},
        )


async def create(session: AsyncSession, *, data: LayoutIn, user_id: int | None) -> Layout:
    await _name_free(session, data.name)
    html = await _compile(data.mjml)
    layout = Layout(name=data.name, mjml=data.mjml, html=html, created_by_user_id=user_id)
    session.add(layout)
    await session.flush()
    return layout


async def get(session: AsyncSession, layout_id: int) -> Layout:
    layout = await session.get(Layout, layout_id)
    if layout is None:
        raise NotFound(f"no layout with id {layout_id}")
    return layout


async def list_(session: AsyncSession) -> Sequence[Layout]:
    return (await session.exec(select(Layout).order_by(col(Layout.name)))).all()


async def update(session: AsyncSession, *, layout: Layout, data: LayoutUpdate) -> Layout:
    """Rename or rewrite a layout; the drafts in it are made again."""
    if data.name is not None:
        await _name_free(session, data.name, layout.id)
        layout.name = data.name
    if data.mjml is not None:
        layout.html = await _compile(data.mjml)
        layout.mjml = data.mjml
    layout.updated_at = utcnow()
    session.add(layout)
    await session.flush()
    drafts = await session.exec(
        select(Campaign).where(
            col(Campaign.layout_id) == layout.id,
            col(Campaign.status) == CampaignStatus.DRAFT.value,
        )
    )
    for campaign in drafts.all():
        await campaign_authoring.author(session, campaign)
        campaign.updated_at = utcnow()
        session.add(campaign)
    await session.flush()
    return layout


async def delete(session: AsyncSession, *, layout: Layout) -> None:
    used = await session.exec(
        select(func.count()).select_from(Campaign).where(col(Campaign.layout_id) == layout.id)
    )
    if used.one():
        raise Conflict(N_("campaigns use this layout"), reason="in_use")
    await session.delete(layout)
    await session.flush()


async def ensure_default(session: AsyncSession, *, user_id: int | None) -> Layout:
    """The responsive default layout, added from its MJML file when missing."""
    found = (await session.exec(select(Layout).where(col(Layout.name) == DEFAULT_NAME))).first()
    if found is not None:
        return found
    return await create(
        session, data=LayoutIn(name=DEFAULT_NAME, mjml=default_mjml()), user_id=user_id
    )
