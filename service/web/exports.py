"""``/app/exports``: the contact export of ``GET /api/v1/contacts/export.csv``
(and ``.json``) from the browser.

The download is a POST (the filters, an email address among them, travel in
the body, never in a URL) that streams the very export the API route
streams, with the same scope (the refused left out unless the role holds
contacts:export_excluded), headers and audit row: ``contact.export`` with
which filters were set and how many people, never who.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.response import Stream
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit import trail
from service.auth.middleware import requires
from service.auth.permissions import Permission
from service.auth.service import Principal
from service.exports import service
from service.exports.controllers import disposition, prepare, summary_headers
from service.i18n import _
from service.models.enums import Language
from service.validation import InvalidValue, normalize_email
from service.web.render import page
from service.web.session import verified_form

Session = NamedDependency[AsyncSession]
StaffRequest = Request[Principal, Any, Any]
HOME = "/app/exports"
FORMATS = ("csv", "json")
# The API's query limits for the same filters.
LIMITS = {"q": 200, "email": 320, "tag": 64}


def _form_page(
    request: StaffRequest,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response[str]:
    return page(
        request,
        "exports/index",
        title=_("Export contacts"),
        status=status,
        values=values or {"format": "csv"},
        errors=errors or {},
        languages_offered=[language.value for language in Language],
        excluded_included=request.user.can(Permission.CONTACTS_EXPORT_EXCLUDED),
        columns=service.COLUMNS,
    )


def _read(form: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """The form's values (stripped, empty ones dropped) and what is wrong with them."""
    names = ("format", "q", "email", "tag", "language")
    values = {name: str(form.get(name) or "").strip() for name in names}
    values = {name: value for name, value in values.items() if value}
    values.setdefault("format", "csv")
    errors: dict[str, str] = {}
    if values["format"] not in FORMATS:
        errors["format"] = _("Choose CSV or JSON.")
    for name, limit in LIMITS.items():
        if len(values.get(name, "")) > limit:
            errors[name] = _("At most %(n)s characters.") % {"n": limit}
    if values.get("language") and values["language"] not in {lang.value for lang in Language}:
        errors["language"] = _("Choose a language from the list.")
    if "email" in values and "email" not in errors:
        try:
            values["email"] = normalize_email(values["email"])
        except InvalidValue:
            errors["email"] = _("Not an email address.")
    return values, errors


class ExportPages(Controller):
    path = HOME
    include_in_schema = False
    guards = [requires(Permission.CONTACTS_EXPORT)]

    @get("/")
    async def index(self, request: StaffRequest) -> Response[str]:
        """The export's choices: format and the contact list's filters."""
        return _form_page(request)

    @post("/download", status_code=200)
    async def download(self, request: StaffRequest, db_session: Session) -> Response[Any]:
        """The export file, streamed as the API streams it."""
        values, errors = _read(await verified_form(request))
        if errors:
            return _form_page(request, values=values, errors=errors, status=422)
        language = Language(values["language"]) if "language" in values else None
        trail.note(db_session, request, action="contact.export", status_code=200)
        scope, summary = await prepare(
            request,
            db_session,
            q=values.get("q"),
            email=values.get("email"),
            tag=values.get("tag"),
            language=language,
        )
        headers = summary_headers(summary)
        sessionmaker = request.app.state.sessionmaker
        if values["format"] == "json":
            return Stream(
                service.json_chunks(sessionmaker, scope=scope, summary=summary),
                media_type="application/json",
                headers={"Content-Disposition": disposition("json"), **headers},
            )
        return Stream(
            service.csv_chunks(sessionmaker, scope=scope),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": disposition("csv"), **headers},
        )
