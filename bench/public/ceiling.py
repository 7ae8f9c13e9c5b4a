"""The ceiling: a minimal Litestar app in the public routes' shapes, served
beside the service so that the gap between the two is the service's own work."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request, Response, get, post

from service.tracking.public import PIXEL


def create_ceiling_app() -> Litestar:
    """The ceiling: the least a Litestar route does in each public route's shape.

    Served by uvicorn (``--factory bench.public:create_ceiling_app``) with the
    same options as the service, so the gap between the two is the service's
    own work: token checks, Redis, the database, pages.
    """

    @get("/ceiling/{token:str}")
    async def ceiling_get(token: str) -> Response[bytes]:
        return Response(PIXEL, media_type="image/gif")

    @post("/ceiling/{token:str}", status_code=200)
    async def ceiling_post(request: Request[Any, Any, Any], token: str) -> Response[bytes]:
        form = await request.form()
        if form.get("List-Unsubscribe") != "One-Click":
            return Response(b"bad form", status_code=400, media_type="text/plain")
        return Response(b"done", media_type="text/plain")

    return Litestar(route_handlers=[ceiling_get, ceiling_post], debug=False)
