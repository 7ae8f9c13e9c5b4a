"""The tracking endpoints: the open pixel, click redirects, and the website's
page views (the snippet ``/t/v.js`` and its beacon ``POST /t/v``).

They answer without touching the database for the event itself: the event is
reduced and put on a Redis stream (``events.publish``) and a worker stores it
— only if the person allows tracking. A click goes only to a link the
campaign's own body contains (its index in ``trackable_links``); an unknown
index is a 404, never an open redirect. Page views: ``service.tracking.visits``.
"""

from __future__ import annotations

import base64
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie, State
from litestar.datastructures.headers import CacheControlHeader
from litestar.openapi import ResponseSpec
from litestar.params import FromPath
from litestar.response import Redirect

from service.campaigns.service import contents
from service.db import SessionMaker
from service.mail.render import trackable_links
from service.models import Campaign
from service.models.engagement import EngagementKind
from service.openapi import error_responses
from service.settings import Settings
from service.tokens import InvalidToken, TokenSigner
from service.tracking import events, visits

PublicRequest = Request[Any, Any, State]
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"Cache-Control": "no-store, private", "Referrer-Policy": "no-referrer"}
# A campaign's body is fixed once its send list is built, so from then on its
# links are read once per app (kept in app.state, never shared between apps).
_LINKS_KEPT = 1000


def _signer(request: PublicRequest) -> TokenSigner:
    signer: TokenSigner = request.app.state.signer
    return signer


def _settings(request: PublicRequest) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _publish(request: PublicRequest, **event: Any) -> None:
    redis = request.app.state.queue
    if redis is None:  # no queue configured: nothing can store the event
        return
    settings = _settings(request)
    await events.publish(
        redis,
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
        v4_prefix=settings.ip_v4_prefix,
        v6_prefix=settings.ip_v6_prefix,
        **event,
    )


async def _trackable(request: PublicRequest, contact_id: int) -> bool:
    async with _sessionmaker(request)() as session:
        return contact_id in await events.trackable(session, {contact_id})


def _visitor_cookie(request: PublicRequest, contact_id: int, campaign_id: int) -> Cookie:
    settings = _settings(request)
    return Cookie(
        key=visits.COOKIE_NAME,
        value=visits.cookie_value(_signer(request), contact_id, campaign_id),
        path=visits.COOKIE_PATH,
        max_age=settings.visit_cookie_days * 86_400,
        httponly=True,
        samesite="lax",
        secure=settings.public_url.startswith("https://"),
    )


def _sessionmaker(request: PublicRequest) -> SessionMaker:
    sessionmaker: SessionMaker = request.app.state.sessionmaker
    return sessionmaker


async def _links(request: PublicRequest, campaign_id: int) -> tuple[str, ...]:
    # No session for a cached campaign: a click is usually answered without
    # the database at all.
    cache: dict[int, tuple[str, ...]] = request.app.state.setdefault("campaign_links", {})
    if campaign_id in cache:
        return cache[campaign_id]
    async with _sessionmaker(request)() as session:
        campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        return ()
    links = trackable_links(*contents(campaign))
    if campaign.list_built_at is not None:
        if len(cache) >= _LINKS_KEPT:
            cache.clear()
        cache[campaign_id] = links
    return links


class TrackingController(Controller):
    path = "/t"
    tags = ["public links"]

    @get(
        "/o/{token:str}",
        summary="The open pixel (only in messages to people who allow tracking)",
        media_type="image/gif",
        responses={400: ResponseSpec(None, description="Not a pixel of ours (an empty answer).")},
    )
    async def open_pixel(self, request: PublicRequest, token: FromPath[str]) -> Response[bytes]:
        try:
            contact_id, campaign_id = _signer(request).verify(token.removesuffix(".gif"), "open")
        except (InvalidToken, ValueError):
            return Response(b"", status_code=400, headers=NO_STORE)
        await _publish(
            request, kind=EngagementKind.OPEN, contact_id=contact_id, campaign_id=campaign_id
        )
        return Response(PIXEL, media_type="image/gif", headers=NO_STORE)

    @get(
        "/c/{token:str}",
        summary="A click: recorded, then on to the campaign's link",
        responses={302: ResponseSpec(None, description="On to the campaign's link.")},
    )
    async def click(self, request: PublicRequest, token: FromPath[str]) -> Response[Any]:
        try:
            owner, campaign_id, index = _signer(request).verify(token, "click")
        except (InvalidToken, ValueError):
            return Response({"status_code": 400, "detail": "not a valid link"}, status_code=400)
        links = await _links(request, campaign_id)
        if not 0 <= index < len(links):
            return Response({"status_code": 404, "detail": "no such link"}, status_code=404)
        await _publish(
            request,
            kind=EngagementKind.CLICK,
            contact_id=owner or None,
            campaign_id=campaign_id,
            link_index=index,
        )
        # Personal links go only to people who allowed tracking when the
        # message was sent; the cookie needs that still to hold now.
        cookies = []
        if (
            owner
            and _settings(request).site_origins
            and not visits.opted_out(request.headers)
            and await _trackable(request, owner)
        ):
            cookies.append(_visitor_cookie(request, owner, campaign_id))
        return Redirect(links[index], status_code=302, headers=NO_STORE, cookies=cookies)

    @get(
        "/v.js",
        summary="The website snippet that sends page views",
        media_type="text/javascript",
        cache_control=CacheControlHeader(public=True, max_age=3600),
    )
    async def snippet(self) -> str:
        """Include it on the company's website as
        ``<script src="…/t/v.js" async></script>``; call
        ``consentry.consent(true)`` when the visitor accepts marketing cookies."""
        return visits.SNIPPET

    @post(
        "/v",
        summary="A page view from the website snippet",
        status_code=202,
        request_max_body_size=visits.MAX_BEACON_BYTES,
        responses={
            204: ResponseSpec(None, description="Deliberately not recorded."),
            **error_responses({403: "Page views are off, or the page is on another site."}),
        },
    )
    async def page_view(self, request: PublicRequest) -> Response[Any]:
        """202 when queued; 204 when deliberately not recorded (no visitor
        cookie, no cookie consent, Do Not Track or Global Privacy Control);
        400 for a body that is not a page view; 403 from another site."""
        settings = _settings(request)
        if not settings.site_origins:
            return _answer(403, "page views are off: CONSENTRY_SITE_ORIGINS names no website")
        origin = request.headers.get("origin")
        if origin is not None and origin.lower() not in settings.site_origins:
            return _answer(403, "page views are accepted only from the site's own pages")
        try:
            view = visits.parse_beacon(await request.body(), settings.site_origins)
        except visits.BadBeacon as exc:
            fields = {exc.field: str(exc)} if exc.field else {}
            return _answer(400, f"not a page view: {exc}", fields=fields)
        visitor = visits.read_cookie(
            _signer(request),
            request.cookies.get(visits.COOKIE_NAME),
            settings.visit_cookie_days,
        )
        if visitor is None or not view.consent or visits.opted_out(request.headers):
            return Response(b"", status_code=204, headers=NO_STORE)
        await _publish(
            request,
            kind=EngagementKind.VISIT,
            contact_id=visitor.contact_id,
            campaign_id=visitor.campaign_id,
            page=view.page,
            referrer=view.referrer,
            next_page=view.next_page,
        )
        return Response(b"", status_code=202, headers=NO_STORE)


def _answer(status: int, detail: str, fields: dict[str, str] | None = None) -> Response[Any]:
    body = {"status_code": status, "detail": detail, "fields": fields or {}}
    return Response(body, status_code=status, headers=NO_STORE)
