"""The ESP webhook routes, ``POST /hooks/{ses,sendgrid,postmark,mailgun}``.

Machine endpoints: no staff login and no CSRF; each request proves itself
the provider's way (its module). What every hook does the same way is here:

- a provider without settings has no hook (404), so nobody can feed events
  through a provider the company does not use;
- authentication first: a request that fails it is a 401 and changes
  nothing, not even the list of tokens seen;
- a body that is not what the provider sends is a 400, never a 5xx;
- a request whose token (signature, SNS message id) was taken before is a
  401; the token is claimed before the events are recorded and given back
  when recording fails, so that the provider's retry is taken;
- the events go to ``service.inbound.events.record`` in one transaction.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Controller, Request, Response, post
from litestar.datastructures import State
from litestar.exceptions import (
    ClientException,
    NotAuthorizedException,
    NotFoundException,
    ServiceUnavailableException,
)
from redis.exceptions import RedisError

from service.crypto import DataCipher
from service.db import SessionMaker, session_scope
from service.hooks import mailgun, postmark, sendgrid, ses
from service.hooks.checks import Malformed, Refused, SeenTokens
from service.inbound import events
from service.inbound.events import DeliveryEvent, Source
from service.openapi import error_responses
from service.settings import Settings
from service.tokens import TokenSigner

logger = logging.getLogger("consentry.hooks")

PublicRequest = Request[Any, Any, State]
# The app-state name of the function that fetches SNS certificates and
# confirms subscriptions (ses.http_get unless a test puts another there).
SES_HTTP_GET = "ses_http_get"
_ANSWERS = error_responses(
    {
        400: "The body is not what the provider sends (not JSON, nested too deep, "
        "the wrong shape). Nothing was changed.",
        401: "Not authenticated the provider's way: no or a wrong signature or "
        "credentials, a timestamp more than 5 minutes from now, or a request taken "
        "before. Nothing was changed.",
        404: "This provider's hook is not configured.",
        413: "The body is larger than the service takes.",
    }
)


def _settings(request: PublicRequest) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _absent() -> NotFoundException:
    return NotFoundException("no such hook: this provider is not configured")


def _refused(provider: Source, exc: Refused, **headers: str) -> NotAuthorizedException:
    logger.info("hook %s refused: %s", provider.value, exc)
    return NotAuthorizedException(str(exc), headers=headers or None)


def _seen(request: PublicRequest) -> SeenTokens:
    state = request.app.state
    return SeenTokens(state.queue, state.setdefault("hook_tokens", {}))


@asynccontextmanager
async def _once(request: PublicRequest, provider: Source, token: str | None) -> AsyncIterator[None]:
    """Run the block for the first request with this token; a replay is a
    401. When the block fails, the token is given back."""
    if token is None:
        yield
        return
    seen = _seen(request)
    try:
        first = await seen.claim(provider.value, token)
    except RedisError:
        raise ServiceUnavailableException("the service cannot check for replays now") from None
    if not first:
        raise _refused(provider, Refused("this request was taken before (a replay)"))
    try:
        yield
    except BaseException:
        with contextlib.suppress(RedisError):
            await seen.release(provider.value, token)
        raise


async def _take(
    request: PublicRequest, provider: Source, found: list[DeliveryEvent], *, token: str | None
) -> Response[dict[str, Any]]:
    """Record the events, once per token; the answer the provider gets."""
    sessionmaker: SessionMaker = request.app.state.sessionmaker
    async with _once(request, provider, token), session_scope(sessionmaker) as session:
        await events.record(
            session,
            found,
            cipher=_cipher(request),
            signer=_signer(request),
            settings=_settings(request),
        )
    return Response({"events": len(found)}, status_code=200)


def _cipher(request: PublicRequest) -> DataCipher:
    cipher: DataCipher = request.app.state.cipher
    return cipher


def _signer(request: PublicRequest) -> TokenSigner:
    signer: TokenSigner = request.app.state.signer
    return signer


class HookController(Controller):
    path = "/hooks"
    tags = ["ESP webhooks"]

    @post("/mailgun", summary="Mailgun's bounce and complaint events", responses=_ANSWERS)
    async def mailgun(self, request: PublicRequest) -> Response[dict[str, Any]]:
        key = _settings(request).hooks.mailgun_signing_key
        if key is None:
            raise _absent()
        try:
            signed = mailgun.authenticate(await request.body(), key)
            found = mailgun.parse(signed.event)
        except Refused as exc:
            raise _refused(Source.MAILGUN, exc) from None
        except Malformed as exc:
            raise ClientException(str(exc)) from None
        return await _take(request, Source.MAILGUN, found, token=signed.token)

    @post("/sendgrid", summary="SendGrid's signed Event Webhook", responses=_ANSWERS)
    async def sendgrid(self, request: PublicRequest) -> Response[dict[str, Any]]:
        key = _settings(request).hooks.sendgrid_public_key
        if key is None:
            raise _absent()
        body = await request.body()
        try:
            token = sendgrid.authenticate(
                body,
                signature=request.headers.get(sendgrid.SIGNATURE_HEADER),
                timestamp=request.headers.get(sendgrid.TIMESTAMP_HEADER),
                public_key=key,
            )
            found = sendgrid.parse(body)
        except Refused as exc:
            raise _refused(Source.SENDGRID, exc) from None
        except Malformed as exc:
            raise ClientException(str(exc)) from None
        return await _take(request, Source.SENDGRID, found, token=token)

    @post("/postmark", summary="Postmark's bounce and spam-complaint webhooks", responses=_ANSWERS)
    async def postmark(self, request: PublicRequest) -> Response[dict[str, Any]]:
        hooks = _settings(request).hooks
        if hooks.postmark_user is None or hooks.postmark_password is None:
            raise _absent()
        try:
            postmark.authenticate(
                request.headers.get("authorization"),
                user=hooks.postmark_user,
                password=hooks.postmark_password,
            )
            found = postmark.parse(await request.body())
        except Refused as exc:
            raise _refused(Source.POSTMARK, exc, **{"WWW-Authenticate": postmark.REALM}) from None
        except Malformed as exc:
            raise ClientException(str(exc)) from None
        # No token: Postmark sends none; its record ID de-duplicates.
        return await _take(request, Source.POSTMARK, found, token=None)

    @post("/ses", summary="Amazon SES events through Amazon SNS", responses=_ANSWERS)
    async def ses(self, request: PublicRequest) -> Response[dict[str, Any]]:
        topics = _settings(request).hooks.ses_topic_arns
        if not topics:
            raise _absent()
        state = request.app.state
        get: ses.HttpGet = state.get(SES_HTTP_GET) or ses.http_get
        try:
            document = ses.envelope(await request.body())
            message = await ses.authenticate(
                document,
                topics=topics,
                get=get,
                certificates=state.setdefault("ses_certificates", {}),
            )
            found = []
            if message.type == ses.NOTIFICATION:
                found = ses.parse(message.message, message.message_id)
        except Refused as exc:
            raise _refused(Source.SES, exc) from None
        except Malformed as exc:
            raise ClientException(str(exc)) from None
        except ses.Unreachable:
            logger.warning("hook ses: the SNS signing certificate cannot be fetched now")
            raise ServiceUnavailableException("cannot verify the message now") from None
        if message.type == ses.SUBSCRIBE:
            return await _confirm(request, message, get)
        if message.type == ses.UNSUBSCRIBE:
            logger.warning("hook ses: SNS says the subscription to a topic ended")
        return await _take(request, Source.SES, found, token=message.message_id)


async def _confirm(
    request: PublicRequest, message: ses.SnsMessage, get: ses.HttpGet
) -> Response[dict[str, Any]]:
    """Confirm an SNS subscription to a configured topic, once."""
    assert message.subscribe_url is not None
    async with _once(request, Source.SES, message.message_id):
        try:
            await get(message.subscribe_url)
        except Exception:  # SNS unreachable: it sends the request again
            logger.warning("hook ses: confirming the subscription failed")
            raise ServiceUnavailableException("could not confirm the subscription now") from None
    logger.info("hook ses: subscription confirmed")
    return Response({"confirmed": True}, status_code=200)
