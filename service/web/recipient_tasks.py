"""``/app/privacy/recipients``: the tasks of telling the recipients of
disclosed data about a rectification, erasure or restriction (GDPR 19),
with a button to mark each done (``rights:manage``).

The same service as the API's ``GET /recipient-notifications`` and ``POST
…/{id}/done`` (service.requests.recipients), recorded under the same audit
actions.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit import trail
from service.auth.middleware import requires
from service.auth.permissions import Permission
from service.auth.service import Principal
from service.errors import DomainError
from service.i18n import _
from service.requests import recipients
from service.requests.schemas import RecipientNotificationDone
from service.web import messages
from service.web.render import page
from service.web.session import redirect, verified_form

Session = NamedDependency[AsyncSession]
StaffRequest = Request[Principal, Any, Any]
HOME = "/app/privacy/recipients"
PAGE_SIZE = 100
MAX_NOTE = 2000


async def _page(
    request: StaffRequest,
    db_session: AsyncSession,
    *,
    error: str | None = None,
    failed: int | None = None,
    status: int = 200,
) -> Response[str]:
    show_done = request.query_params.get("show") == "done"
    rows, total = await recipients.list_(db_session, open_=not show_done, limit=PAGE_SIZE, offset=0)
    trail.note(db_session, request, action="recipient_notification.list", status_code=status)
    trail.annotate(db_session, entries=len(rows))
    return page(
        request,
        "privacy/recipients",
        title=_("Recipients to tell"),
        status=status,
        rows=[recipients.to_read(row) for row in rows],
        total=total,
        show_done=show_done,
        error=error,
        failed=failed,
        done=request.query_params.get("done"),
    )


class RecipientTaskPages(Controller):
    path = HOME
    include_in_schema = False
    guards = [requires(Permission.RIGHTS_MANAGE)]

    @get("/")
    async def tasks(self, request: StaffRequest, db_session: Session) -> Response[str]:
        """Open tasks, oldest first (``?show=done``: the done ones)."""
        return await _page(request, db_session)

    @post("/{task_id:int}/done", status_code=200)
    async def mark_done(
        self, request: StaffRequest, db_session: Session, task_id: FromPath[int]
    ) -> Response[Any]:
        """The recipient was told; an optional note says how."""
        form = await verified_form(request)
        raw = form.get("note")
        note = raw.strip()[: MAX_NOTE + 1] if isinstance(raw, str) else ""
        try:
            data = RecipientNotificationDone.model_validate({"note": note or None})
            task = await recipients.mark_done(
                db_session, task_id=task_id, data=data, user_id=request.user.user_id
            )
        except ValidationError:
            return await _page(
                request,
                db_session,
                error=_("The note is at most %(n)s characters; nothing was saved.")
                % {"n": MAX_NOTE},
                failed=task_id,
                status=422,
            )
        except DomainError as refusal:
            await db_session.rollback()
            return await _page(
                request,
                db_session,
                error=messages.refusal(refusal),
                failed=task_id,
                status=refusal.status_code,
            )
        trail.note(db_session, request, action="recipient_notification.done", status_code=303)
        trail.annotate(db_session, contact_id=task.contact_id)
        return redirect(f"{HOME}?done={task_id}")
