"""The Litestar application: the one route table, error mapping and shared state."""

from __future__ import annotations

import logging
import traceback
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from litestar import Controller, Litestar, Request, Response, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import (
    ClientException,
    HTTPException,
    SerializationException,
    ValidationException,
)
from litestar.middleware.base import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.status_codes import (
    HTTP_401_UNAUTHORIZED,
    HTTP_409_CONFLICT,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_500_INTERNAL_SERVER_ERROR,
)
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from service import __doc__ as product_summary
from service import dependency_cleanup, json_limits, queue
from service.audit import trail
from service.audit.controllers import AuditController
from service.auth.controllers import OwnTokenController, TokenController
from service.auth.middleware import TokenAuthenticationMiddleware
from service.breaches.controllers import BreachController
from service.campaigns.controllers import CampaignController, LayoutController
from service.campaigns.sms_hooks import SmsHookController
from service.consent.controllers import ConsentController
from service.consent.one_click import OneClickWriter
from service.consent.public import PublicController
from service.contacts.controllers import ContactController
from service.crypto import DataCipher
from service.dashboard.controllers import DashboardController
from service.db import create_engine, create_sessionmaker
from service.errors import Conflict, DomainError
from service.exports.controllers import ExportController
from service.forms.controllers import ConsentTextController, FormController
from service.forms.public import SignupFormController
from service.hooks.public import HookController
from service.imports.controllers import ImportController
from service.json_limits import NOT_AN_OBJECT
from service.observability.controllers import HealthController, MetricsController
from service.observability.wiring import attach as attach_observability
from service.openapi import docs_viewer, document_errors
from service.portal.public import PortalController
from service.processors.controllers import ProcessorController
from service.profiles.controllers import (
    ContactProfileController,
    InteractionController,
    ProfileController,
)
from service.requests.controllers import (
    DisclosureController,
    RecipientNotificationController,
    RequestController,
)
from service.retention.controllers import RetentionController
from service.retention.public import ForbidTransferController
from service.rights.controllers import RequestBanController, RightsController
from service.robinson.controllers import RobinsonController
from service.security import security_headers
from service.settings import Settings, get_settings
from service.suppressions.controllers import SuppressionController
from service.tokens import TokenSigner
from service.tracking.controllers import SiteConsentController
from service.tracking.public import TrackingController
from service.web.routes import web_router

logger = logging.getLogger("consentry.api")
# The route table: every route the service answers. A domain exposes its
# routes as controllers, staff routes in its ``controllers.py`` and routes
# reached without a login (from a message, a public page, a monitor) in its
# ``public.py``; they are listed here and nowhere else. The web interface's
# pages have their table in service.web.routes, mounted whole under /app.
# Under /api/v1: a staff member's bearer token or browser session, and the
# permission each route names.
STAFF_API: list[type[Controller]] = [
    ContactController,
    ConsentController,
    RightsController,
    RequestController,
    RequestBanController,
    DisclosureController,
    BreachController,
    ProcessorController,
    RecipientNotificationController,
    ContactProfileController,
    ProfileController,
    InteractionController,
    CampaignController,
    LayoutController,
    DashboardController,
    ImportController,
    ExportController,
    RobinsonController,
    SuppressionController,
    SiteConsentController,
    RetentionController,
    FormController,
    ConsentTextController,
    AuditController,
    TokenController,
    OwnTokenController,
]

# No login: unsubscribe and preferences (signed tokens), engagement tracking,
# signup forms and their confirmation links (one-time tokens), the
# transfer-notice refusal, the ESP webhooks (each provider's own
# signature), the SMS gateway's hook (its shared secret), and health and
# metrics (/metrics checks its own token or the client's address).
PUBLIC: list[type[Controller]] = [
    PublicController,
    SignupFormController,
    TrackingController,
    ForbidTransferController,
    HookController,
    HealthController,
    MetricsController,
    SmsHookController,
    PortalController,
]

# The largest request body any route takes unless it says otherwise (the CSV
# import allows 20 MB, the page-view beacon 4 KB); larger ones get a 413.
MAX_BODY_BYTES = 1_000_000


class GuardedRequest(Request[Any, Any, Any]):
    """The app's request class: a JSON body's nesting is measured before it
    is decoded (service.json_limits), and an undecodable body is a 400 that
    says why."""

    __slots__ = ()

    async def json(self) -> Any:
        try:
            json_limits.check_depth(await self.body())
            return await super().json()
        except json_limits.BadJson as exc:
            raise ClientException(str(exc)) from None
        except SerializationException as exc:
            raise ClientException(json_limits.not_json(str(exc))) from None


