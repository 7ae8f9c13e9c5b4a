"""The error answers in the OpenAPI schema, written once for every operation.

Every error is the same JSON object (``ErrorBody``). Which ones an operation
can give follows from how it is declared, so ``document_errors`` derives them
from the route table when the app is built:

- 400: the operation takes input (a body, path or query parameters): bad
  JSON, a body nested too deep, a body that is not an object, a parameter
  of the wrong type;
- 401: it needs a bearer token or a session (it declares ``security``);
- 403: it has guards (a permission of the role);
- 404: its path names something (an id or a token), or its staff body may
  (``user_id``, ``contact_id``);
- 409: it changes stored data for staff (a conflict with a stored row);
- 413: it takes a body (every body has a size limit);
- 422: it takes a ``data`` body, query parameters or an id in the path, or
  changes data for staff (a value breaking a rule of the service, an id out
  of range).

A public HTML page (``media_type=MediaType.HTML``) answers its 400 with a
page (a damaged link), not with JSON. An operation documents the answers
this cannot see in its own ``responses=`` (``error_responses`` builds them);
its own declarations win.

The schema's viewer (``docs_viewer``) is Swagger UI served from this
origin (templates/web/static/vendor/), started by a script of ours rather
than an inline one: the docs pages work offline and under a policy that
allows scripts, styles and requests only from 'self'.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from typing import Any

from litestar import Litestar, Request
from litestar.enums import MediaType
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import ResponseSpec
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.routes import HTTPRoute

from service.json_limits import MAX_DEPTH


@dataclass
class ErrorBody:
    """An error: its status code, a message for people, and where it helps a
    message per field (``fields``) or a reason code (``reason``, e.g.
    ``suppressed`` on a 409)."""

    status_code: int
    detail: str
    fields: dict[str, str] | None = None
    reason: str | None = None


INVALID_LINK = "The link is damaged or forged: a page saying so. Nothing was changed."
BAD_REQUEST = (
    "The request is malformed: the body is not valid JSON, is nested deeper than "
    f"{MAX_DEPTH} levels or is not a JSON object, or a value has the wrong type "
    "(`fields` names each one). Nothing was changed."
)
UNAUTHORIZED = "No valid bearer token (or staff session) came with the request."
FORBIDDEN = "The caller's role lacks a permission this operation needs."
NOT_FOUND = "Nothing exists under an id or token in the path (or an id in the body)."
CONFLICT = (
    "The request conflicts with stored data (e.g. an email already registered; "
    "`reason` says why). Nothing was changed."
)
TOO_LARGE = "The body is larger than this operation takes."
UNPROCESSABLE = (
    "A value breaks a rule of the service (`fields` says which), or a number is "
    "out of range. Nothing was changed."
)
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_BODIES = frozenset({"POST", "PUT", "PATCH"})
# Keyword arguments Litestar fills from the connection, not from the request's
# parameters.
_RESERVED = frozenset(
    {"self", "request", "state", "scope", "headers", "cookies", "query", "data", "body"}
)


def error_responses(
    answers: Mapping[int, str], media_type: str = MediaType.JSON
) -> dict[int, ResponseSpec]:
    """``responses=`` for a route's decorator: status code → when it is given."""
    container = ErrorBody if media_type == MediaType.JSON else str
    return {
        code: ResponseSpec(
            data_container=container,
            description=description,
            media_type=media_type,
            generate_examples=False,
        )
        for code, description in answers.items()
    }


def _answers(route: HTTPRoute, handler: HTTPRouteHandler) -> dict[int, ResponseSpec]:
    methods = set(handler.http_methods)
    parameters = set(handler.parsed_fn_signature.parameters)
    dependencies = set(handler.resolve_dependencies())
    takes_data = "data" in parameters
    takes_body = bool(methods & _BODIES) or takes_data
    query = parameters - _RESERVED - dependencies - set(route.path_parameters)
    takes_id = any(p.type is int for p in route.path_parameters.values())
    takes_parameters = bool(route.path_parameters or query)
    staff = bool(handler.resolve_security())
    answers: dict[int, str] = {}
    if takes_body or takes_parameters:
        answers[400] = BAD_REQUEST
    if staff:
        answers[401] = UNAUTHORIZED
    if handler.resolve_guards():
        answers[403] = FORBIDDEN
    if route.path_parameters or (staff and takes_data):
        answers[404] = NOT_FOUND
    if staff and methods & _WRITES:
        answers[409] = CONFLICT
    if takes_body:
        answers[413] = TOO_LARGE
    if takes_data or query or takes_id or (staff and methods & _WRITES):
        answers[422] = UNPROCESSABLE
    documented = error_responses(answers)
    if 400 in answers and handler.media_type == MediaType.HTML:
        documented.update(error_responses({400: INVALID_LINK}, MediaType.HTML))
    return documented


def document_errors(app: Litestar) -> None:
    """Add the error answers to every operation of ``app``'s schema.

    Litestar gives each app its own copy of a route handler, so this changes
    nothing another app sees; the schema is built from these on first use."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if not handler.resolve_include_in_schema():
                continue
            own = dict(handler.responses or {})
            handler.responses = {**_answers(route, handler), **own}


SWAGGER_UI = "/app/static/vendor/swagger-ui-5.35.0"
FAVICON = "/app/static/favicon.svg"


class LocalSwagger(SwaggerRenderPlugin):
    """Swagger UI from this origin, started by ``/app/static/swagger-init.js``
    with the schema's URL (Litestar's own page loads it from a CDN and starts
    it with an inline script that a strict policy refuses)."""

    def __init__(self) -> None:
        super().__init__(
            js_url=f"{SWAGGER_UI}/swagger-ui-bundle.js",
            css_url=f"{SWAGGER_UI}/swagger-ui.css",
            path=["/swagger", "/"],
        )

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        title = escape(str(openapi_schema["info"]["title"]))
        schema_url = escape(self.get_openapi_json_route(request))
        return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} API</title>
<link rel="icon" href="{FAVICON}" type="image/svg+xml">
<link rel="stylesheet" href="{self.css_url}">
<script src="{self.js_url}" defer></script>
<script src="/app/static/swagger-init.js" defer></script>
</head>
<body>
<main id="swagger-ui" data-schema-url="{schema_url}"></main>
</body>
</html>
""".encode()


def docs_viewer() -> list[SwaggerRenderPlugin]:
    """The render plugins of ``OpenAPIConfig``: Swagger UI at ``/schema`` and
    ``/schema/swagger`` (the JSON document is always at ``/schema/openapi.json``)."""
    return [LocalSwagger()]
