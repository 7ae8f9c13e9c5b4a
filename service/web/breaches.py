"""``/app/breaches``: the breach register (``breaches:manage``), the same
service the API's ``/api/v1/breaches`` calls (service.breaches).

The register lists breaches with the authority's deadline and the
``due_soon``/``overdue`` flags; a breach's page is its edit form. Times are
typed in Helsinki time. Each change is recorded in the audit trail as the
API's are (``breach.create``, ``breach.update``).
"""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.audit import trail
from service.auth.middleware import requires
from service.auth.permissions import Permission
from service.auth.service import Principal
from service.breaches import service as breaches
from service.breaches.schemas import BreachCreate, BreachRead, BreachUpdate, local_moment
from service.errors import DomainError, NotFound
from service.i18n import _, format_number, label
from service.labels import N_
from service.models.enums import BreachRisk
from service.web import messages
from service.web.privacy import _form_values, _parse
from service.web.render import page
from service.web.session import redirect, verified_form

Session = NamedDependency[AsyncSession]
StaffRequest = Request[Principal, Any, Any]
HOME = "/app/breaches"
PAGE_SIZE = 100
VIEWS: dict[str, tuple[str, dict[str, Any]]] = {
    "open": (N_("Not closed"), {"open_": True}),
    "overdue": (N_("Overdue"), {"overdue": True}),
    "all": (N_("All"), {}),
}
_TEXTS = (
    "nature",
    "likely_consequences",
    "measures",
    "authority_reference",
    "delay_reason",
    "not_notified_reason",
    "people_informed_how",
)
_TIMES = (
    "discovered_at",
    "occurred_at",
    "authority_notified_at",
    "people_informed_at",
    "closed_at",
)
_COUNTS = ("approx_people", "approx_records")
_LISTS = ("data_categories", "people_categories")
FIELDS = (*_TEXTS, *_TIMES, *_COUNTS, *_LISTS, "risk")


def _values(form: dict[str, Any]) -> dict[str, Any]:
    """The form as the schema takes it: an empty field is absent; times in
    Helsinki time; categories separated by commas."""
    values = _form_values(form, FIELDS)
    for name in _TIMES:
        if name in values:
            # Not a time: left as typed, for the schema to name the field.
            with suppress(ValueError):
                values[name] = local_moment(values[name])
    for name in _LISTS:
        if name in values:
            values[name] = [part for part in values[name].split(",") if part.strip()]
    return values


def _as_form(item: BreachRead | None) -> dict[str, str]:
    """A stored breach as the form shows it."""
    if item is None:
        return {"discovered_at": _local_input(clock.now()), "risk": BreachRisk.RISK.value}
    shown: dict[str, str] = {}
    for name, value in item.model_dump().items():
        if value is None:
            continue
        if isinstance(value, datetime):
            shown[name] = _local_input(value)
        elif isinstance(value, list):
            shown[name] = ", ".join(value)
        else:
            shown[name] = str(value.value if hasattr(value, "value") else value)
    return shown


def _local_input(moment: datetime) -> str:
    return moment.astimezone(clock.LOCAL_ZONE).strftime("%Y-%m-%dT%H:%M")


def _flag(item: BreachRead) -> tuple[str, str] | None:
    if item.overdue:
        hours = -(item.hours_left or 0)
        return ("overdue", _("authority overdue by %(hours)s h") % {"hours": format_number(hours)})
    if item.due_soon:
        hours = item.hours_left or 0
        return ("soon", _("authority due in %(hours)s h") % {"hours": format_number(hours)})
    if item.people_to_inform:
        return ("soon", _("inform the people (high risk)"))
    return None


