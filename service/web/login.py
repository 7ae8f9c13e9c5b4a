"""The login pages: password, second factor (or its enrolment), logout.

The steps themselves are service.auth.login; these handlers carry the
cookie between them, and make sure a failed step still commits its record
(answering with an error page instead of raising, so the request's
transaction commits the attempt and its audit row).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock, i18n
from service.audit import trail
from service.auth import login, totp
from service.auth.cookies import session_cookie, session_token
from service.crypto import DataCipher
from service.i18n import _, gettext, ngettext
from service.labels import N_
from service.models import StaffSession, User
from service.settings import Settings
from service.validation import CONTROL_CHARACTERS
from service.web.render import page, principal_of
from service.web.session import login_csrf, redirect, verified_form, verified_login_form

Session = NamedDependency[AsyncSession]
AnyRequest = Request[Any, Any, Any]
HOME = "/app"
LOGIN = "/app/login"
_MAX_FIELD = 1000
_ENDED_NOTICE = {
    "ended": N_("You have signed out."),
    "expired": N_("Your session ended. Sign in again."),
    "password_set": N_("Your password is set. Sign in with it."),
}
# What service.auth tells a refused step, marked here so that it is translated
# when shown (service.auth speaks English to the API and the CLI).
_REFUSALS = (
    N_("The email or the password is wrong."),
    N_("The code is wrong or was already used."),
    N_("A second factor is already set up for this account."),
)


def _safe_next(value: str | None) -> str:
    """Only a path inside /app: never an open redirect to another site, and
    nothing a Location header cannot carry as it is. Anything else is /app."""
    if not value or CONTROL_CHARACTERS.search(value) or "\\" in value or " " in value:
        # urlsplit quietly drops tabs and line breaks, so they are refused before it.
        return HOME
    parts = urlsplit(value)
    inside = parts.path == HOME or parts.path.startswith(HOME + "/")
    if parts.scheme or parts.netloc or not inside:
        return HOME
    return value


def _told(refused: login.LoginRefused) -> str:
    """What the person is told of a refused step, in the language of the page."""
    if isinstance(refused, login.LoginThrottled):
        minutes = max(1, int((refused.until - clock.now()).total_seconds() + 59) // 60)
        return ngettext(
            "Too many failed attempts. Try again in %(num)d minute.",
            "Too many failed attempts. Try again in %(num)d minutes.",
            minutes,
        ) % {"num": minutes}
    return gettext(str(refused))


def _ip(request: AnyRequest) -> str | None:
    return request.client.host if request.client else None


def _settings(request: AnyRequest) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _cipher(request: AnyRequest) -> DataCipher:
    cipher: DataCipher = request.app.state.cipher
    return cipher


def _field(form: dict[str, Any], name: str) -> str:
    value = form.get(name)
    return value[:_MAX_FIELD] if isinstance(value, str) else ""


async def _pending(
    request: AnyRequest, db_session: AsyncSession
) -> tuple[StaffSession, User] | None:
    """The session between the password and the second factor, if this browser has one."""
    token = session_token(request)
    if not token:
        return None
    found = await login.find_session(db_session, token=token, settings=_settings(request))
    if found is None or found[0].second_factor_at is not None:
        return None
    return found


def _second_factor_refused(
    request: AnyRequest, db_session: AsyncSession, refused: login.LoginRefused, user: User
) -> int:
    """Audit a refused code (it commits with the attempt's record); the status to answer."""
    status = 429 if isinstance(refused, login.LoginThrottled) else 401
    trail.note(
        db_session,
        request,
        action="login.second_factor_failed",
        status_code=status,
        user_id=user.id,
    )
    return status


def _login_page(
    request: AnyRequest, *, error: str | None = None, status: int = 200, email: str = ""
) -> Response[str]:
    csrf, cookie = login_csrf(request)
    ended = _ENDED_NOTICE.get(request.query_params.get("session", ""))
    notice = gettext(ended) if ended else None
    return page(
        request,
        "login",
        title=_("Sign in"),
        status=status,
        cookies=[cookie] if cookie else None,
        login_csrf=csrf,
        error=error,
        notice=notice,
        email=email,
        next=_safe_next(request.query_params.get("next")),
    )


class LoginController(Controller):
    path = LOGIN
    include_in_schema = False

    @get("/")
    async def login_form(self, request: AnyRequest) -> Response[Any]:
        if principal_of(request) is not None:
            return redirect(_safe_next(request.query_params.get("next")))
        return _login_page(request)

    @post("/", status_code=200)
    async def submit_password(self, request: AnyRequest, db_session: Session) -> Response[Any]:
        form = await verified_login_form(request)
        email = _field(form, "email")
        try:
            opened = await login.check_password(
                db_session,
                email=email,
                password=_field(form, "password"),
                ip=_ip(request),
                cipher=_cipher(request),
            )
        except login.LoginThrottled as refused:
            trail.note(
                db_session,
                request,
                action="login.throttled",
                status_code=429,
                user_id=refused.user_id,
            )
            return _login_page(request, error=_told(refused), status=429, email=email)
        except login.LoginRefused as refused:
            trail.note(
                db_session, request, action="login.failed", status_code=401, user_id=refused.user_id
            )
            return _login_page(request, error=_told(refused), status=401, email=email)
        user = await db_session.get(User, opened.row.user_id)
        assert user is not None
        trail.note(db_session, request, action="login.password", status_code=303, user_id=user.id)
        step = "code" if user.totp_secret is not None else "enrol"
        target = f"{LOGIN}/{step}?next={quote(_safe_next(_field(form, 'next')), safe='/')}"
        return redirect(target, cookies=[session_cookie(_settings(request), opened.token)])

    @get("/code")
    async def code_form(self, request: AnyRequest, db_session: Session) -> Response[Any]:
        found = await _pending(request, db_session)
        if found is None:
            return redirect(f"{LOGIN}?session=expired")
        if found[1].totp_secret is None:
            return redirect(f"{LOGIN}/enrol")
        return _code_page(request, found[1])

    @post("/code", status_code=200)
    async def submit_code(
        self, request: AnyRequest, db_session: Session, next: FromQuery[str | None] = None
    ) -> Response[Any]:
        form = await verified_form(request)
        found = await _pending(request, db_session)
        if found is None or found[1].totp_secret is None:
            return redirect(f"{LOGIN}?session=expired")
        pending, user = found
        try:
            opened, used_recovery = await login.complete_with_code(
                db_session,
                pending=pending,
                code=_field(form, "code"),
                ip=_ip(request),
                cipher=_cipher(request),
                settings=_settings(request),
            )
        except login.LoginRefused as refused:
            status = _second_factor_refused(request, db_session, refused, user)
            with i18n.use(user.language):
                error = _told(refused)
            return _code_page(request, user, error=error, status=status)
        trail.note(
            db_session,
            request,
            action="login.recovery_code" if used_recovery else "login.succeeded",
            status_code=303,
            user_id=user.id,
        )
        target = _safe_next(_field(form, "next") or next)
        if used_recovery:
            target = f"{HOME}/account?recovery_used=1"
        return redirect(target, cookies=[session_cookie(_settings(request), opened.token)])

    @get("/enrol")
    async def enrol_form(self, request: AnyRequest, db_session: Session) -> Response[Any]:
        found = await _pending(request, db_session)
        if found is None:
            return redirect(f"{LOGIN}?session=expired")
        if found[1].totp_secret is not None:
            return redirect(f"{LOGIN}/code")
        return _enrol_page(request, *found)

    @post("/enrol", status_code=200)
    async def submit_enrolment(self, request: AnyRequest, db_session: Session) -> Response[Any]:
        form = await verified_form(request)
        found = await _pending(request, db_session)
        if found is None:
            return redirect(f"{LOGIN}?session=expired")
        pending, user = found
        try:
            opened, codes = await login.confirm_enrolment(
                db_session,
                pending=pending,
                code=_field(form, "code"),
                ip=_ip(request),
                cipher=_cipher(request),
                settings=_settings(request),
            )
        except login.LoginRefused as refused:
            status = _second_factor_refused(request, db_session, refused, user)
            with i18n.use(user.language):
                error = _told(refused)
            return _enrol_page(request, pending, user, error=error, status=status)
        trail.note(db_session, request, action="login.enrolled", status_code=200, user_id=user.id)
        settings = _settings(request)
        request.scope["user"] = await login.authenticate_session(
            db_session, token=opened.token, settings=settings
        )
        return page(
            request,
            "recovery_codes",
            title=N_("Your recovery codes"),
            codes=codes,
            next=_safe_next(_field(form, "next")),
            cookies=[session_cookie(settings, opened.token)],
        )


def _code_page(
    request: AnyRequest, user: User, *, error: str | None = None, status: int = 200
) -> Response[str]:
    """The second factor's page, in the language of the account whose password
    was just given (the title is translated by ``page``, in that language)."""
    return page(
        request,
        "code",
        title=N_("Second factor"),
        language=user.language,
        status=status,
        error=error,
        next=_safe_next(request.query_params.get("next")),
    )


def _enrol_page(
    request: AnyRequest,
    pending: StaffSession,
    user: User,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response[str]:
    secret = login.enrolment_secret(pending, _settings(request))
    uri = totp.provisioning_uri(secret, user.email)
    return page(
        request,
        "enrol",
        title=N_("Set up your second factor"),
        language=user.language,
        status=status,
        error=error,
        qr=totp.qr_svg(uri),
        secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        next=_safe_next(request.query_params.get("next")),
    )


class LogoutController(Controller):
    path = "/app/logout"
    include_in_schema = False

    @post("/", status_code=303)
    async def logout(self, request: AnyRequest, db_session: Session) -> Response[Any]:
        await verified_form(request)
        token = session_token(request)
        ended = await login.end_session(db_session, token=token) if token else None
        principal = principal_of(request)
        if ended is not None:
            trail.note(
                db_session,
                request,
                action="logout",
                status_code=303,
                user_id=principal.user_id if principal else ended.user_id,
            )
        return redirect(
            f"{LOGIN}?session=ended", cookies=[session_cookie(_settings(request), None)]
        )
