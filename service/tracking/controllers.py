"""``/api/v1/site-consent/texts``: the words of the website's cookie banner
(``service.tracking.site_consent``)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, put
from litestar.di import NamedDependency
from litestar.params import JSONBody
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit import trail
from service.auth.middleware import requires
from service.auth.permissions import Permission
from service.auth.service import Principal
from service.tracking import site_consent
from service.tracking.schemas import BannerRead

Session = NamedDependency[AsyncSession]
StaffRequest = Request[Principal, Any, Any]


class SiteConsentController(Controller):
    path = "/site-consent"
    tags = ["website consent"]

    @get("/texts", guards=[requires(Permission.FORMS_READ)])
    async def get_texts(self, db_session: Session) -> dict[str, BannerRead]:
        """The banner in force in each language: its version (what the site
        passes with a visitor's decision), id and hash, and each category's
        archived text with its own id, version and hash."""
        banners = await site_consent.current(db_session)
        return {language: BannerRead.of(banner) for language, banner in banners.items()}

    @put(
        "/texts",
        guards=[requires(Permission.FORMS_WRITE)],
        opt={"audit": "site_consent_texts.update"},
    )
    async def set_texts(
        self, request: StaffRequest, db_session: Session, data: JSONBody[dict[str, Any]]
    ) -> dict[str, BannerRead]:
        """Set the banner's words: `{"fi": {"necessary": "…", "analytics": "…",
        "marketing": "…"}, "en": {…}}`. Categories: `necessary` (shown, never a
        choice), `analytics` (page views), `marketing`; a language needs at
        least one of the last two. Each language given gets a new banner
        version when any of its words changed (same words: same version);
        languages not given keep theirs. 422 naming what is wrong."""
        texts = site_consent.check_texts(data)
        banners = await site_consent.set_texts(db_session, texts, user_id=request.user.user_id)
        trail.annotate(
            db_session,
            banner_ids=[banners[language].id for language in texts],
            languages=sorted(texts),
        )
        return {language: BannerRead.of(banner) for language, banner in banners.items()}
