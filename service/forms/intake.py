"""How a submission arrives at ``POST /s/{slug}``: a plain HTML form
(form-encoded or multipart) or JSON, read into a ``Submission`` (``read``);
and CORS for JSON from the form's own ``origins`` only, on the answer
(``json_answer``) and on the preflight (``preflight``).
"""

from __future__ import annotations

from typing import Any

from litestar import Response
from litestar.enums import MediaType
from litestar.exceptions import ClientException
from litestar.types import ASGIApp, Receive, Scope, Send

from service import json_limits
from service.forms import submission as submissions
from service.forms.schemas import HONEYPOT_FIELD
from service.models import SignupForm
from service.public_pages import PublicRequest


def is_json(request: PublicRequest) -> bool:
    content_type = request.headers.get("content-type", "")
    return content_type.split(";")[0].strip().lower() == "application/json"


def cors(request: PublicRequest, form: SignupForm) -> dict[str, str]:
    """CORS for the form's own origins only: an exact match, never ``*``."""
    origin = request.headers.get("origin")
    headers = {"Vary": "Origin"}
    if origin and origin in form.origins:
        headers["Access-Control-Allow-Origin"] = origin
    return headers


def json_answer(
    request: PublicRequest, form: SignupForm, body: dict[str, Any], status: int = 200
) -> Response[dict[str, Any]]:
    return Response(
        body,
        status_code=status,
        media_type=MediaType.JSON,
        headers={"Cache-Control": "no-store", **cors(request, form)},
    )


async def read(request: PublicRequest) -> submissions.Submission:
    """The submission, JSON or form-encoded; ClientException when it cannot be read."""
    if is_json(request):
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


def preflight(app: ASGIApp) -> ASGIApp:
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
