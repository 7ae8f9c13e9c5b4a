"""The public side of signup forms: the hosted form ``/s/{slug}`` and the
confirmation link ``/c/{token}`` (double opt-in).

``POST /s/{slug}`` takes a plain HTML form (from the hosted page or any
site's own form) or JSON with CORS for the form's own ``origins``. A valid
submission always gets the same answer — a 303 to the form's thank-you URL,
else the thank-you page (JSON: 200 ``{"status": "pending"}``) — whatever
happened behind it (service.forms.signup). The confirmation mail is queued
after the commit, for the worker (workers/forms.py).

``GET /c/{token}`` shows what would be granted and a button, and changes
nothing (mail scanners fetch links); ``POST /c/{token}`` grants. A forged,
unknown or expired link gets the same generic 400 page as the other public
links. The pages set no cookie and need no JavaScript.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import MediaType
from litestar.exceptions import ClientException
from litestar.params import FromPath, FromQuery
from litestar.types import ASGIApp, Receive, Scope, Send
from redis.exceptions import RedisError
from sqlmodel.ext.asyncio.session import AsyncSession

from service import json_limits, queue
from service.consent import archive
from service.crypto import DataCipher
from service.errors import InvalidInput
from service.forms import signup as signups
from service.forms import submission as submissions
from service.forms.schemas import HONEYPOT_FIELD
from service.forms.texts import FIELD_LABELS, FIELD_ORDER, LANGUAGES, PAGE_TEXT
from service.ip import truncate_ip
from service.models import Signup, SignupForm
from service.openapi import error_responses
from service.public_pages import (
    HEADERS,
    PublicRequest,
    Session,
    browser_language,
    render,
    settings_of,
)

logger = logging.getLogger(__name__)

SEND_CONFIRMATION = "send_signup_confirmation"
PENDING = {"status": "pending"}
RECEIVED = {"status": "received"}  # a form without double opt-in: granted at once

_AUTOCOMPLETE = {
    "full_name": "name",
    "nickname": "nickname",
    "email": "email",
    "phone": "tel",
    "employer": "organization",
    "position": "organization-title",
    "street_address": "street-address",
    "postal_code": "postal-code",
    "city": "address-level2",
    "country": "country",
}
_INPUT_TYPE = {"email": "email", "phone": "tel"}
NO_FORM = "No active form has this slug: a page saying so."
FORM_ERRORS = (
    "The form has errors: the form again with each one named (a JSON request gets "
    "`{status_code, detail, fields}` instead), or the body cannot be read. Nothing was kept."
)
_FORM_PAGES = error_responses({404: NO_FORM}, MediaType.HTML)
_SUBMIT_PAGES = error_responses({400: FORM_ERRORS, 404: NO_FORM}, MediaType.HTML)


def confirmation_job_id(signup_id: int) -> str:
    return f"signup:{signup_id}:confirm"


def _origin(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def _headers(*redirect_targets: str | None) -> dict[str, str]:
    """The public pages' headers; the form-action also allows where a POST
    redirects to (Chrome enforces form-action on redirects)."""
    origins = sorted({o for o in map(_origin, redirect_targets) if o is not None})
    if not origins:
        return HEADERS
    return {
        **HEADERS,
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
        f"form-action 'self' {' '.join(origins)}",
    }


def _page(
    request: PublicRequest,
    name: str,
    lang: str,
    *,
    title: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **values: Any,
) -> Response[str]:
    return render(
        request,
        name,
        lang=lang,
        text=PAGE_TEXT[lang],
        title=title,
        status=status,
        headers=headers,
        **values,
    )


def _invalid(request: PublicRequest) -> Response[str]:
    lang = browser_language(request)
    return _page(
        request, "confirm_invalid", lang, title=PAGE_TEXT[lang]["invalid_title"], status=400
    )


def _missing(request: PublicRequest) -> Response[str]:
    lang = browser_language(request)
    return _page(
        request, "signup_missing", lang, title=PAGE_TEXT[lang]["missing_title"], status=404
    )


def _network(request: PublicRequest) -> str | None:
    host = request.client.host if request.client else None
    try:
        return truncate_ip(host) if host else None
    except ValueError:
        return None


def _is_json(request: PublicRequest) -> bool:
    content_type = request.headers.get("content-type", "")
    return content_type.split(";")[0].strip().lower() == "application/json"


def _cors(request: PublicRequest, form: SignupForm) -> dict[str, str]:
    """CORS for the form's own origins only: an exact match, never ``*``."""
    origin = request.headers.get("origin")
    headers = {"Vary": "Origin"}
    if origin and origin in form.origins:
        headers["Access-Control-Allow-Origin"] = origin
    return headers


