"""The layout pages of ``/app``: saved MJML layouts, listed, written and
edited, through the same service as ``/api/v1/layouts``. An MJML error shows
next to the field."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get, post
from litestar.params import FromPath
from pydantic import ValidationError

from service.audit import trail
from service.auth.middleware import requires
from service.auth.permissions import Permission
from service.campaigns import layouts
from service.campaigns.layouts import LayoutIn, LayoutUpdate
from service.errors import DomainError, NotFound
from service.i18n import _
from service.models import Layout
from service.web import messages
from service.web.campaign_stats import Session, StaffRequest, not_found
from service.web.render import page
from service.web.session import redirect, verified_form

BASE = "/app/layouts"
READ = [requires(Permission.CAMPAIGNS_READ)]
WRITE = [requires(Permission.CAMPAIGNS_WRITE)]


def _errors(exc: ValidationError | DomainError) -> dict[str, str]:
    if isinstance(exc, DomainError):
        return messages.problems(exc)
    return messages.field_errors(exc)


def _form_page(
    request: StaffRequest,
    *,
    layout: Layout | None,
    form: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
) -> Response[str]:
    return page(
        request,
        "layouts/form",
        title=_("Edit the layout") if layout else _("New layout"),
        status=status,
        layout=layout,
        form=form,
        errors=errors,
    )


class LayoutPages(Controller):
    path = BASE
    include_in_schema = False
    exception_handlers = {NotFound: not_found}

    @get("/", guards=READ)
    async def list_layouts(self, request: StaffRequest, db_session: Session) -> Response[str]:
        found = await layouts.list_(db_session)
        return page(
            request,
            "layouts/list",
            title=_("Layouts"),
            layouts=found,
            has_default=any(layout.name == layouts.DEFAULT_NAME for layout in found),
            default_name=layouts.DEFAULT_NAME,
        )

    @post("/default", guards=WRITE, status_code=200)
    async def add_default(self, request: StaffRequest, db_session: Session) -> Response[Any]:
        await verified_form(request)
        layout = await layouts.ensure_default(db_session, user_id=request.user.user_id)
        return redirect(f"{BASE}/{layout.id}")

    @get("/new", guards=WRITE)
    async def new_form(self, request: StaffRequest) -> Response[str]:
        form = {"name": "", "mjml": layouts.default_mjml()}
        return _form_page(request, layout=None, form=form, errors={})

    @post("/new", guards=WRITE, status_code=200)
    async def create(self, request: StaffRequest, db_session: Session) -> Response[Any]:
        form = await verified_form(request)
        try:
            data = LayoutIn.model_validate(
                {"name": form.get("name", ""), "mjml": form.get("mjml", "")}
            )
            layout = await layouts.create(db_session, data=data, user_id=request.user.user_id)
        except (ValidationError, DomainError) as exc:
            status = exc.status_code if isinstance(exc, DomainError) else 422
            return _form_page(request, layout=None, form=form, errors=_errors(exc), status=status)
        trail.note(db_session, request, action="layout.create", status_code=303)
        return redirect(f"{BASE}/{layout.id}?saved=1")

    @get("/{layout_id:int}", guards=READ)
    async def edit_form(
        self, request: StaffRequest, db_session: Session, layout_id: FromPath[int]
    ) -> Response[str]:
        layout = await layouts.get(db_session, layout_id)
        form = {"name": layout.name, "mjml": layout.mjml}
        return _form_page(request, layout=layout, form=form, errors={})

    @post("/{layout_id:int}", guards=WRITE, status_code=200)
    async def save(
        self, request: StaffRequest, db_session: Session, layout_id: FromPath[int]
    ) -> Response[Any]:
        form = await verified_form(request)
        layout = await layouts.get(db_session, layout_id)
        try:
            data = LayoutUpdate.model_validate(
                {"name": form.get("name", ""), "mjml": form.get("mjml", "")}
            )
            await layouts.update(db_session, layout=layout, data=data)
        except (ValidationError, DomainError) as exc:
            await db_session.rollback()
            layout = await layouts.get(db_session, layout_id)
            status = exc.status_code if isinstance(exc, DomainError) else 422
            return _form_page(request, layout=layout, form=form, errors=_errors(exc), status=status)
        trail.note(db_session, request, action="layout.update", status_code=303)
        return redirect(f"{BASE}/{layout_id}?saved=1")