def _form_page(
    request: StaffRequest,
    *,
    item: BreachRead | None,
    values: dict[str, Any],
    error: str | None = None,
    fields: dict[str, str] | None = None,
    status: int = 200,
) -> Response[str]:
    return page(
        request,
        "breaches/breach",
        title=_("Breach %(id)s") % {"id": item.id} if item else _("Document a breach"),
        status=status,
        item=item,
        flag=_flag(item) if item else None,
        values=values,
        risks=[(risk.value, label(BreachRisk, risk)) for risk in BreachRisk],
        now=_local_input(clock.now()),
        error=error,
        fields=fields or {},
        done=request.query_params.get("done"),
    )


def _posted(form: dict[str, Any]) -> dict[str, str]:
    return {name: str(form.get(name, ""))[:4000] for name in FIELDS}


class BreachPages(Controller):
    path = HOME
    include_in_schema = False
    guards = [requires(Permission.BREACHES_MANAGE)]

    @get("/")
    async def register(self, request: StaffRequest, db_session: Session) -> Response[str]:
        """Breaches, those the authority is still to be told of first."""
        show = request.query_params.get("show", "open")
        if show not in VIEWS:
            show = "open"
        rows, total = await breaches.list_(db_session, **VIEWS[show][1], limit=PAGE_SIZE, offset=0)
        items = [breaches.to_read(row) for row in rows]
        overdue, due_soon = await breaches.counts(db_session)
        return page(
            request,
            "breaches/register",
            title=_("Breaches"),
            views=[(name, _(words)) for name, (words, _filters) in VIEWS.items()],
            show=show,
            rows=[(item, _flag(item)) for item in items],
            total=total,
            overdue=overdue,
            due_soon=due_soon,
        )

    @get("/new")
    async def new_breach(self, request: StaffRequest) -> Response[str]:
        return _form_page(request, item=None, values=_as_form(None))

    @post("/", status_code=200)
    async def create_breach(self, request: StaffRequest, db_session: Session) -> Response[Any]:
        form = await verified_form(request)
        try:
            data = _parse(BreachCreate, _values(form))
            row = await breaches.create(db_session, data=data, user_id=request.user.user_id)
        except DomainError as refusal:
            await db_session.rollback()
            return _form_page(
                request,
                item=None,
                values=_posted(form),
                error=messages.refusal(refusal),
                fields=refusal.fields,
                status=refusal.status_code,
            )
        trail.note(db_session, request, action="breach.create", status_code=303)
        trail.annotate(db_session, breach_id=row.id)
        return redirect(f"{HOME}/{row.id}?done=created")

    @get("/{breach_id:int}")
    async def breach_page(
        self, request: StaffRequest, db_session: Session, breach_id: FromPath[int]
    ) -> Response[str]:
        try:
            item = breaches.to_read(await breaches.get(db_session, breach_id))
        except NotFound as missing:
            return page(
                request, "privacy/missing", title=_("No such breach"), status=404,
                detail=messages.refusal(missing),
            )  # fmt: skip
        return _form_page(request, item=item, values=_as_form(item))

    @post("/{breach_id:int}", status_code=200)
    async def update_breach(
        self, request: StaffRequest, db_session: Session, breach_id: FromPath[int]
    ) -> Response[Any]:
        """The whole form: an emptied field clears it."""
        form = await verified_form(request)
        try:
            row = await breaches.get(db_session, breach_id)
        except NotFound as missing:
            return page(
                request, "privacy/missing", title=_("No such breach"), status=404,
                detail=messages.refusal(missing),
            )  # fmt: skip
        given = _values(form)
        values = {name: given.get(name) for name in FIELDS}
        try:
            data = _parse(BreachUpdate, values)
            row = await breaches.update(db_session, breach=row, data=data)
        except DomainError as refusal:
            await db_session.rollback()
            item = breaches.to_read(await breaches.get(db_session, breach_id))
            return _form_page(
                request,
                item=item,
                values=_posted(form),
                error=messages.refusal(refusal),
                fields=refusal.fields,
                status=refusal.status_code,
            )
        trail.note(db_session, request, action="breach.update", status_code=303)
        trail.annotate(db_session, breach_id=row.id)
        return redirect(f"{HOME}/{breach_id}?done=updated")
