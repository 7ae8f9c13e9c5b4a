"""The tracking endpoints a message reaches: the open pixel and click redirects.

They answer without touching the database for the event itself: the event is
reduced and put on a Redis stream (``events.publish``) and a worker stores it
— only if the person allows tracking. A click goes only to a link the
campaign's own body contains (its index in ``trackable_links``); an unknown
index is a 404, never an open redirect.
"""

from __future__ import annotations

import base64
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect
from sqlmodel.ext.asyncio.session import AsyncSession

from service.campaigns.service import contents
from service.mail.render import trackable_links
from service.models import Campaign
from service.models.engagement import EngagementKind
from service.tokens import InvalidToken, TokenSigner
from service.tracking import events

Session = NamedDependency[AsyncSession]
PublicRequest = Request[Any, Any, State]
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"Cache-Control": "no-store, private", "Referrer-Policy": "no-referrer"}
# A sent campaign's body never changes, so its links are read once per process.
_LINKS: dict[int, tuple[str, ...]] = {}
_LINKS_KEPT = 1000


def _signer(request: PublicRequest) -> TokenSigner:
    signer: TokenSigner = request.app.state.signer
    return signer


async def _publish(request: PublicRequest, **event: Any) -> None:
    redis = request.app.state.queue
    if redis is None:  # no queue configured: nothing can store the event
        return
    await events.publish(
        redis,
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
        **event,
    )


async def _links(session: AsyncSession, campaign_id: int) -> tuple[str, ...]:
    if campaign_id not in _LINKS:
        campaign = await session.get(Campaign, campaign_id)
        if campaign is None:
            return ()
        if len(_LINKS) >= _LINKS_KEPT:
            _LINKS.clear()
        _LINKS[campaign_id] = trackable_links(*contents(campaign))
    return _LINKS[campaign_id]


class TrackingController(Controller):
    path = "/t"
    tags = ["public links"]

    @get("/o/{token:str}", summary="The open pixel (only in messages to people who allow tracking)")
    async def open_pixel(self, request: PublicRequest, token: FromPath[str]) -> Response[bytes]:
        try:
            contact_id, campaign_id = _signer(request).verify(token.removesuffix(".gif"), "open")
        except (InvalidToken, ValueError):
            return Response(b"", status_code=400, headers=NO_STORE)
        await _publish(
            request, kind=EngagementKind.OPEN, contact_id=contact_id, campaign_id=campaign_id
        )
        return Response(PIXEL, media_type="image/gif", headers=NO_STORE)

    @get("/c/{token:str}", summary="A click: recorded, then on to the campaign's link")
    async def click(
        self, request: PublicRequest, db_session: Session, token: FromPath[str]
    ) -> Response[Any]:
        try:
            owner, campaign_id, index = _signer(request).verify(token, "click")
        except (InvalidToken, ValueError):
            return Response({"status_code": 400, "detail": "not a valid link"}, status_code=400)
        links = await _links(db_session, campaign_id)
        if not 0 <= index < len(links):
            return Response({"status_code": 404, "detail": "no such link"}, status_code=404)
        await _publish(
            request,
            kind=EngagementKind.CLICK,
            contact_id=owner or None,
            campaign_id=campaign_id,
            link_index=index,
        )
        return Redirect(links[index], status_code=302, headers=NO_STORE)
