"""``/api/v1/robinson/extracts``: load ASML's do-not-call extract, and see which is in force."""

from __future__ import annotations

import io
from datetime import date
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.audit import trail
from service.auth.middleware import requires
from service.auth.permissions import Permission
from service.auth.service import Principal
from service.crypto import DataCipher
from service.errors import InvalidInput
from service.robinson import service
from service.robinson.schemas import LoadReport, RobinsonStatus
from service.settings import Settings

# Room for a few million numbers; larger files: `consentry import robinson`.
MAX_UPLOAD_BYTES = 64 * 1024 * 1024
Session = NamedDependency[AsyncSession]
Cipher = NamedDependency[DataCipher]
StaffRequest = Request[Principal, Any, Any]
ExtractDate = Annotated[
    date | None,
    QueryParameter(description="The day ASML made the extract (YYYY-MM-DD); default today."),
]


async def _upload(request: StaffRequest) -> tuple[bytes, str]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput(
                "send the extract in the form field `file`", fields={"file": "missing"}
            )
        return await upload.read(), upload.filename
    if content_type in {"text/csv", "application/csv", "text/plain"}:
        return await request.body(), "upload.txt"
    raise InvalidInput(
        "send the extract as multipart/form-data with the field `file`, "
        "or as a text/plain or text/csv body",
        fields={"file": "missing"},
    )


class RobinsonController(Controller):
    path = "/robinson/extracts"
    tags = ["robinson"]

    @get("/", guards=[requires(Permission.ROBINSON_READ)])
    async def get_status(self, request: StaffRequest, db_session: Session) -> RobinsonStatus:
        """The extract in force, its age against the maximum, whether phone call
        lists may be built now, and the earlier loads."""
        settings: Settings = request.app.state.settings
        return await service.status(
            db_session, max_age_days=settings.robinson_max_age_days, today=clock.today()
        )

    @post(
        "/",
        guards=[requires(Permission.ROBINSON_MANAGE)],
        status_code=201,
        request_max_body_size=MAX_UPLOAD_BYTES,
        opt={"audit": "robinson_extract.load"},
    )
    async def load_extract(
        self,
        request: StaffRequest,
        db_session: Session,
        cipher: Cipher,
        extract_date: ExtractDate = None,
    ) -> LoadReport:
        """Load an extract (one number per line, or CSV with a `phone` column;
        see docs/robinson.md). It replaces the extract in force. 201 with the
        report, bad lines by number; 422 and nothing changed when the file holds
        no valid number. 413 above 64 MB: use `consentry import robinson`."""
        raw, name = await _upload(request)
        report = await service.load(
            db_session,
            lines=io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8-sig", newline=""),
            file_name=name,
            extract_date=extract_date or clock.today(),
            cipher=cipher,
            user_id=request.user.user_id,
        )
        trail.annotate(
            db_session,
            extract_id=report.extract.id,
            numbers=report.extract.number_count,
            bad_lines=report.bad_lines,
        )
        return report
