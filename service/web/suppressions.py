"""``/app/suppressions``: look up an address on the suppression list and lift
it with a reason (``POST /api/v1/suppressions/lookup`` and ``…/lift`` from
the browser; a privacy officer's or an admin's: rights:manage).

The list holds keyed hashes, so the page never lists it: the address typed
is hashed as contacts' addresses are and that one hash looked up. The
address travels in POST bodies only (the lift form posts it back). A
look-up is audited (``suppression.lookup``, whether it was found), a lift
with its reason (``suppression.lift``).
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit import trail
from service.auth.middleware import requires
from service.auth.permissions import Permission
from service.auth.service import Principal
from service.crypto import DataCipher
from service.errors import InvalidInput
from service.i18n import _
from service.models.enums import SuppressionKind
from service.suppressions import service
from service.web import messages
from service.web.render import page
from service.web.session import redirect, verified_form

Session = NamedDependency[AsyncSession]
Cipher = NamedDependency[DataCipher]
StaffRequest = Request[Principal, Any, Any]
HOME = "/app/suppressions"
MAX_VALUE = 320
MAX_WHY = 500


def _page(
    request: StaffRequest,
    *,
    kind: str = "email",
    value: str = "",
    entry: service.Entry | None = None,
    looked_up: bool = False,
    error: str | None = None,
    lift_error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response[str]:
    return page(
        request,
        "suppressions/index",
        title=_("Suppression list"),
        status=status,
        kind=kind,
        value=value,
        entry=entry,
        looked_up=looked_up,
        error=error,
        lift_error=lift_error,
        notice=notice,
        max_value=MAX_VALUE,
        max_why=MAX_WHY,
    )


def _kind(form: dict[str, Any]) -> SuppressionKind | None:
    try:
        return SuppressionKind(str(form.get("kind") or ""))
    except ValueError:
        return None


class SuppressionPages(Controller):
    path = HOME
    include_in_schema = False
    guards = [requires(Permission.RIGHTS_MANAGE)]

    @get("/")
    async def index(self, request: StaffRequest) -> Response[str]:
        """The look-up form."""
        notice = _("The suppression was lifted.") if request.query_params.get("lifted") else None
        return _page(request, notice=notice)

    @post("/lookup", status_code=200)
    async def lookup(
        self, request: StaffRequest, db_session: Session, cipher: Cipher
    ) -> Response[str]:
        """Whether the address is on the list: its reason and since when."""
        form = await verified_form(request)
        kind = _kind(form)
        value = str(form.get("value") or "").strip()
        if kind is None:
            return _page(request, error=_("Choose email or phone."), status=422)
        if not value or len(value) > MAX_VALUE:
            return _page(request, kind=kind.value, error=_("Type an address."), status=422)
        try:
            value_hash = service.address_hash(cipher, kind, value)
        except InvalidInput as exc:
            return _page(
                request, kind=kind.value, value=value, error=messages.refusal(exc), status=422
            )
        entry = await service.find(db_session, value_hash)
        trail.note(db_session, request, action="suppression.lookup", status_code=200)
        trail.annotate(db_session, found=entry is not None)
        return _page(request, kind=kind.value, value=value, entry=entry, looked_up=True)

    @post("/lift", status_code=200)
    async def lift(
        self, request: StaffRequest, db_session: Session, cipher: Cipher
    ) -> Response[Any]:
        """Take the address off the list, with the reason given."""
        form = await verified_form(request)
        kind = _kind(form)
        value = str(form.get("value") or "").strip()
        why = str(form.get("why") or "").strip()
        if kind is None or not value or len(value) > MAX_VALUE:
            return _page(request, error=_("Look the address up first."), status=422)
        try:
            value_hash = service.address_hash(cipher, kind, value)
        except InvalidInput as exc:
            return _page(
                request, kind=kind.value, value=value, error=messages.refusal(exc), status=422
            )
        entry = await service.find(db_session, value_hash)
        if entry is None:
            return _page(
                request,
                kind=kind.value,
                value=value,
                looked_up=True,
                error=_("The address is not on the suppression list (any more)."),
                status=404,
            )
        if not why or len(why) > MAX_WHY:
            message = _("Say why the suppression is lifted (at most %(n)s characters).") % {
                "n": MAX_WHY
            }
            return _page(
                request,
                kind=kind.value,
                value=value,
                entry=entry,
                looked_up=True,
                lift_error=message,
                status=422,
            )
        trail.note(db_session, request, action="suppression.lift", status_code=303)
        await service.lift(db_session, value_hash=value_hash, why=why)
        return redirect(f"{HOME}?lifted=1")
