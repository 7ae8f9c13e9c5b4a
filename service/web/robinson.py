"""``/app/robinson``: the Robinson do-not-call extract in force, and loading
a new one (``GET`` and ``POST /api/v1/robinson/extracts`` from the browser).

The page shows the extract's date, its number count, its age against
CONSENTRY_ROBINSON_MAX_AGE_DAYS and the day a newer one is due (after it,
phone call lists are refused). The upload calls ``robinson.service.load``
as the API does and is audited the same way (``robinson_extract.load``
with the extract's id and counts); a bad line is reported by its number,
never its content.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.audit import trail
from service.auth.middleware import requires
from service.auth.permissions import Permission
from service.auth.service import Principal
from service.crypto import DataCipher
from service.errors import InvalidInput
from service.i18n import _
from service.robinson import service
from service.robinson.controllers import MAX_UPLOAD_BYTES
from service.robinson.schemas import LoadReport, RobinsonStatus
from service.settings import Settings
from service.web import messages
from service.web.render import page
from service.web.session import verified_form

Session = NamedDependency[AsyncSession]
Cipher = NamedDependency[DataCipher]
StaffRequest = Request[Principal, Any, Any]
HOME = "/app/robinson"
BODY_LIMIT = MAX_UPLOAD_BYTES + 1024 * 1024


@dataclass(frozen=True, slots=True)
class Due:
    """When the extract in force stops being fresh enough for call lists."""

    by: date  # the last day it may screen a list
    days_left: int  # negative: stale for that many days


def _due(status: RobinsonStatus) -> Due | None:
    if status.current is None:
        return None
    by = status.current.extract_date + timedelta(days=status.max_age_days)
    return Due(by=by, days_left=(by - clock.today()).days)


async def _page(
    request: StaffRequest,
    db_session: AsyncSession,
    *,
    report: LoadReport | None = None,
    error: str | None = None,
    problems: dict[str, str] | None = None,
    status: int = 200,
) -> Response[str]:
    settings: Settings = request.app.state.settings
    current = await service.status(
        db_session, max_age_days=settings.robinson_max_age_days, today=clock.today()
    )
    return page(
        request,
        "robinson/index",
        title=_("Robinson extract"),
        status=status,
        robinson=current,
        due=_due(current),
        report=report,
        error=error,
        problems=problems or {},
        today=clock.today(),
        max_mb=MAX_UPLOAD_BYTES // (1024 * 1024),
    )


class RobinsonPages(Controller):
    path = HOME
    include_in_schema = False
    guards = [requires(Permission.ROBINSON_READ)]

    @get("/")
    async def index(self, request: StaffRequest, db_session: Session) -> Response[str]:
        """The extract in force, when the next is due, and the earlier loads."""
        return await _page(request, db_session)

    @post(
        "/upload",
        guards=[requires(Permission.ROBINSON_MANAGE)],
        status_code=200,
        request_max_body_size=BODY_LIMIT,
    )
    async def upload(
        self, request: StaffRequest, db_session: Session, cipher: Cipher
    ) -> Response[str]:
        """Load an extract; it replaces the one in force (as the API's POST)."""
        form = await verified_form(request)
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return await _page(
                request, db_session, error=_("Choose the extract file to upload."), status=422
            )
        raw = await upload.read()
        if len(raw) > MAX_UPLOAD_BYTES:
            message = _(
                "The file is larger than %(mb)s MB: load it with the command "
                "consentry import robinson."
            ) % {"mb": MAX_UPLOAD_BYTES // (1024 * 1024)}
            return await _page(request, db_session, error=message, status=413)
        extract_date = clock.today()
        given = str(form.get("extract_date") or "").strip()
        if given:
            try:
                extract_date = date.fromisoformat(given)
            except ValueError:
                return await _page(
                    request,
                    db_session,
                    error=_("The extract date is not a date (YYYY-MM-DD)."),
                    status=422,
                )
        try:
            report = await service.load(
                db_session,
                lines=io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8-sig", newline=""),
                file_name=upload.filename,
                extract_date=extract_date,
                cipher=cipher,
                user_id=request.user.user_id,
            )
        except InvalidInput as refusal:
            await db_session.rollback()  # the extract in force stays in force
            return await _page(
                request,
                db_session,
                error=messages.refusal(refusal),
                problems=messages.refusal_fields(refusal),
                status=422,
            )
        trail.note(db_session, request, action="robinson_extract.load", status_code=200)
        trail.annotate(
            db_session,
            extract_id=report.extract.id,
            numbers=report.extract.number_count,
            bad_lines=report.bad_lines,
        )
        return await _page(request, db_session, report=report)
