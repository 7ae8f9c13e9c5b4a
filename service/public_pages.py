"""What every public page shares: the templates under ``templates/web/public``
rendered with the controller's identity, the security headers, the choice of
language from a browser's ``Accept-Language``, and the caller's address.

The unsubscribe and preference pages (service.consent.public), the signup
forms (service.forms.public) and the privacy portal (service.portal.public)
answer through ``render``; each keeps its own words and its own routes.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import jinja2
from litestar import Request, Response
from litestar.datastructures import Cookie, State
from litestar.di import NamedDependency
from litestar.enums import MediaType
from sqlmodel.ext.asyncio.session import AsyncSession

from service.ip import truncate_ip
from service.mail.render import Controller as ControllerIdentity
from service.settings import Settings

Session = NamedDependency[AsyncSession]
PublicRequest = Request[Any, Any, State]
PAGES = Path(__file__).resolve().parents[1] / "templates" / "web" / "public"
LANGUAGES = ("fi", "sv", "en")
# Tokens travel in these URLs: keep them out of other sites' logs and caches.
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'"
    ),
}

# The pages ship with the code: no need to look at each file's time on every render.
_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(PAGES),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    auto_reload=False,
)


def settings_of(request: PublicRequest) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def render(
    request: PublicRequest,
    name: str,
    *,
    lang: str,
    text: dict[str, str],
    title: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    cookies: Sequence[Cookie] = (),
    **values: Any,
) -> Response[str]:
    """The page ``{name}.html.j2`` in ``lang`` with its words ``text``; the
    headers are ``HEADERS`` unless a page needs its own."""
    html = _templates.get_template(f"{name}.html.j2").render(
        lang=lang,
        t=text,
        title=title,
        controller=ControllerIdentity.from_settings(settings_of(request)),
        **values,
    )
    return Response(
        html,
        status_code=status,
        media_type=MediaType.HTML,
        headers=headers or HEADERS,
        cookies=list(cookies),
    )


def accepted_language(accept_language: str, languages: Collection[str]) -> str | None:
    """The first language of an ``Accept-Language`` header among ``languages``
    (by its two-letter code), None when none is."""
    for part in accept_language.lower().split(","):
        code = part.split(";")[0].strip()[:2]
        if code in languages:
            return code
    return None


def browser_language(request: PublicRequest) -> str:
    """The browser's first language of ours, else English."""
    return accepted_language(request.headers.get("accept-language", ""), LANGUAGES) or "en"


def client_address(request: PublicRequest) -> str | None:
    """The caller's IP address when it is one; the consent evidence that takes
    it cuts it to its network before it is stored (service.consent.schemas)."""
    host = request.client.host if request.client else None
    try:
        return host if host and truncate_ip(host) else None
    except ValueError:
        return None


def client_network(request: PublicRequest) -> str | None:
    """The caller's network, cut to the configured prefixes
    (``IP_V4_PREFIX``, ``IP_V6_PREFIX``); None when unknown."""
    if request.client is None:
        return None
    settings = settings_of(request)
    try:
        return truncate_ip(
            request.client.host, v4_prefix=settings.ip_v4_prefix, v6_prefix=settings.ip_v6_prefix
        )
    except ValueError:
        return None
