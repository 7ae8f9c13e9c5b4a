"""``/app/staff``: staff administration for admins (``users:manage``), the
same service functions ``consentry user …`` calls (service.auth.staff); and
``/app/set-password/{token}``, the public page a one-time link opens.

Each change is a POST with the CSRF field; disabling and resetting ask
first on a page of their own. Each is recorded in the audit trail
(``user.invite``, ``user.set_role`` with the roles before and after,
``user.disable``, ``user.enable``, ``user.reset_password``,
``user.password_set``); never an address, a password or a token. A link that
could not be mailed is shown to the admin, once, to hand over another way.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlmodel.ext.asyncio.session import AsyncSession

from service import i18n
from service.audit import trail
from service.auth import staff
from service.auth.middleware import requires
from service.auth.permissions import Permission
from service.auth.service import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, Principal
from service.delivery import staff_mail
from service.errors import Conflict, DomainError, NotFound
from service.i18n import _, gettext, ngettext
from service.labels import N_
from service.models.enums import Role
from service.settings import Settings
from service.web import messages
from service.web.render import Verbatim, page
from service.web.session import redirect, verified_form, verified_public_form

Session = NamedDependency[AsyncSession]
StaffRequest = Request[Principal, Any, Any]
AnyRequest = Request[Any, Any, Any]
HOME = "/app/staff"
_MAX_FIELD = 1000


def _field(form: dict[str, Any], name: str) -> str:
    value = form.get(name)
    return value[:_MAX_FIELD] if isinstance(value, str) else ""


def _settings(request: AnyRequest) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# A refusal of service.auth (which speaks English to the API and the CLI) in
# the page's words: by the conflict's reason, else by the field refused.
_REASONS = {
    "last_admin": N_("This would leave no active admin: make another staff member an admin first."),
    "user_exists": N_("A staff member with this email already exists."),
    "user_disabled": N_("The account is disabled: enable it first."),
}
_FIELDS = {
    "email": N_("This is not an email address that can be used."),
    "role": N_("Choose one of the roles."),
    "user": N_("The account is disabled: enable it first."),
}


def _password_words(password: str) -> str:
    if len(password) > MAX_PASSWORD_LENGTH:
        return _("The password is too long: at most %(num)d characters.") % {
            "num": MAX_PASSWORD_LENGTH
        }
    return ngettext(
        "The password is too short: at least %(num)d character.",
        "The password is too short: at least %(num)d characters.",
        MIN_PASSWORD_LENGTH,
    ) % {"num": MIN_PASSWORD_LENGTH}


def _told(refusal: DomainError, *, password: str = "") -> tuple[str, dict[str, str]]:
    """The refusal's sentence and its fields' messages, in the page's language."""
    fields = {
        name: _password_words(password) if name == "password" else gettext(_FIELDS[name])
        for name in refusal.fields
        if name in _FIELDS or name == "password"
    }
    reason = refusal.reason if isinstance(refusal, Conflict) else None
    if reason in _REASONS:
        return gettext(_REASONS[reason]), fields
    if fields:
        return next(iter(fields.values())), fields
    return messages.refusal(refusal), messages.refusal_fields(refusal)


def _done_words() -> dict[str, str]:
    return {
        "invited": _("The invitation is mailed."),
        "role": _("The role is changed. It takes effect at once."),
        "disabled": _(
            "The account is disabled: its sessions ended and its API tokens are revoked."
        ),
        "enabled": _("The account is enabled. Old sessions and API tokens stay ended."),
        "reset": _("The password and the second factor are cleared; the link is mailed."),
        "unchanged": _("Nothing needed changing."),
    }


async def _list_page(
    request: StaffRequest,
    db_session: AsyncSession,
    *,
    values: dict[str, str] | None = None,
    error: str | None = None,
    fields: dict[str, str] | None = None,
    status: int = 200,
) -> Response[str]:
    done = request.query_params.get("done", "")
    return page(
        request,
        "staff/list",
        title=_("Staff"),
        status=status,
        members=await staff.list_staff(db_session),
        roles=[role.value for role in Role],
        f={
            "id": "invite",
            "values": values or {"role": Role.MARKETER.value},
            "errors": fields or {},
        },
        error=error,
        notice=_done_words().get(done),
    )


async def _member_page(
    request: StaffRequest,
    db_session: AsyncSession,
    user_id: int,
    *,
    error: str | None = None,
    fields: dict[str, str] | None = None,
    status: int = 200,
) -> Response[str]:
    try:
        user = await staff.get(db_session, user_id)
    except NotFound:
        return _missing(request)
    member = staff.StaffMember.of(user)
    return page(
        request,
        "staff/member",
        title=Verbatim(member.email),
        status=status,
        member=member,
        roles=[role.value for role in Role],
        error=error,
        fields=fields or {},
        notice=_done_words().get(request.query_params.get("done", "")),
    )


