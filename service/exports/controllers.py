"""``GET /api/v1/contacts/export.csv``: contacts as CSV for marketers, audited."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter
from litestar.response import Stream
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.audit import trail
from service.auth.middleware import requires
from service.auth.permissions import Permission
from service.auth.service import Principal
from service.errors import InvalidInput
from service.exports import service
from service.exports.service import ContactFilter
from service.models.enums import Language
from service.validation import InvalidValue, normalize_email

Session = NamedDependency[AsyncSession]


class ExportController(Controller):
    path = "/contacts"
    tags = ["contacts"]

    @get(
        "/export.csv",
        guards=[requires(Permission.CONTACTS_EXPORT)],
        media_type="text/csv",
        opt={"audit": "contact.export"},
    )
    async def export_contacts(
        self,
        request: Request[Principal, Any, Any],
        db_session: Session,
        q: Annotated[str | None, QueryParameter(max_length=200)] = None,
        email: Annotated[str | None, QueryParameter(max_length=320)] = None,
        tag: Annotated[str | None, QueryParameter(max_length=64)] = None,
        language: FromQuery[Language | None] = None,
    ) -> Stream:
        """Contacts as CSV (UTF-8): full_name, nickname, email, phone, language,
        tags and the direct-marketing consent state per channel (`grant`,
        `withdraw` or empty); never identity codes. Filters as the contact
        list's (`q`, `email`) plus `tag` and `language`. Restricted and
        objected contacts are left out. Each export is recorded in the audit
        trail with its filters' names and the number of contacts."""
        if email is not None:
            try:
                email = normalize_email(email)
            except InvalidValue as exc:
                raise InvalidInput(str(exc), fields={"email": str(exc)}) from None
        filters = ContactFilter(q=q, email=email, tag=tag, language=language)
        total = await service.count(db_session, filters=filters)
        # Which filters and how many people, never who or the search text.
        trail.annotate(
            db_session,
            filters=filters.names(),
            language=language.value if language else None,
            contacts=total,
        )
        return Stream(
            service.csv_chunks(request.app.state.sessionmaker, filters=filters),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": (
                    f'attachment; filename="contacts-{clock.today().isoformat()}.csv"'
                ),
                "Cache-Control": "no-store",
            },
        )
