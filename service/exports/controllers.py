"""``GET /api/v1/contacts/export.csv`` and ``export.json``: contacts for
marketers, audited, with how many were left out and why."""

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
from service.exports.service import ContactFilter, Scope
from service.models.enums import Language
from service.validation import InvalidValue, normalize_email

Session = NamedDependency[AsyncSession]
StaffRequest = Request[Principal, Any, Any]
Q = Annotated[str | None, QueryParameter(max_length=200)]
Email = Annotated[str | None, QueryParameter(max_length=320)]
Tag = Annotated[str | None, QueryParameter(max_length=64)]


def summary_headers(summary: dict[str, Any]) -> dict[str, str]:
    """The export's counts as response headers (a streamed file has no room
    for them before its first row): no one is named."""
    reasons = summary["left_out_by_reason"]
    return {
        "X-Export-Contacts": str(summary["contacts"]),
        "X-Export-Left-Out": str(summary["left_out"]),
        "X-Export-Left-Out-Reasons": ", ".join(f"{k}={v}" for k, v in reasons.items()),
        "X-Export-Refused-Included": str(summary["refused_included"]),
        "Cache-Control": "no-store",
    }


async def prepare(
    request: StaffRequest,
    db_session: AsyncSession,
    *,
    q: str | None,
    email: str | None,
    tag: str | None,
    language: Language | None,
) -> tuple[Scope, dict[str, Any]]:
    """The export's scope and counts for the caller's role, noted on the
    request's audit row (the staff page's download calls this too)."""
    if email is not None:
        try:
            email = normalize_email(email)
        except InvalidValue as exc:
            raise InvalidInput(str(exc), fields={"email": str(exc)}) from None
    filters = ContactFilter(q=q, email=email, tag=tag, language=language)
    scope = Scope(filters, include_refused=request.user.can(Permission.CONTACTS_EXPORT_EXCLUDED))
    summary = await service.summary(db_session, scope=scope)
    # Which filters and how many people, never who or the search text.
    counts: dict[str, Any] = service.audit_counts(summary)
    trail.annotate(
        db_session,
        filters=filters.names(),
        language=language.value if language else None,
        **counts,
    )
    return scope, summary


def disposition(extension: str) -> str:
    return f'attachment; filename="contacts-{clock.today().isoformat()}.{extension}"'


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
        request: StaffRequest,
        db_session: Session,
        q: Q = None,
        email: Email = None,
        tag: Tag = None,
        language: FromQuery[Language | None] = None,
    ) -> Stream:
        """Contacts as CSV (UTF-8): full_name, nickname, email, phone, language,
        tags, the direct-marketing consent state per channel (`grant`,
        `withdraw` or empty) and the consent gate's answer per channel
        (`gate_email`, `gate_sms`, `gate_phone`, `gate_post`: `eligible` or
        the reason code); never identity codes. Filters as the contact list's
        (`q`, `email`) plus `tag` and `language`. Restricted contacts are
        left out; so are people under a direct-marketing ban on every
        channel, an objection or a suppression of their own, unless the
        exporter holds `contacts:export_excluded`. The `X-Export-*` headers
        say how many are in the file and how many were left out and why;
        the audit row records the same counts."""
        scope, summary = await prepare(
            request, db_session, q=q, email=email, tag=tag, language=language
        )
        return Stream(
            service.csv_chunks(request.app.state.sessionmaker, scope=scope),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": disposition("csv"), **summary_headers(summary)},
        )

    @get(
        "/export.json",
        guards=[requires(Permission.CONTACTS_EXPORT)],
        media_type="application/json",
        opt={"audit": "contact.export"},
    )
    async def export_contacts_json(
        self,
        request: StaffRequest,
        db_session: Session,
        q: Q = None,
        email: Email = None,
        tag: Tag = None,
        language: FromQuery[Language | None] = None,
    ) -> Stream:
        """The same export as JSON: `{"summary": {contacts, left_out,
        left_out_by_reason, refused_included}, "contacts": [{column: value}]}`
        with the CSV's columns as keys; the same headers."""
        scope, summary = await prepare(
            request, db_session, q=q, email=email, tag=tag, language=language
        )
        return Stream(
            service.json_chunks(request.app.state.sessionmaker, scope=scope, summary=summary),
            media_type="application/json",
            headers={"Content-Disposition": disposition("json"), **summary_headers(summary)},
        )
