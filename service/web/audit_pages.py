"""``/app/audit``: the audit trail search and the chain check (``audit:read``).

The search is the API's ``GET /audit`` (service.audit.service) and is
recorded as it is (``audit.search``, naming the person searched for and
which filters were used); the staff members to pick from are the API's
``GET /audit/staff``. Its filters are ids, an action name and days, so
they may sit in the URL; a staff member is picked from a list and travels
as an id, never as an email address. The check is ``consentry audit verify``
(service.audit.verify).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.audit import service as audit
from service.audit import trail
from service.audit.verify import verify
from service.auth.middleware import requires
from service.auth.permissions import Permission
from service.auth.service import Principal
from service.i18n import _
from service.web.render import page
from service.web.session import verified_form

Session = NamedDependency[AsyncSession]
StaffRequest = Request[Principal, Any, Any]
PAGE_SIZE = 50
# The API's pattern for an action name (service.audit.controllers).
_ACTION = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MAX_ID = 2**63 - 1


def _id(raw: str | None, name: str, fields: dict[str, str]) -> int | None:
    if not raw:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= _MAX_ID:
        fields[name] = _("must be a whole number from 1 up")
        return None
    return int(raw)


def _day(raw: str | None, name: str, fields: dict[str, str]) -> date | None:
    if not raw:
        return None
    try:
        if not _ISO_DATE.match(raw):
            raise ValueError
        return date.fromisoformat(raw)
    except ValueError:
        fields[name] = _("must be a date, YYYY-MM-DD")
        return None


def _midnight(day: date) -> datetime:
    # Days are Helsinki days: the trail is read by people in Finland.
    return datetime.combine(day, time(0), tzinfo=clock.LOCAL_ZONE)


def read_filters(query: Any) -> tuple[audit.Filters, dict[str, str], dict[str, str]]:
    """The search's filters from the query string, the values to show back in
    the form, and an error per field that could not be read."""
    fields: dict[str, str] = {}
    shown = {
        name: str(query.get(name, "")).strip()[:64]
        for name in ("contact_id", "user_id", "action", "since", "until")
    }
    action = shown["action"] or None
    if action is not None and not _ACTION.match(action):
        fields["action"] = _("an action name, such as %(first)s or %(second)s") % {
            "first": "contact.read",
            "second": "call_list.download",
        }
        action = None
    since = _day(shown["since"], "since", fields)
    until = _day(shown["until"], "until", fields)
    if since and until and until < since:
        fields["until"] = _("must not be before the first day")
    filters = audit.Filters(
        contact_id=_id(shown["contact_id"], "contact_id", fields),
        user_id=_id(shown["user_id"], "user_id", fields),
        action=action,
        since=_midnight(since) if since else None,
        # The last day is included: until the midnight after it.
        until=_midnight(until + timedelta(days=1)) if until else None,
    )
    return filters, shown, fields


class AuditPageController(Controller):
    path = "/app/audit"
    include_in_schema = False
    guards = [requires(Permission.AUDIT_READ)]

    @get("/")
    async def search(self, request: StaffRequest, db_session: Session) -> Response[str]:
        """Who read or changed what, newest first, filtered by person, staff
        member, action and days."""
        filters, shown, fields = read_filters(request.query_params)
        try:
            offset = min(max(0, int(request.query_params.get("offset", "0"))), _MAX_ID)
        except ValueError:
            offset = 0
        staff = await audit.staff_members(db_session)
        items: list[Any] = []
        total = 0
        if not fields:
            items, total = await audit.list_(
                db_session, filters=filters, limit=PAGE_SIZE, offset=offset
            )
            # The search is itself a look at the person it names.
            trail.note(db_session, request, action="audit.search", status_code=200)
            trail.annotate(db_session, contact_id=filters.contact_id, filters=filters.used())
        query = urlencode({name: value for name, value in shown.items() if value})
        return page(
            request,
            "audit/search",
            title=_("Audit trail"),
            status=422 if fields else 200,
            items=items,
            total=total,
            offset=offset,
            page_size=PAGE_SIZE,
            shown=shown,
            fields=fields,
            staff=staff,
            emails={member.id: member.email for member in staff},
            query=query,
        )

    @post("/verify", status_code=200)
    async def check_chain(self, request: StaffRequest, db_session: Session) -> Response[str]:
        """Walk the hash chain as ``consentry audit verify`` does and say what it found."""
        await verified_form(request)
        result = await verify(db_session)
        trail.note(db_session, request, action="audit.verify", status_code=200)
        trail.annotate(db_session, events=result.events, broken_id=result.broken_id)
        return page(request, "audit/verify", title=_("Audit trail check"), result=result)