def _json(
    request: PublicRequest, form: SignupForm, body: dict[str, Any], status: int = 200
) -> Response[dict[str, Any]]:
    return Response(
        body,
        status_code=status,
        media_type=MediaType.JSON,
        headers={"Cache-Control": "no-store", **_cors(request, form)},
    )


async def _offer_rows(
    session: AsyncSession, form: SignupForm, lang: str, ticked: set[str]
) -> list[dict[str, Any]]:
    offers = submissions.offers_of(form)
    ids = [offer.texts.get(lang) or next(iter(offer.texts.values()), 0) for offer in offers]
    texts = await archive.many(session, [i for i in ids if i])
    return [
        {
            "value": offer.value,
            "id": f"consent-{index}",
            "text": texts[text_id].body if text_id in texts else offer.value,
            "checked": offer.value in ticked,
        }
        for index, (offer, text_id) in enumerate(zip(offers, ids, strict=True))
    ]


def _field_rows(
    form: SignupForm, lang: str, values: dict[str, str], errors: dict[str, str]
) -> list[dict[str, Any]]:
    text = PAGE_TEXT[lang]
    rows = []
    for name in FIELD_ORDER:
        if name not in form.fields:
            continue
        error = errors.get(name)
        rows.append(
            {
                "name": name,
                "id": f"f-{name}",
                "label": FIELD_LABELS[lang][name],
                "required": bool(form.fields[name]),
                "type": _INPUT_TYPE.get(name, "text"),
                "autocomplete": _AUTOCOMPLETE.get(name, "on"),
                "value": values.get(name, "")[:400],
                "error": None
                if error is None
                else text["err_required"]
                if error == "required"
                else text["err_invalid"],
            }
        )
    return rows


