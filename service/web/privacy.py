"""``/app/privacy``: the privacy officer's pages (``rights:manage``).

The requests register with its deadlines (service.requests) and the sizes of
the registers (service.rights.service, the API's ``GET /contacts/register-sizes``),
each request's page with what the API lets be done to it (verify, extend,
link, close), and the retention plan for a chosen date (service.retention.plan,
the same plan ``consentry retention plan --as-of`` prints). The register shows
who asked, so reading it is recorded as the API's ``GET /requests`` is
(``request.list``).
"""

from __future__ import annotations

from datetime import date
from itertools import groupby
from typing import Any, TypeVar

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from pydantic import BaseModel, ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock, rules
from service.audit import trail
from service.auth.middleware import requires
from service.auth.permissions import Permission
from service.auth.service import Principal
from service.errors import DomainError, NotFound
from service.i18n import _, format_date, label, ngettext
from service.labels import N_
from service.models.enums import RequestChannel, RequestStatus, RequestType, VerificationMethod
from service.requests import deadlines
from service.requests import service as requests
from service.requests.schemas import (
    ExtensionCreate,
    RequestClose,
    RequestCreate,
    RequestUpdate,
    VerificationCreate,
)
from service.retention.cli import parse_as_of
from service.retention.plan import plan
from service.retention.schemas import Action, SkipReason
from service.rights import service as rights
from service.settings import Settings
from service.web import messages
from service.web.render import page
from service.web.session import redirect, verified_form

Session = NamedDependency[AsyncSession]
StaffRequest = Request[Principal, Any, Any]
HOME = "/app/privacy"
PAGE_SIZE = 50
# "Due soon": the register flags open requests due within this many days.
SOON_DAYS = deadlines.DUE_SOON_DAYS
# The register's views: a name in the URL (not personal), the words shown for
# it (translated when shown; "due_soon" names its days, see _view_words) and
# the service's filters.
VIEWS: dict[str, tuple[str, dict[str, Any]]] = {
    "open": (N_("Open"), {"status": RequestStatus.OPEN}),
    "due_soon": ("", {"due_within_days": SOON_DAYS}),
    "overdue": (N_("Overdue"), {"overdue": True}),
    "done": (N_("Handled"), {"status": RequestStatus.DONE}),
    "refused": (N_("Refused"), {"status": RequestStatus.REFUSED}),
    "all": (N_("All"), {}),
}
# What a request's step records (service.requests: the RequestAction rows),
# in words; a code without words is shown as it is.
ACTION_WORDS = {
    "verified": N_("Identity verified"),
    "extended": N_("Deadline extended"),
    "closed": N_("Closed"),
    "access": N_("Data given (access)"),
    "portability": N_("Data handed over (portability)"),
    "rectification": N_("Data rectified"),
    "erasure": N_("Data erased"),
    "restriction": N_("Processing restricted"),
    "restriction_lifted": N_("Restriction lifted"),
    "objection": N_("Objection recorded"),
    "objection_decided": N_("Objection decided"),
    "withdrawal": N_("Consent withdrawn"),
}
# The retention plan's actions and reasons for skipping, in words.
PLAN_ACTION_WORDS = {
    Action.ERASE: N_("Erase the contact"),
    Action.TRANSFER: N_("Transfer the profile"),
    Action.DESTROY: N_("Destroy the profile"),
    Action.SEND_TRANSFER_NOTICE: N_("Send the transfer notice"),
    Action.DELETE: N_("Delete"),
}
SKIP_WORDS = {
    SkipReason.LEGAL_HOLD: N_("legal hold"),
    SkipReason.RESTRICTED: N_("processing restricted"),
    SkipReason.NO_REACHABLE_EMAIL: N_("no reachable email address"),
    SkipReason.HANDOVER_NOT_CONFIGURED: N_("handover not configured"),
}
_MAX_FIELD = 4000
Schema = TypeVar("Schema", bound=BaseModel)