def _missing(request: StaffRequest) -> Response[str]:
    return page(request, "staff/missing", title=_("No such staff member"), status=404)


async def _mail(request: AnyRequest, *, email: str, link: staff.Link, language: str) -> str | None:
    """Mail the link; the link itself when it could not be mailed (to show)."""
    settings = _settings(request)
    url = link.url(settings.public_url)
    mailed = await staff_mail.mail_link(
        to=email, url=url, purpose=link.row.purpose, language=language, settings=settings
    )
    return None if mailed else url


class StaffPages(Controller):
    path = HOME
    include_in_schema = False
    guards = [requires(Permission.USERS_MANAGE)]

    @get("/")
    async def staff_list(self, request: StaffRequest, db_session: Session) -> Response[str]:
        return await _list_page(request, db_session)

    @post("/invite", status_code=200)
    async def invite(self, request: StaffRequest, db_session: Session) -> Response[Any]:
        form = await verified_form(request)
        values = {"email": _field(form, "email"), "role": _field(form, "role")}
        try:
            user, link = await staff.invite(
                db_session,
                email=values["email"],
                role=values["role"],
                by_user_id=request.user.user_id,
                # The inviting admin's language, until the member chooses.
                language=request.user.language,
            )
        except DomainError as refusal:
            await db_session.rollback()
            error, fields = _told(refusal)
            return await _list_page(
                request,
                db_session,
                values=values,
                error=error,
                fields=fields,
                status=refusal.status_code,
            )
        trail.note(db_session, request, action="user.invite", status_code=303)
        trail.annotate(db_session, user_id=user.id, role_after=user.role.value)
        email, language = user.email, user.language
        # Committed before the mail goes: the link must work when it arrives.
        await db_session.commit()
        shown = await _mail(request, email=email, link=link, language=language)
        if shown is None:
            return redirect(f"{HOME}?done=invited")
        return page(request, "staff/link", title=_("Hand over the link"), email=email, url=shown)

    @get("/{user_id:int}")
    async def member(
        self, request: StaffRequest, db_session: Session, user_id: FromPath[int]
    ) -> Response[str]:
        return await _member_page(request, db_session, user_id)

    @post("/{user_id:int}/role", status_code=200)
    async def set_role(
        self, request: StaffRequest, db_session: Session, user_id: FromPath[int]
    ) -> Response[Any]:
        form = await verified_form(request)
        try:
            user, before, after = await staff.set_role(
                db_session, user_id=user_id, role=_field(form, "role")
            )
        except NotFound:
            return _missing(request)
        except DomainError as refusal:
            await db_session.rollback()
            error, fields = _told(refusal)
            return await _member_page(
                request,
                db_session,
                user_id,
                error=error,
                fields=fields or {"role": error},
                status=refusal.status_code,
            )
        trail.note(db_session, request, action="user.set_role", status_code=303)
        trail.annotate(db_session, role_before=before.value, role_after=after.value)
        return redirect(f"{HOME}/{user.id}?done={'role' if before != after else 'unchanged'}")

    @get("/{user_id:int}/disable")
    async def confirm_disable(
        self, request: StaffRequest, db_session: Session, user_id: FromPath[int]
    ) -> Response[str]:
        return await _confirm(request, db_session, user_id, "disable")

    @post("/{user_id:int}/disable", status_code=200)
    async def disable(
        self, request: StaffRequest, db_session: Session, user_id: FromPath[int]
    ) -> Response[Any]:
        await verified_form(request)
        try:
            ended = await staff.disable(
                db_session, user_id=user_id, by_user_id=request.user.user_id
            )
        except NotFound:
            return _missing(request)
        except DomainError as refusal:
            await db_session.rollback()
            return await _confirm(
                request, db_session, user_id, "disable", error=_told(refusal)[0],
                status=refusal.status_code,
            )  # fmt: skip
        if not ended.changed:
            return redirect(f"{HOME}/{user_id}?done=unchanged")
        trail.note(db_session, request, action="user.disable", status_code=303)
        trail.annotate(db_session, tokens_revoked=ended.tokens_revoked)
        if user_id == request.user.user_id:
            return redirect("/app/login?session=ended")  # their own session just ended
        return redirect(f"{HOME}/{user_id}?done=disabled")

    @post("/{user_id:int}/enable", status_code=200)
    async def enable(
        self, request: StaffRequest, db_session: Session, user_id: FromPath[int]
    ) -> Response[Any]:
        await verified_form(request)
        try:
            _, changed = await staff.enable(db_session, user_id=user_id)
        except NotFound:
            return _missing(request)
        if not changed:
            return redirect(f"{HOME}/{user_id}?done=unchanged")
        trail.note(db_session, request, action="user.enable", status_code=303)
        return redirect(f"{HOME}/{user_id}?done=enabled")

    @get("/{user_id:int}/reset")
    async def confirm_reset(
        self, request: StaffRequest, db_session: Session, user_id: FromPath[int]
    ) -> Response[str]:
        return await _confirm(request, db_session, user_id, "reset")

    @post("/{user_id:int}/reset", status_code=200)
    async def reset(
        self, request: StaffRequest, db_session: Session, user_id: FromPath[int]
    ) -> Response[Any]:
        await verified_form(request)
        try:
            ended, link = await staff.reset_password(
                db_session, user_id=user_id, by_user_id=request.user.user_id
            )
        except NotFound:
            return _missing(request)
        except DomainError as refusal:
            await db_session.rollback()
            return await _confirm(
                request, db_session, user_id, "reset", error=_told(refusal)[0],
                status=refusal.status_code,
            )  # fmt: skip
        trail.note(db_session, request, action="user.reset_password", status_code=303)
        trail.annotate(db_session, tokens_revoked=ended.tokens_revoked)
        email, language = ended.user.email, ended.user.language
        await db_session.commit()
        shown = await _mail(request, email=email, link=link, language=language)
        if shown is None:
            if user_id == request.user.user_id:
                return redirect("/app/login?session=ended")
            return redirect(f"{HOME}/{user_id}?done=reset")
        return page(request, "staff/link", title=_("Hand over the link"), email=email, url=shown)


