"""The privacy portal's pages and what every route of it checks: the page
in the person's language, the session cookie, the CSRF check of a POST,
the redirect after one.

The portal's pages send the Referer to ourselves only (``Referrer-Policy:
same-origin``, ``PORTAL_HEADERS``): a POST's ``Origin`` (or, when a browser
sends none, its ``Referer``) must be the public URL's origin, and
``no-referrer`` would make browsers send ``Origin: null`` with our own forms.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from litestar import Response
from litestar.datastructures import Cookie
from litestar.enums import MediaType
from sqlmodel.ext.asyncio.session import AsyncSession

from service.models import Contact
from service.portal import links
from service.portal.texts import LANGUAGES, PAGE_TEXT
from service.public_pages import HEADERS, PublicRequest, browser_language, render, settings_of
from service.settings import Settings

COOKIE = "consentry_portal"
PORTAL_HEADERS = {**HEADERS, "Referrer-Policy": "same-origin"}


def language(request: PublicRequest, contact: Contact | None = None) -> str:
    """``?lang=``, else the contact's own, else the browser's first of ours."""
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return str(asked)
    if contact is not None:
        return contact.language.value
    return browser_language(request)


def page(
    request: PublicRequest,
    name: str,
    lang: str,
    *,
    title: str,
    status: int = 200,
    cookies: list[Cookie] | None = None,
    **values: Any,
) -> Response[str]:
    text = PAGE_TEXT[lang]
    return render(
        request,
        name,
        lang=lang,
        text=text,
        title=text[title],
        status=status,
        headers=PORTAL_HEADERS,
        cookies=cookies or (),
        **values,
    )


def message(request: PublicRequest, lang: str, key: str, status: int) -> Response[str]:
    """A page that says one thing and links back to ``/me``."""
    title = "invalid_title" if key in {"invalid", "ended", "forbidden"} else "start_title"
    return page(request, "portal_message", lang, title=title, status=status, message=key)


def cookie(settings: Settings, token: str | None) -> Cookie:
    return Cookie(
        key=COOKIE,
        value=token or "",
        path="/me",
        httponly=True,
        secure=settings.public_url.startswith("https://"),
        samesite="strict",
        max_age=int(links.LIFETIME.total_seconds()) if token else 0,
    )


def from_our_pages(request: PublicRequest) -> bool:
    """The CSRF check of a POST: it came from a page of the public URL."""
    parts = urlsplit(settings_of(request).public_url)
    ours = f"{parts.scheme}://{parts.netloc}"
    origin = request.headers.get("origin")
    if origin is not None:
        return origin == ours
    referer = request.headers.get("referer")
    return referer is not None and (referer == ours or referer.startswith(ours + "/"))


def field(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def redirect(location: str, *, cookies: list[Cookie] | None = None) -> Response[str]:
    return Response(
        "",
        status_code=303,
        headers={**PORTAL_HEADERS, "Location": location},
        cookies=cookies or [],
        media_type=MediaType.HTML,
    )


async def refusal(
    request: PublicRequest, db_session: AsyncSession
) -> Response[str] | tuple[Contact, str]:
    """The session's contact and language for a POST, or the page refusing it."""
    if not from_our_pages(request):
        return message(request, language(request), "forbidden", 403)
    try:
        _link, contact = await links.current(db_session, request.cookies.get(COOKIE))
    except links.Ended:
        return message(request, language(request), "ended", 401)
    return contact, language(request, contact)
