"""The signed-in pages of ``/app`` that are not about one domain: home (the
register's health, service.dashboard) and account; and ``/``, which leads to
``/app``."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from sqlmodel.ext.asyncio.session import AsyncSession

from service import i18n
from service.audit import trail
from service.auth import login
from service.auth import service as auth_service
from service.auth.service import Principal
from service.dashboard import service as dashboard
from service.errors import InvalidInput
from service.i18n import _
from service.settings import Settings
from service.web.charts import WIDTH, consent_chart
from service.web.render import page
from service.web.session import redirect, signed_in, verified_form

Session = NamedDependency[AsyncSession]
StaffRequest = Request[Principal, Any, Any]


class HomeController(Controller):
    path = "/app"
    include_in_schema = False
    guards = [signed_in]

    @get("/")
    async def home(self, request: StaffRequest, db_session: Session) -> Response[str]:
        """The register's health, as much of it as the member's role may see."""
        figures = await dashboard.overview(db_session, can=request.user.can)
        chart = None
        if figures.people is not None:
            with i18n.use(request.user.language):
                words = {
                    "title": _("Consents granted and withdrawn"),
                    "summary": _("Consent grants and withdrawals recorded per week."),
                    "week": _("Week from"),
                    "granted": _("Granted"),
                    "withdrawn": _("Withdrawn"),
                }
            chart = consent_chart(figures.people.consents, words=words)
        return page(request, "home", title="Consentry", figures=figures, chart=chart, width=WIDTH)

    @get("/account")
    async def account(self, request: StaffRequest, db_session: Session) -> Response[str]:
        left = await login.unused_recovery_codes(db_session, user_id=request.user.user_id)
        return page(
            request,
            "account",
            title=_("Your account"),
            recovery_left=left,
            recovery_used=request.query_params.get("recovery_used") == "1",
            language_saved=request.query_params.get("language_saved") == "1",
        )

    @post("/account/language", status_code=303)
    async def choose_language(self, request: StaffRequest, db_session: Session) -> Response[Any]:
        """The member's language for these pages, from the next page on."""
        form = await verified_form(request)
        try:
            await auth_service.set_language(
                db_session, user_id=request.user.user_id, language=form.get("language")
            )
        except InvalidInput:
            left = await login.unused_recovery_codes(db_session, user_id=request.user.user_id)
            return page(
                request,
                "account",
                title=_("Your account"),
                status=422,
                recovery_left=left,
                recovery_used=False,
                language_error=_("Choose one of the languages."),
            )
        trail.note(db_session, request, action="user.language", status_code=303)
        return redirect("/app/account?language_saved=1")

    @post("/account/recovery-codes", status_code=200)
    async def new_recovery_codes(self, request: StaffRequest, db_session: Session) -> Response[str]:
        """New recovery codes, shown once; the old ones stop working."""
        await verified_form(request)
        settings: Settings = request.app.state.settings
        codes = await login.replace_recovery_codes(
            db_session, user_id=request.user.user_id, settings=settings
        )
        trail.note(db_session, request, action="recovery_codes.replace", status_code=200)
        return page(
            request,
            "recovery_codes",
            title=_("Your recovery codes"),
            codes=codes,
            next="/app/account",
        )


@get("/", include_in_schema=False, sync_to_thread=False)
def root() -> Response[None]:
    """``/`` is the staff pages' door: ``/app``, which sends a browser without
    a session on to the sign-in form."""
    return redirect("/app")
