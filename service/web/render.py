"""Rendering the staff pages under ``/app`` (templates/web/app/).

Every page gets the signed-in principal (or None), its CSRF token for forms,
and the same strict headers: scripts, styles and images only from this
origin, forms only to it, frames only from it (the email preview, which has
a policy of its own), never framed, nothing cached.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.enums import MediaType

from service import i18n
from service.auth.cookies import CSRF_FIELD, csrf_for, session_token
from service.auth.permissions import Permission
from service.auth.service import Principal
from service.settings import Settings
from service.web import messages

PAGES = Path(__file__).resolve().parents[2] / "templates" / "web" / "app"
STATIC = Path(__file__).resolve().parents[2] / "templates" / "web" / "static"
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-src 'self'; form-action 'self'; base-uri 'none'; "
        "frame-ancestors 'none'"
    ),
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
}

_pages = jinja2.Environment(
    loader=jinja2.FileSystemLoader(PAGES),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
i18n.install(_pages)
# A service's English message (an import line's problem) in the page's language.
_pages.filters["words"] = messages.words
_pages.filters["row_words"] = messages.row_words


def principal_of(request: Request[Any, Any, Any]) -> Principal | None:
    user = request.scope.get("user")
    return user if isinstance(user, Principal) else None


class Verbatim(str):
    """A page title that is the register's own data (a campaign's name, an
    address), shown as it is: never looked up in the catalog, where a
    campaign named "Contacts" would otherwise come out as "Yhteystiedot"."""

    __slots__ = ()


def page(
    request: Request[Any, Any, Any],
    name: str,
    *,
    title: str,
    status: int = 200,
    cookies: list[Cookie] | None = None,
    language: str | None = None,
    **values: Any,
) -> Response[str]:
    """The page ``name`` in the signed-in member's language; before sign-in,
    in ``language`` when the page knows whose it is (the second factor of a
    password just given, a set-password link), else the browser's."""
    settings: Settings = request.app.state.settings
    token = session_token(request)
    principal = principal_of(request)
    language = page_language(request, language)
    with i18n.use(language):
        html = _render(
            name,
            title=title if not title or isinstance(title, Verbatim) else i18n.gettext(title),
            me=principal,
            csrf_field=CSRF_FIELD,
            csrf_token=csrf_for(settings, token) if token else "",
            controller_name=settings.controller_name,
            path=request.url.path,
            can=lambda permission: principal is not None and principal.can(Permission(permission)),
            **values,
        )
    return Response(
        html, status_code=status, media_type=MediaType.HTML, headers=HEADERS, cookies=cookies
    )


def page_language(request: Request[Any, Any, Any], known: str | None = None) -> str:
    """The language a page speaks: the signed-in member's; before sign-in,
    ``known`` (the account's, when the page knows it), else the browser's."""
    principal = principal_of(request)
    if principal is not None:
        return i18n.pick(principal.language)
    if known is not None:
        return i18n.pick(known)
    return i18n.best_match(request.headers.get("accept-language"))


def _render(name: str, **values: Any) -> str:
    return _pages.get_template(f"{name}.html.j2").render(**values)
