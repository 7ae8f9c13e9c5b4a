"""``POST /api/v1/imports``: the CSV import of ``consentry import contacts``
over HTTP, run while the request waits (files up to MAX_UPLOAD_BYTES)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from litestar import Controller, Request, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit import trail
from service.auth.middleware import requires
from service.auth.permissions import Permission
from service.auth.service import Principal
from service.crypto import DataCipher
from service.errors import InvalidInput
from service.imports.runner import run_import
from service.imports.schemas import ImportReport

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
Session = NamedDependency[AsyncSession]
Cipher = NamedDependency[DataCipher]
Flag = Annotated[bool, QueryParameter(description="See docs/imports.md.")]
# A file name is evidence text, not a path: keep a plain, short name.
_NAME_PART = re.compile(r"[^\w.\-]+")


def file_name_of(name: str | None) -> str:
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    return _NAME_PART.sub("_", base)[:100] or "upload.csv"


async def _upload(request: Request[Principal, Any, Any]) -> tuple[bytes, str]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput(
                "send the CSV file in the form field `file`", fields={"file": "missing"}
            )
        return await upload.read(), file_name_of(upload.filename)
    if content_type in {"text/csv", "application/csv", "text/plain"}:
        return await request.body(), "upload.csv"
    raise InvalidInput(
        "send a CSV file: multipart/form-data with the field `file`, or a text/csv body",
        fields={"file": "missing"},
    )


class ImportController(Controller):
    path = "/imports"
    tags = ["imports"]

    @post(
        "/",
        guards=[requires(Permission.CONTACTS_WRITE)],
        status_code=200,
        request_max_body_size=MAX_UPLOAD_BYTES,
    )
    async def import_contacts(
        self,
        db_session: Session,
        cipher: Cipher,
        request: Request[Principal, Any, Any],
        all_or_nothing: Flag = False,
        dry_run: Flag = False,
        rows: Flag = False,
    ) -> ImportReport:
        """Import contacts from a CSV file (columns: docs/imports.md).

        200 with the report whenever the file was read: its counts and every
        refused row (line, column, reason; never the value). Rows that were
        fine are stored unless `all_or_nothing` or `dry_run`; `written` says
        whether anything was. 422 when the file as a whole cannot be read
        (not UTF-8, an unknown or repeated column): nothing is imported.
        413 above 20 MB: use `consentry import contacts` for larger files.
        With `rows`, `lines` lists every row's outcome (created, updated,
        unchanged, refused) by line: with `dry_run`, the table of what the
        import would do."""
        raw, name = await _upload(request)
        # Each chunk of rows commits on its own (a bad row must not hold the
        # good ones back), so the import runs on sessions of its own; this
        # request's session only commits the audit row.
        report = await run_import(
            request.app.state.sessionmaker,
            raw=raw,
            file_name=name,
            cipher=cipher,
            user_id=request.user.user_id,
            permissions=request.user.permissions,
            all_or_nothing=all_or_nothing,
            dry_run=dry_run,
            with_lines=rows,
        )
        trail.annotate(
            db_session,
            rows=report.rows,
            created=report.created,
            updated=report.updated,
            refused=report.refused,
            written=report.written,
        )
        return report