async def _form_page(
    request: PublicRequest,
    session: AsyncSession,
    form: SignupForm,
    lang: str,
    *,
    values: dict[str, str] | None = None,
    ticked: set[str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response[str]:
    errors = errors or {}
    fields = _field_rows(form, lang, values or {}, errors)
    error_list = [
        {"id": row["id"], "label": row["label"], "message": row["error"]}
        for row in fields
        if row["error"]
    ]
    consent_error = PAGE_TEXT[lang]["err_consent"] if "consent" in errors else None
    if consent_error:
        error_list.append({"id": "consent-0", "label": "", "message": consent_error})
    contact = settings_of(request).privacy_contact
    return _page(
        request,
        "signup",
        lang,
        title=form.name,
        status=400 if errors else 200,
        headers=_headers(form.thank_you_url),
        form=form,
        fields=fields,
        offers=await _offer_rows(session, form, lang, ticked or set()),
        consent_error=consent_error,
        error_list=error_list,
        languages=[code for code in submissions.languages_of(form) if code in LANGUAGES],
        honeypot=HONEYPOT_FIELD,
        privacy_mail=contact if "@" in contact and " " not in contact.strip() else None,
    )


async def _read(request: PublicRequest) -> submissions.Submission:
    """The submission, JSON or form-encoded; ClientException when it cannot be read."""
    if _is_json(request):
        try:
            data = json_limits.loads(await request.body())
        except json_limits.BadJson as exc:
            raise ClientException(str(exc)) from None
        if not isinstance(data, dict):
            raise ClientException(json_limits.NOT_AN_OBJECT)
        consents = data.pop("consent", [])
        if isinstance(consents, str):
            consents = [consents]
        fields = {}
        for name, value in data.items():
            if not isinstance(name, str) or not isinstance(value, str):
                raise ClientException(f"{str(name)[:40]}: must be a string")
            fields[name] = value
        if not isinstance(consents, list) or not all(isinstance(c, str) for c in consents):
            raise ClientException("consent: must be a list of strings")
    else:
        try:
            posted = await request.form()
        except Exception:  # a body the form parser cannot read, whatever its fault
            raise ClientException("the form cannot be read") from None
        consents = [str(value) for value in posted.getall("consent", [])]
        fields = {
            str(name): value
            for name, value in posted.items()
            if name != "consent" and isinstance(value, str)
        }
    return submissions.Submission(
        fields=fields,
        language=fields.pop("language", None),
        consents=consents,
        honeypot=fields.pop(HONEYPOT_FIELD, ""),
    )


async def _queue_confirmation(request: PublicRequest, signup_id: int) -> None:
    redis = request.app.state.queue
    if redis is None:
        logger.warning("a signup's confirmation mail was not queued: no queue is configured")
        return
    try:
        await queue.enqueue(
            redis, SEND_CONFIRMATION, signup_id, job_id=confirmation_job_id(signup_id)
        )
    except (RedisError, OSError):
        logger.warning("a signup's confirmation mail could not be queued (signup %d)", signup_id)


def _preflight(app: ASGIApp) -> ASGIApp:
    """CORS preflight (``OPTIONS /s/{slug}``) for a JSON POST from one of the
    form's own origins. Litestar answers OPTIONS itself (its handler cannot be
    replaced), so the answer is made here, around it: 204, and the allowing
    headers only for a listed origin."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") != "OPTIONS":
            await app(scope, receive, send)
            return
        slug = str(scope.get("path_params", {}).get("slug", ""))
        origin = next((v for k, v in scope["headers"] if k == b"origin"), b"").decode("latin-1")
        headers = [(b"vary", b"Origin"), (b"cache-control", b"no-store")]
        if slug and origin:
            async with scope["app"].state.sessionmaker() as session:
                form = await submissions.active_form(session, slug)
            if form is not None and origin in form.origins:
                headers += [
                    (b"access-control-allow-origin", origin.encode("latin-1")),
                    (b"access-control-allow-methods", b"POST"),
                    (b"access-control-allow-headers", b"content-type"),
                    (b"access-control-max-age", b"600"),
                ]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    return middleware


class SignupFormController(Controller):
    path = "/"
    tags = ["signup forms"]
    middleware = [_preflight]

    @get(
        "/s/{slug:str}",
        summary="A hosted signup form",
        media_type=MediaType.HTML,
        responses=_FORM_PAGES,
    )
    async def form_page(
        self,
        request: PublicRequest,
        db_session: Session,
        slug: FromPath[str],
        lang: FromQuery[str | None] = None,
    ) -> Response[str]:
        """``?lang=fi|sv|en`` among the form's languages; else the browser's."""
        form = await submissions.active_form(db_session, slug)
        if form is None:
            return _missing(request)
        language = submissions.choose_language(
            form, lang, request.headers.get("accept-language", "")
        )
        return await _form_page(request, db_session, form, language)

    @post(
        "/s/{slug:str}",
        status_code=200,
        summary="Submit a signup form (form-encoded or JSON)",
        media_type=MediaType.HTML,
        responses=_SUBMIT_PAGES,
    )
    async def submit(
        self,
        request: PublicRequest,
        db_session: Session,
        cipher: NamedDependency[DataCipher],
        slug: FromPath[str],
        lang: FromQuery[str | None] = None,
    ) -> Response[Any]:
        form = await submissions.active_form(db_session, slug)
        if form is None:
            return _missing(request)
        as_json = _is_json(request)
        try:
            submission = await _read(request)
        except ClientException as exc:
            if as_json:
                return _json(request, form, {"status_code": 400, "detail": exc.detail}, 400)
            language = submissions.choose_language(form, lang, "")
            return await _form_page(request, db_session, form, language, errors={"body": "x"})
        language = submissions.choose_language(
            form, submission.language or lang, request.headers.get("accept-language", "")
        )
        try:
            valid = submissions.validate(form, submission, language)
        except InvalidInput as exc:
            if as_json:
                body = {"status_code": 400, "detail": exc.detail, "fields": exc.fields}
                return _json(request, form, body, 400)
            return await _form_page(
                request,
                db_session,
                form,
                language,
                values=submission.fields,
                ticked=set(submission.consents),
                errors=exc.fields or {},
            )
        signup_id = await signups.submit(
            db_session,
            form=form,
            valid=valid,
            network=_network(request),
            cipher=cipher,
            settings=settings_of(request),
        )
        # Committed before it is queued: the job must find the signup.
        await db_session.commit()
        if signup_id is not None:
            await _queue_confirmation(request, signup_id)
        if as_json:
            return _json(request, form, PENDING if form.double_opt_in else RECEIVED)
        if form.thank_you_url:
            return Response(
                None,
                status_code=303,
                headers={**_headers(form.thank_you_url), "Location": form.thank_you_url},
            )
        text = PAGE_TEXT[language]
        return _page(
            request,
            "signup_thanks",
            language,
            title=text["thanks_title"],
            message=text["thanks_doi"].format(days=settings_of(request).doi_expiry_days)
            if form.double_opt_in
            else text["thanks_direct"],
        )

    @get(
        "/c/{token:str}",
        summary="A signup's confirmation page (changes nothing)",
        media_type=MediaType.HTML,
    )
    async def confirm_page(
        self, request: PublicRequest, db_session: Session, token: FromPath[str]
    ) -> Response[str]:
        signup = await signups.by_token(db_session, token)
        if signup is None:
            return _invalid(request)
        form = await db_session.get(SignupForm, signup.form_id)
        if signup.confirmed_at is not None:
            return _confirmed(request, signup, form)
        lang = signup.language if signup.language in LANGUAGES else "en"
        return _page(
            request,
            "confirm",
            lang,
            title=PAGE_TEXT[lang]["confirm_title"],
            headers=_headers(form.confirmed_url if form else None),
            texts=await signups.shown_texts(db_session, signup),
        )

    @post(
        "/c/{token:str}",
        status_code=200,
        summary="Confirm a signup (double opt-in): grants what it asked for",
        media_type=MediaType.HTML,
    )
    async def confirm(
        self, request: PublicRequest, db_session: Session, token: FromPath[str]
    ) -> Response[Any]:
        signup = await signups.by_token(db_session, token)
        if signup is None:
            return _invalid(request)
        form = await db_session.get(SignupForm, signup.form_id)
        if signup.confirmed_at is None:
            granted = await signups.confirm(db_session, signup, network=_network(request))
            if not granted and signup.confirmed_at is None:
                # The address may no longer get anything: nothing was granted.
                return _invalid(request)
        return _confirmed(request, signup, form)


def _confirmed(request: PublicRequest, signup: Signup, form: SignupForm | None) -> Response[Any]:
    url = form.confirmed_url if form is not None else None
    if url:
        return Response(None, status_code=303, headers={**_headers(url), "Location": url})
    lang = signup.language if signup.language in LANGUAGES else "en"
    return _page(request, "confirm_done", lang, title=PAGE_TEXT[lang]["confirmed_title"])