def _form_values(form: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The named fields of a posted form; an empty field is an absent one."""
    values: dict[str, Any] = {}
    for name in names:
        value = form.get(name)
        if isinstance(value, str) and value.strip():
            values[name] = value[:_MAX_FIELD]
    return values


def _parse(schema: type[Schema], values: dict[str, Any]) -> Schema:
    try:
        return schema.model_validate(values)
    except ValidationError as error:
        raise _FormInvalid(messages.field_errors(error, whole="form")) from None


class _FormInvalid(DomainError):
    status_code = 422

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__(_("Some fields need fixing; nothing was saved."), fields=fields)


def _flag(row: Any) -> tuple[str, str] | None:
    """The register's warning for a row: (css class, words), or None."""
    if row.status is not RequestStatus.OPEN:
        if row.answered_in_time is False:
            return ("late", _("answered late"))
        return None
    if row.overdue:
        days = -(row.days_left or 0)
        return (
            "overdue",
            ngettext("overdue by %(n)s day", "overdue by %(n)s days", days) % {"n": days},
        )
    if row.days_left is not None and row.days_left <= SOON_DAYS:
        if row.days_left == 0:
            return ("soon", _("due today"))
        days = row.days_left
        return ("soon", ngettext("due in %(n)s day", "due in %(n)s days", days) % {"n": days})
    return None


def _labels(enum: Any) -> list[tuple[str, str]]:
    """An enum's (code, words) pairs for a select, in the language of the moment."""
    return [(member.value, label(enum, member)) for member in enum]


def _view_words(name: str) -> str:
    if name == "due_soon":
        return ngettext("Due within %(n)s day", "Due within %(n)s days", SOON_DAYS) % {
            "n": SOON_DAYS
        }
    return _(VIEWS[name][0])


def _words(table: dict[Any, str]) -> dict[str, str]:
    """A table of words (marked N_) by code, translated now."""
    return {str(code): _(words) for code, words in table.items()}


async def _detail_page(
    request: StaffRequest,
    db_session: AsyncSession,
    request_id: int,
    *,
    error: str | None = None,
    fields: dict[str, str] | None = None,
    form: str | None = None,
    status: int = 200,
) -> Response[str]:
    try:
        row = await requests.get(db_session, request_id)
    except NotFound as missing:
        return page(
            request,
            "privacy/missing",
            title=_("No such request"),
            status=404,
            detail=messages.refusal(missing),
        )
    trail.note(db_session, request, action="request.read", status_code=status)
    trail.annotate(db_session, contact_id=row.contact_id)
    detail = await requests.to_detail(db_session, row)
    return page(
        request,
        "privacy/request",
        title=_("Request %(id)s: %(kind)s")
        % {"id": detail.id, "kind": label(RequestType, detail.type)},
        status=status,
        item=detail,
        flag=_flag(detail),
        may_extend=detail.extended_due_on is None
        and deadlines.may_extend(detail.due_on, clock.today()),
        methods=_labels(VerificationMethod),
        error=error,
        fields=fields or {},
        form=form,
        done=request.query_params.get("done"),
        action_words=_words(ACTION_WORDS),
    )


def _new_page(
    request: StaffRequest,
    *,
    values: dict[str, Any] | None = None,
    error: str | None = None,
    fields: dict[str, str] | None = None,
    status: int = 200,
) -> Response[str]:
    return page(
        request,
        "privacy/new_request",
        title=_("New data-subject request"),
        status=status,
        types=_labels(RequestType),
        channels=_labels(RequestChannel),
        values=values or {"received_on": clock.today().isoformat()},
        today=clock.today().isoformat(),
        error=error,
        fields=fields or {},
    )


class PrivacyController(Controller):
    path = HOME
    include_in_schema = False
    guards = [requires(Permission.RIGHTS_MANAGE)]

    @get("/")
    async def register(self, request: StaffRequest, db_session: Session) -> Response[str]:
        """The requests register, the most urgent first, with the register's sizes."""
        show = request.query_params.get("show", "open")
        if show not in VIEWS:
            show = "open"
        try:
            offset = max(0, int(request.query_params.get("offset", "0")))
        except ValueError:
            offset = 0
        rows, total = await requests.list_(
            db_session, **VIEWS[show][1], limit=PAGE_SIZE, offset=offset
        )
        items = requests.page(rows, total, limit=PAGE_SIZE, offset=offset).items
        _rows, overdue = await requests.list_(db_session, overdue=True, limit=1, offset=0)
        _rows, due_soon = await requests.list_(
            db_session, due_within_days=SOON_DAYS, limit=1, offset=0
        )
        trail.note(db_session, request, action="request.list", status_code=200)
        trail.annotate(db_session, entries=len(items))
        return page(
            request,
            "privacy/register",
            title=_("Privacy"),
            views=[(name, _view_words(name)) for name in VIEWS],
            show=show,
            rows=[(item, _flag(item)) for item in items],
            total=total,
            offset=offset,
            page_size=PAGE_SIZE,
            overdue=overdue,
            due_soon=due_soon,
            soon_days=SOON_DAYS,
            sizes=await rights.register_sizes(db_session),
        )

    @get("/requests/new")
    async def new_request_form(self, request: StaffRequest) -> Response[str]:
        return _new_page(request)

    @post("/requests", status_code=200)
    async def create_request(self, request: StaffRequest, db_session: Session) -> Response[Any]:
        """Register a request; its due date follows from the day it arrived."""
        form = await verified_form(request)
        values = _form_values(
            form, ("type", "channel", "received_on", "contact_id", "requester", "description")
        )
        try:
            row = await requests.create(
                db_session, data=_parse(RequestCreate, values), user_id=request.user.user_id
            )
        except DomainError as refusal:
            await db_session.rollback()
            return _new_page(
                request,
                values=values,
                error=messages.refusal(refusal),
                fields=refusal.fields,
                status=refusal.status_code,
            )
        trail.note(db_session, request, action="request.create", status_code=303)
        trail.annotate(db_session, contact_id=row.contact_id, request_id=row.id)
        return redirect(f"{HOME}/requests/{row.id}?done=created")

    @get("/requests/{request_id:int}")
    async def request_page(
        self, request: StaffRequest, db_session: Session, request_id: FromPath[int]
    ) -> Response[str]:
        """One request: its deadlines, what was done, and what can be done next."""
        return await _detail_page(request, db_session, request_id)

    @post("/requests/{request_id:int}/{step:str}", status_code=200)
    async def act(
        self,
        request: StaffRequest,
        db_session: Session,
        request_id: FromPath[int],
        step: FromPath[str],
    ) -> Response[Any]:
        """verification, extension, link (to a contact), close or confirm-ban, as
        the API's routes."""
        form = await verified_form(request)
        if step not in _STEPS:
            return await _detail_page(
                request, db_session, request_id, error=_("Unknown action."), status=404
            )
        try:
            row = await requests.get(db_session, request_id)
            await _STEPS[step](db_session, row, form, request.user.user_id)
        except NotFound as missing:
            await db_session.rollback()
            return page(
                request,
                "privacy/missing",
                title=_("No such request"),
                status=404,
                detail=messages.refusal(missing),
            )
        except DomainError as refusal:
            await db_session.rollback()
            return await _detail_page(
                request,
                db_session,
                request_id,
                error=messages.refusal(refusal),
                fields=refusal.fields,
                form=step,
                status=refusal.status_code,
            )
        trail.note(db_session, request, action=f"request.{_ACTIONS[step]}", status_code=303)
        trail.annotate(db_session, contact_id=row.contact_id)
        return redirect(f"{HOME}/requests/{request_id}?done={step}")

    @get("/retention")
    async def retention_plan(self, request: StaffRequest, db_session: Session) -> Response[str]:
        """What the retention rules call for on a date, grouped by rule; changes nothing."""
        settings: Settings = request.app.state.settings
        raw = request.query_params.get("as_of") or None
        try:
            as_of = parse_as_of(raw)
        except ValueError:
            return page(
                request,
                "privacy/retention",
                title=_("Retention plan"),
                status=422,
                plan=None,
                groups=[],
                as_of=raw or "",
                error=_as_of_error(raw),
            )
        found = await plan(db_session, as_of=as_of, settings=settings)
        groups = [(rule, list(items)) for rule, items in groupby(found.items, lambda i: i.rule)]
        return page(
            request,
            "privacy/retention",
            title=_("Retention plan"),
            plan=found,
            groups=groups,
            as_of=as_of.isoformat(),
            error=None,
            action_words=_words(PLAN_ACTION_WORDS),
            skip_words=_words(SKIP_WORDS),
        )


def _as_of_error(raw: str | None) -> str:
    """Why ``raw`` is no day to plan for (parse_as_of refused it), in words."""
    try:
        date.fromisoformat(raw or "")
    except ValueError:
        return _("Not a date: write it as YYYY-MM-DD.")
    return _("Give a day from %(first)s to %(last)s.") % {
        "first": format_date(rules.EARLIEST_AS_OF),
        "last": format_date(rules.LATEST_AS_OF),
    }


async def _verify(session: AsyncSession, row: Any, form: dict[str, Any], user: int) -> None:
    data = _parse(VerificationCreate, _form_values(form, ("method",)) or {"method": ""})
    await requests.verify(session, request=row, method=data.method, user_id=user)


async def _extend(session: AsyncSession, row: Any, form: dict[str, Any], user: int) -> None:
    data = _parse(ExtensionCreate, _form_values(form, ("reason", "months")))
    await requests.extend(session, request=row, data=data, user_id=user)


async def _link(session: AsyncSession, row: Any, form: dict[str, Any], user: int) -> None:
    contact_id = _form_values(form, ("contact_id",)).get("contact_id")
    if contact_id is None:
        raise _FormInvalid({"contact_id": _("give the id of the contact the request is about")})
    data = _parse(RequestUpdate, {"contact_id": contact_id})
    await requests.update(session, request=row, data=data)


async def _close(session: AsyncSession, row: Any, form: dict[str, Any], user: int) -> None:
    data = _parse(RequestClose, _form_values(form, ("status", "outcome")))
    await requests.close(session, request=row, data=data, user_id=user)


async def _confirm_ban(session: AsyncSession, row: Any, form: dict[str, Any], user: int) -> None:
    await rights.confirm_ban(session, request=row, user_id=user)


_STEPS = {
    "verification": _verify,
    "extension": _extend,
    "link": _link,
    "close": _close,
    "confirm-ban": _confirm_ban,
}
# The audit action of each step: the names the API's routes derive.
_ACTIONS = {
    "verification": "verification",
    "extension": "extension",
    "link": "update",
    "close": "close",
    "confirm-ban": "confirm_ban",
}
