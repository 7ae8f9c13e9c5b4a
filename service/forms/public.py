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

The routes are here; the pages they answer with are service.forms.pages,
reading a POST's body and CORS service.forms.intake.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import MediaType
from litestar.exceptions import ClientException
from litestar.params import FromPath, FromQuery
from redis.exceptions import RedisError

from service import queue
from service.crypto import DataCipher
from service.errors import InvalidInput
from service.forms import intake, pages
from service.forms import signup as signups
from service.forms import submission as submissions
from service.forms.texts import LANGUAGES, PAGE_TEXT
from service.models import SignupForm
from service.openapi import error_responses
from service.public_pages import PublicRequest, Session, client_network, settings_of

logger = logging.getLogger(__name__)

SEND_CONFIRMATION = "send_signup_confirmation"
PENDING = {"status": "pending"}
RECEIVED = {"status": "received"}  # a form without double opt-in: granted at once
NO_FORM = "No active form has this slug: a page saying so."
FORM_ERRORS = (
    "The form has errors: the form again with each one named (a JSON request gets "
    "`{status_code, detail, fields}` instead), or the body cannot be read. Nothing was kept."
)
_FORM_PAGES = error_responses({404: NO_FORM}, MediaType.HTML)
_SUBMIT_PAGES = error_responses({400: FORM_ERRORS, 404: NO_FORM}, MediaType.HTML)


def confirmation_job_id(signup_id: int) -> str:
    return f"signup:{signup_id}:confirm"


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


class SignupFormController(Controller):
    path = "/"
    tags = ["signup forms"]
    middleware = [intake.preflight]

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
            return pages.missing(request)
        language = submissions.choose_language(
            form, lang, request.headers.get("accept-language", "")
        )
        return await pages.form_page(request, db_session, form, language)

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
            return pages.missing(request)
        as_json = intake.is_json(request)
        try:
            submission = await intake.read(request)
        except ClientException as exc:
            if as_json:
                return intake.json_answer(
                    request, form, {"status_code": 400, "detail": exc.detail}, 400
                )
            language = submissions.choose_language(form, lang, "")
            return await pages.form_page(request, db_session, form, language, errors={"body": "x"})
        language = submissions.choose_language(
            form, submission.language or lang, request.headers.get("accept-language", "")
        )
        try:
            valid = submissions.validate(form, submission, language)
        except InvalidInput as exc:
            if as_json:
                body = {"status_code": 400, "detail": exc.detail, "fields": exc.fields}
                return intake.json_answer(request, form, body, 400)
            return await pages.form_page(
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
            network=client_network(request),
            cipher=cipher,
            settings=settings_of(request),
        )
        # Committed before it is queued: the job must find the signup.
        await db_session.commit()
        if signup_id is not None:
            await _queue_confirmation(request, signup_id)
        if as_json:
            return intake.json_answer(request, form, PENDING if form.double_opt_in else RECEIVED)
        return pages.thanks(request, form, language)

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
            return pages.invalid(request)
        form = await db_session.get(SignupForm, signup.form_id)
        if signup.confirmed_at is not None:
            return pages.confirmed(request, signup, form)
        lang = signup.language if signup.language in LANGUAGES else "en"
        return pages.page(
            request,
            "confirm",
            lang,
            title=PAGE_TEXT[lang]["confirm_title"],
            headers=pages.headers(form.confirmed_url if form else None),
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
            return pages.invalid(request)
        form = await db_session.get(SignupForm, signup.form_id)
        if signup.confirmed_at is None:
            granted = await signups.confirm(db_session, signup, network=client_network(request))
            if not granted and signup.confirmed_at is None:
                # The address may no longer get anything: nothing was granted.
                return pages.invalid(request)
        return pages.confirmed(request, signup, form)
