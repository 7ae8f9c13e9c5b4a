"""The ``/app`` router: the staff pages, their session middleware and their
error pages (a page needing a login sends the browser to the login form; a
role without the page's permission gets a page saying so, not JSON)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response, Router, get
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.static_files import create_static_files_router

from service.auth.cookies import session_token
from service.i18n import _, gettext
from service.web.audit_pages import AuditPageController
from service.web.breaches import BreachPages
from service.web.call_lists import CallListController
from service.web.campaign_send import SendingPages
from service.web.campaign_stats import StatisticsPages
from service.web.campaigns import CampaignPages
from service.web.contact_actions import ContactActionsController
from service.web.contact_edit import ContactEditController
from service.web.contact_rights import ContactRightsController
from service.web.contacts import ContactPagesController
from service.web.exports import ExportPages
from service.web.forms import FormPages
from service.web.imports import ImportPages
from service.web.layouts import LayoutPages
from service.web.login import LOGIN, LoginController, LogoutController
from service.web.pages import HomeController, root
from service.web.privacy import PrivacyController
from service.web.recipient_tasks import RecipientTaskPages
from service.web.render import HEADERS, STATIC, page
from service.web.robinson import RobinsonPages
from service.web.session import FORM_EXPIRED, FROM_ANOTHER_SITE, SessionMiddleware, redirect
from service.web.staff import SetPasswordPage, StaffPages
from service.web.suppressions import SuppressionPages


def _to_login(request: Request[Any, Any, Any], _: NotAuthorizedException) -> Response[Any]:
    target = f"{LOGIN}?next={quote(request.url.path, safe='/')}"
    if session_token(request):
        target += "&session=expired"  # a cookie, but no live session behind it
    return redirect(target)


_LACKS = "your role lacks the permission "  # service.auth.middleware's refusal


def _refusal_words(detail: str) -> str:
    """The refusal's sentence in the page's language."""
    if detail in (FORM_EXPIRED, FROM_ANOTHER_SITE):
        return gettext(detail)
    if detail.startswith(_LACKS):
        permission = detail.removeprefix(_LACKS)
        return _("Your role lacks the permission %(permission)s.") % {"permission": permission}
    return f"{detail[:1].upper()}{detail[1:]}."


def _forbidden(request: Request[Any, Any, Any], exc: PermissionDeniedException) -> Response[Any]:
    return page(
        request,
        "forbidden",
        title=_("Not for your role"),
        status=403,
        detail=_refusal_words(exc.detail),
    )


@get("/favicon.ico", include_in_schema=False, sync_to_thread=False)
def favicon() -> Response[bytes]:
    """The icon a browser asks for by itself, on any page (the pages link
    /app/static/favicon.svg): no page of the service logs a missing favicon."""
    return Response(
        (STATIC / "favicon.ico").read_bytes(),
        media_type="image/x-icon",
        headers={"Cache-Control": "public, max-age=86400"},
    )


def web_router() -> Router:
    static = create_static_files_router(
        path="/app/static",
        directories=[STATIC],
        include_in_schema=False,
        name="web-static",
        after_request=None,
    )
    return Router(
        path="/",
        route_handlers=[
            LoginController,
            LogoutController,
            root,
            HomeController,
            ContactPagesController,
            ContactActionsController,
            ContactEditController,
            ContactRightsController,
            CallListController,
            PrivacyController,
            BreachPages,
            RecipientTaskPages,
            AuditPageController,
            CampaignPages,
            LayoutPages,
            SendingPages,
            StatisticsPages,
            FormPages,
            StaffPages,
            SetPasswordPage,
            ImportPages,
            ExportPages,
            RobinsonPages,
            SuppressionPages,
            favicon,
            static,
        ],
        middleware=[SessionMiddleware()],
        exception_handlers={
            NotAuthorizedException: _to_login,
            PermissionDeniedException: _forbidden,
        },
        response_headers={"X-Robots-Tag": HEADERS["X-Robots-Tag"]},
        include_in_schema=False,
    )
