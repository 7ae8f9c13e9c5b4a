"""The forbid-transfer page, linked from the transfer notice: ``/f/{token}``.

A GET shows what will be handed over, to whom and when, with a button, and
changes nothing (mail scanners fetch links). The button POSTs back and
forbids the transfer; doing it again answers the same confirmation. The
token names the profile only; a forged or damaged one gets the same generic
400 page as the other public links.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import jinja2
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.enums import MediaType
from litestar.params import FromPath
from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock, rules
from service.consent.texts import PAGE_TEXT as GENERIC_TEXT
from service.db import run
from service.mail.render import Controller as ControllerIdentity
from service.models import Contact, Profile
from service.models.enums import ProfileState
from service.public_pages import HEADERS, PAGES
from service.retention import texts
from service.retention.notice import TOKEN_PURPOSE
from service.settings import Settings
from service.tokens import InvalidToken, TokenSigner

Session = NamedDependency[AsyncSession]
PublicRequest = Request[Any, Any, State]

_pages = jinja2.Environment(
    loader=jinja2.FileSystemLoader(PAGES), autoescape=True, undefined=jinja2.StrictUndefined
)


def _settings(request: PublicRequest) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _html(request: PublicRequest, template: str, status: int, **values: Any) -> Response[str]:
    html = _pages.get_template(template).render(
        controller=ControllerIdentity.from_settings(_settings(request)), **values
    )
    return Response(html, status_code=status, media_type=MediaType.HTML, headers=HEADERS)


def _browser_language(request: PublicRequest) -> str:
    for part in request.headers.get("accept-language", "").lower().split(","):
        code = part.split(";")[0].strip()[:2]
        if code in texts.LANGUAGES:
            return code
    return "en"


def _invalid(request: PublicRequest) -> Response[str]:
    """The one generic page of every public link: it says nothing about
    whether the profile or the person exists."""
    lang = _browser_language(request)
    text = GENERIC_TEXT[lang]
    return _html(request, "invalid.html.j2", 400, lang=lang, t=text, title=text["invalid_title"])


def _profile_id(request: PublicRequest, token: str) -> int | None:
    signer: TokenSigner = request.app.state.signer
    try:
        (profile_id,) = signer.verify(token, TOKEN_PURPOSE)
    except (InvalidToken, ValueError):
        return None
    return profile_id


def transfer_day(profile: Profile, notice_days: int) -> date:
    """The day the profile is handed over (or, forbidden, destroyed) as things stand."""
    if profile.transfer_notice_sent_at is None:
        return rules.profile_transfer_on(profile.completed_on)
    return rules.transfer_due_on(
        profile.completed_on, rules.local_date(profile.transfer_notice_sent_at), notice_days
    )


async def _page(request: PublicRequest, session: AsyncSession, profile_id: int) -> Response[str]:
    settings = _settings(request)
    profile = await session.get(Profile, profile_id)
    contact = await session.get(Contact, profile.contact_id) if profile is not None else None
    lang = contact.language.value if contact is not None else _browser_language(request)
    if profile is None or profile.state is ProfileState.DESTROYED:
        # Gone with the person's erasure, or destroyed by a retention rule.
        state, day = "destroyed", None
    elif profile.state is ProfileState.TRANSFERRED:
        state, day = "transferred", None
    elif not profile.has_vendor_account:
        state, day = "not_for_transfer", rules.no_account_deadline(profile.completed_on)
    elif profile.transfer_forbidden_at is not None:
        state, day = "forbidden", rules.profile_transfer_on(profile.completed_on)
    else:
        state, day = "planned", transfer_day(profile, settings.profile_transfer_notice_days)
    words = texts.filled(
        texts.PAGE_TEXT[lang],
        date=rules.format_date(day, lang) if day is not None else "",
        completed=rules.format_date(profile.completed_on, lang) if profile is not None else "",
        to_vendor=texts.to_vendor(lang, settings.profile_vendor_name),
    )
    return _html(
        request,
        "forbid_transfer.html.j2",
        200,
        lang=lang,
        t=words,
        title=words["title"],
        state=state,
    )


class ForbidTransferController(Controller):
    path = "/f"
    tags = ["public links"]

    @get(
        "/{token:str}",
        summary="What will be handed to the profile vendor, and when",
        media_type=MediaType.HTML,
    )
    async def forbid_page(
        self, request: PublicRequest, db_session: Session, token: FromPath[str]
    ) -> Response[str]:
        """Changes nothing."""
        profile_id = _profile_id(request, token)
        if profile_id is None:
            return _invalid(request)
        return await _page(request, db_session, profile_id)

    @post(
        "/{token:str}",
        status_code=200,
        summary="Forbid handing the profile to the vendor",
        media_type=MediaType.HTML,
    )
    async def forbid(
        self, request: PublicRequest, db_session: Session, token: FromPath[str]
    ) -> Response[str]:
        """Records that the person forbade the transfer (kept profiles only);
        the retention run then destroys the profile instead of handing it
        over. Repeating it changes nothing more and answers the same page."""
        profile_id = _profile_id(request, token)
        if profile_id is None:
            return _invalid(request)
        await run(
            db_session,
            update(Profile)
            .where(
                col(Profile.id) == profile_id,
                col(Profile.state) == ProfileState.KEPT.value,
                col(Profile.transfer_forbidden_at).is_(None),
            )
            .values(transfer_forbidden_at=clock.now()),
        )
        return await _page(request, db_session, profile_id)