async def _confirm(
    request: StaffRequest,
    db_session: AsyncSession,
    user_id: int,
    action: str,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response[str]:
    try:
        user = await staff.get(db_session, user_id)
    except NotFound:
        return _missing(request)
    titles = {
        "disable": _("Disable this account?"),
        "reset": _("Reset password and second factor?"),
    }
    return page(
        request,
        "staff/confirm",
        title=titles[action],
        status=status,
        member=staff.StaffMember.of(user),
        action=action,
        error=error,
        own=user_id == request.user.user_id,
    )


class SetPasswordPage(Controller):
    """The one-time link's page: no login; the link is the credential."""

    path = "/app/set-password"
    include_in_schema = False

    @get("/{token:str}")
    async def form(
        self, request: AnyRequest, db_session: Session, token: FromPath[str]
    ) -> Response[str]:
        found = await staff.usable_link(db_session, token)
        if found is None:
            return _dead_link(request)
        return _password_page(request, email=found[1].email, language=found[1].language)

    @post("/{token:str}", status_code=200)
    async def submit(
        self, request: AnyRequest, db_session: Session, token: FromPath[str]
    ) -> Response[Any]:
        form = await verified_public_form(request)
        password = _field(form, "password")
        found = await staff.usable_link(db_session, token)
        if found is None:
            return _dead_link(request)
        email, language = found[1].email, found[1].language
        if password != _field(form, "password_again"):
            with i18n.use(language):
                message = _("The two passwords differ.")
            return _password_page(
                request,
                email=email,
                language=language,
                fields={"password_again": message},
                status=422,
            )
        try:
            user = await staff.set_password(db_session, token=token, password=password)
        except staff.LinkUnusable:
            return _dead_link(request)
        except DomainError as refusal:
            await db_session.rollback()
            with i18n.use(language):
                fields = _told(refusal, password=password)[1]
            return _password_page(
                request, email=email, language=language, fields=fields, status=refusal.status_code
            )
        trail.note(
            db_session, request, action="user.password_set", status_code=303, user_id=user.id
        )
        return redirect("/app/login?session=password_set")


def _dead_link(request: AnyRequest) -> Response[str]:
    return page(request, "staff/dead_link", title=_("This link does not work any more"), status=410)


def _password_page(
    request: AnyRequest,
    *,
    email: str,
    language: str,
    fields: dict[str, str] | None = None,
    status: int = 200,
) -> Response[str]:
    """The link's page, in the language of the member it was made for (the
    language their mail was written in)."""
    return page(
        request,
        "staff/set_password",
        title=N_("Choose your password"),
        language=language,
        status=status,
        email=email,
        fields=fields or {},
        min_length=MIN_PASSWORD_LENGTH,
    )
