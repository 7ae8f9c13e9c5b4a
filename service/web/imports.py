"""``/app/imports``: the contact import in two steps, a dry run and a commit.

The upload runs the import of ``POST /api/v1/imports`` (service.imports.runner)
as a dry run: every check, the database's own refusals included, in a
transaction that is rolled back. The page shows what would become of each
row. The file stays on the server (service.imports.staging: 0600, bound to
this staff session, 30 minutes) under a random id that the commit form
posts back in its body; the commit imports exactly that file and deletes
it. Same permission as the API: contacts:write; the rows a role may not
write (identity codes, gate inputs) are refused as the API refuses them.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit import trail
from service.auth.cookies import session_token
from service.auth.middleware import requires
from service.auth.permissions import Permission
from service.auth.service import Principal
from service.crypto import DataCipher
from service.errors import NotFound
from service.i18n import _
from service.imports import staging
from service.imports.columns import UnreadableFile, cells_of
from service.imports.controllers import MAX_UPLOAD_BYTES, file_name_of
from service.imports.runner import run_import
from service.imports.schemas import ImportReport, RowOutcome
from service.settings import Settings
from service.web import messages
from service.web.render import page
from service.web.session import verified_form

Session = NamedDependency[AsyncSession]
Cipher = NamedDependency[DataCipher]
StaffRequest = Request[Principal, Any, Any]
HOME = "/app/imports"
# A row of the table per line up to this many; the totals count every row.
ROWS_SHOWN = 1000
# Room for the multipart envelope around a file of MAX_UPLOAD_BYTES, so a
# file just over the limit gets this page's message rather than a bare 413.
BODY_LIMIT = MAX_UPLOAD_BYTES + 1024 * 1024
# What names a row in the table: cells the uploader's own file holds.
LABEL_COLUMNS = ("full_name", "email")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]+")
COUNTS = ("rows", "created", "updated", "unchanged", "refused")


def _label(cells: dict[str, str], name: str) -> str:
    value = _UNPRINTABLE.sub(" ", cells.get(name, "")).strip()
    return value if len(value) <= 80 else value[:79] + "…"


def _shown(report: ImportReport) -> list[RowOutcome]:
    """Every refused row first, then the others, ROWS_SHOWN in all, in line order."""
    lines = report.lines or []
    refused = [row for row in lines if row.outcome == "refused"][:ROWS_SHOWN]
    others = [row for row in lines if row.outcome != "refused"][: ROWS_SHOWN - len(refused)]
    return sorted(refused + others, key=lambda row: row.line)


def _counts(report: ImportReport) -> dict[str, int]:
    return {name: int(getattr(report, name)) for name in COUNTS}


def _upload_page(
    request: StaffRequest,
    *,
    problem: str | None = None,
    detail: str | None = None,
    status: int = 200,
) -> Response[str]:
    """The upload form; ``problem`` names what went wrong (the template has
    the words, in the staff member's language), ``detail`` the import's own."""
    return page(
        request,
        "imports/upload",
        title=_("Import contacts"),
        status=status,
        problem=problem,
        detail=detail,
        max_mb=MAX_UPLOAD_BYTES // (1024 * 1024),
    )


def _report_page(
    request: StaffRequest,
    report: ImportReport,
    raw: bytes,
    *,
    upload_id: str | None,
    expected: dict[str, int] | None = None,
) -> Response[str]:
    labels = {
        line: (_label(cells, "full_name"), _label(cells, "email"))
        for line, cells in cells_of(raw, LABEL_COLUMNS).items()
    }
    shown = _shown(report)
    return page(
        request,
        "imports/report",
        title=_("Import: dry run") if report.dry_run else _("Import: done"),
        report=report,
        shown=shown,
        hidden=len(report.lines or []) - len(shown),
        labels=labels,
        upload_id=upload_id,
        differs=expected is not None and expected != _counts(report),
    )


def _annotate(db_session: AsyncSession, report: ImportReport) -> None:
    """The import's counts on the audit row, as the API's: never who."""
    trail.annotate(
        db_session,
        rows=report.rows,
        created=report.created,
        updated=report.updated,
        refused=report.refused,
        written=report.written,
    )


def _owner(request: StaffRequest) -> str:
    return staging.owner_of(session_token(request) or "")


def _too_large(request: StaffRequest, _: RequestEntityTooLarge) -> Response[str]:
    # The server stopped reading a body far over the limit: the same message.
    return _upload_page(request, problem="too_large", status=413)


class ImportPages(Controller):
    path = HOME
    include_in_schema = False
    guards = [requires(Permission.CONTACTS_WRITE)]
    exception_handlers = {RequestEntityTooLarge: _too_large}

    @get("/")
    async def index(self, request: StaffRequest) -> Response[str]:
        """The upload form."""
        return _upload_page(request)

    @post("/dry-run", status_code=200, request_max_body_size=BODY_LIMIT)
    async def dry_run(
        self, request: StaffRequest, db_session: Session, cipher: Cipher
    ) -> Response[str]:
        """Check the file row by row without writing; keep it for the commit."""
        form = await verified_form(request)
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return _upload_page(request, problem="no_file", status=422)
        raw = await upload.read()
        if len(raw) > MAX_UPLOAD_BYTES:
            return _upload_page(request, problem="too_large", status=413)
        if not raw.strip():
            return _upload_page(request, problem="empty", status=422)
        name = file_name_of(upload.filename)
        try:
            report = await run_import(
                request.app.state.sessionmaker,
                raw=raw,
                file_name=name,
                cipher=cipher,
                user_id=request.user.user_id,
                permissions=request.user.permissions,
                dry_run=True,
                with_lines=True,
            )
        except UnreadableFile as exc:
            return _upload_page(
                request, problem="unreadable", detail=messages.refusal(exc), status=422
            )
        settings: Settings = request.app.state.settings
        upload_id = None
        if report.created or report.updated:
            upload_id = staging.stage(
                settings.var_dir,
                raw=raw,
                file_name=name,
                owner=_owner(request),
                expected=_counts(report),
            )
        # Which rows exist is a read of the register: recorded, by counts.
        trail.note(db_session, request, action="import.dry_run", status_code=200)
        _annotate(db_session, report)
        return _report_page(request, report, raw, upload_id=upload_id)

    @post("/commit", status_code=200)
    async def commit(
        self, request: StaffRequest, db_session: Session, cipher: Cipher
    ) -> Response[str]:
        """Import the file the dry run checked, and show what became of each row."""
        form = await verified_form(request)
        settings: Settings = request.app.state.settings
        upload_id = str(form.get("upload_id") or "")
        try:
            staged = staging.take(settings.var_dir, upload_id, owner=_owner(request))
        except NotFound:
            return _upload_page(request, problem="gone", status=404)
        # Deleted first: a second click of the button must not import twice.
        staging.discard(settings.var_dir, upload_id)
        report = await run_import(
            request.app.state.sessionmaker,
            raw=staged.raw,
            file_name=staged.file_name,
            cipher=cipher,
            user_id=request.user.user_id,
            permissions=request.user.permissions,
            with_lines=True,
        )
        trail.note(db_session, request, action="import.create", status_code=200)
        _annotate(db_session, report)
        return _report_page(request, report, staged.raw, upload_id=None, expected=staged.expected)