def _error(
    status_code: int, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {"status_code": status_code, "detail": detail}
    body.update({key: value for key, value in extra.items() if value})
    return Response(body, status_code=status_code, headers=headers)


def _domain_error(_: Request[Any, Any, Any], exc: DomainError) -> Response[dict[str, Any]]:
    reason = exc.reason if isinstance(exc, Conflict) else None
    return _error(exc.status_code, exc.detail, fields=exc.fields, reason=reason)


def _validation_error(
    _: Request[Any, Any, Any], exc: ValidationException
) -> Response[dict[str, Any]]:
    """Litestar's body and parameter errors, in our shape: one message per field.

    The rejected value is never echoed back: it may be an identity code."""
    fields: dict[str, str] = {}
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            key, message = _field_message(item)
            fields.setdefault(key, message)
    if fields.get("body") == NOT_AN_OBJECT:
        return _error(exc.status_code, NOT_AN_OBJECT, fields=fields)
    # Well-formed, but a field (or the whole, "body") is wrong: 422, with a
    # message each. A body that is not JSON, or not an object, stays a 400.
    status = HTTP_422_UNPROCESSABLE_ENTITY if fields else exc.status_code
    return _error(status, "the request is not valid", fields=fields)


def _field_message(item: dict[str, Any]) -> tuple[str, str]:
    key = str(item.get("key") or item.get("source") or "body")
    message = str(item.get("message", "invalid value")).removeprefix("Value error, ")
    # No body where one is required ("data" is missing), or a body that is not
    # an object at all (null, a list, a string, a number): the validator's
    # words ("'data'", "Input should be a valid dictionary or instance of
    # ContactCreate") mean nothing to the person who sent it.
    missing_body = key == "data" and item.get("source") == "body"
    not_an_object = "key" not in item and message.startswith("Input should be a valid dictionary")
    if missing_body or not_an_object:
        return "body", NOT_AN_OBJECT
    return key, message


def _http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    headers = dict(exc.headers or {})
    if exc.status_code == HTTP_401_UNAUTHORIZED:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="consentry"')
    return _error(exc.status_code, exc.detail, headers=headers)


def _integrity_error(_: Request[Any, Any, Any], exc: IntegrityError) -> Response[dict[str, Any]]:
    # A race the services' own checks could not see (two requests at once);
    # the transaction was rolled back.
    return _error(HTTP_409_CONFLICT, "the request conflicts with stored data; nothing was changed")


def _out_of_range(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    # A number beyond the database's 64-bit integers (an id such as 2**70:
    # OverflowError from SQLite, DataError from PostgreSQL); such a row cannot
    # exist. The value is not echoed back.
    return _error(422, "a value in the request is out of range; nothing was changed")


def _database_error(request: Request[Any, Any, Any], exc: DBAPIError) -> Response[dict[str, Any]]:
    # asyncpg refuses a parameter beyond the column's integer range before the
    # query is sent (an id such as 2**40) with its DataError, which SQLAlchemy
    # hands on as a plain DBAPIError: the same answer as SQLite's OverflowError.
    if isinstance(getattr(exc.orig, "__cause__", None), asyncpg.exceptions.DataError):
        return _out_of_range(request, exc)
    return _unexpected_error(request, exc)


def _unexpected_error(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    # The exception type and where it was raised, never its message: database
    # errors quote the values they failed on, and those can be personal data.
    where = "".join(traceback.format_tb(exc.__traceback__))
    logger.error("unhandled %s\n%s", type(exc).__name__, where)
    return _error(HTTP_500_INTERNAL_SERVER_ERROR, "internal error; nothing was changed")


async def provide_db_session(
    state: State, request: Request[Any, Any, Any]
) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler succeeded,
    rolled back when anything raised, so a bad request changes nothing.

    A request the audit trail records commits its audit row in the same
    transaction (service.audit.trail)."""
    async with state.sessionmaker() as session:
        trail.begin(session, request)
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


def provide_cipher(state: State) -> DataCipher:
    cipher: DataCipher = state.cipher
    return cipher


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    dependency_cleanup.install()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url)
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        app.state.queue = await queue.connect(settings.redis_url) if settings.redis_url else None
        app.state.one_click = OneClickWriter(app.state.sessionmaker)
        try:
            yield
        finally:
            await app.state.one_click.close()
            if app.state.queue is not None:
                await app.state.queue.aclose()
            await engine.dispose()

    api = Router(
        path="/api/v1",
        route_handlers=STAFF_API,
        middleware=[DefineMiddleware(TokenAuthenticationMiddleware)],
        security=[{"bearer": []}],
    )
    app = Litestar(
        route_handlers=[api, web_router(), *PUBLIC],
        lifespan=[lifespan],
        before_send=[
            security_headers(public_url=settings.public_url, cors_origins=settings.cors_origins)
        ],
        request_max_body_size=MAX_BODY_BYTES,
        # Measures a JSON body's nesting before it is decoded (service.json_limits).
        request_class=GuardedRequest,
        state=State(
            {
                "settings": settings,
                "cipher": DataCipher(settings.data_key),
                "signer": TokenSigner(settings.secret_key, settings.previous_secret_keys),
            }
        ),
        dependencies={
            "db_session": Provide(provide_db_session),
            "cipher": Provide(provide_cipher, sync_to_thread=False),
        },
        exception_handlers={
            DomainError: _domain_error,
            ValidationException: _validation_error,
            HTTPException: _http_error,
            IntegrityError: _integrity_error,
            OverflowError: _out_of_range,
            DataError: _out_of_range,
            DBAPIError: _database_error,
            Exception: _unexpected_error,
        },
        openapi_config=OpenAPIConfig(
            title="Consentry",
            version="1",
            description=product_summary,
            path="/schema",
            render_plugins=docs_viewer(),
            components=Components(
                security_schemes={
                    "bearer": SecurityScheme(type="http", scheme="bearer", description="API token")
                }
            ),
        ),
        # Logs are configured by service.observability (JSON or text, no
        # personal data), whichever server runs the app; not by Litestar.
        logging_config=None,
        debug=False,
    )
    attach_observability(app, settings)
    document_errors(app)
    return app
