"""The tracking endpoints: the open pixel, click redirects, the website's
page views (the snippet ``/t/v.js`` and its beacon ``POST /t/v``) and the
cookie banner's decisions (``POST /t/consent``).

They answer without touching the database for the event itself: the event is
reduced and put on a Redis stream (``events.publish``) and a worker stores it
— only if the person allows tracking. A click goes only to a link the
campaign's own body contains (its index in ``trackable_links``); an unknown
index is a 404, never an open redirect. Page views: ``service.tracking.visits``;
cookie decisions, and the one look-up that lets a page view through:
``service.tracking.site_consent``.
"""

from __future__ import annotations

import base64
from typing import Any

from litestar import Controller, Request, Response, get, post, route
from litestar.datastructures import Cookie, State
from litestar.datastructures.headers import CacheControlHeader
from litestar.enums import HttpMethod
from litestar.openapi import ResponseSpec
from litestar.params import FromPath
from litestar.response import Redirect

from service.campaigns.service import contents
from service.db import SessionMaker, session_scope
from service.ip import truncate_ip
from service.mail.render import trackable_links
from service.models import Campaign
from service.models.engagement import EngagementKind
from service.openapi import error_responses
from service.settings import Settings
from service.tokens import InvalidToken, TokenSigner
from service.tracking import events, site_consent, visits

PublicRequest = Request[Any, Any, State]
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"Cache-Control": "no-store, private", "Referrer-Policy": "no-referrer"}
CORS_MAX_AGE = "600"
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


def _consent_cookie(request: PublicRequest, visitor: str) -> Cookie:
    settings = _settings(request)
    return Cookie(
        key=site_consent.COOKIE_NAME,
        value=visitor,
        path=site_consent.COOKIE_PATH,
        max_age=settings.visit_cookie_days * 86_400,
        httponly=True,
        samesite="lax",
        secure=settings.public_url.startswith("https://"),
    )


async def _link_decisions(request: PublicRequest, contact_id: int) -> None:
    """The visitor is known from now on: their earlier cookie decisions in
    this browser get the contact (site_consent.link)."""
    visitor = site_consent.read_visitor_id(request.cookies.get(site_consent.COOKIE_NAME))
    if visitor is not None:
        async with session_scope(_sessionmaker(request)) as session:
            await site_consent.link(session, visitor=visitor, contact_id=contact_id)


def _client_network(request: PublicRequest) -> str | None:
    if request.client is None or not request.client.host:
        return None
    settings = _settings(request)
    try:
        return truncate_ip(
            request.client.host, v4_prefix=settings.ip_v4_prefix, v6_prefix=settings.ip_v6_prefix
        )
    except ValueError:
        return None


def _cors(request: PublicRequest) -> dict[str, str] | None:
    """The CORS headers for a request from one of the site's origins; None
    for any other origin (no request without an Origin header needs them)."""
    origin = request.headers.get("origin")
    if origin is None or origin.lower() not in _settings(request).site_origins:
        return None
    return {
        "Access-Control-Allow-Origin": origin,
        # The consent and visitor cookies travel with the site's request.
        "Access-Control-Allow-Credentials": "true",
        "Vary": "Origin",
    }


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
            await _link_decisions(request, owner)
        return Redirect(links[index], status_code=302, headers=NO_STORE, cookies=cookies)

    @get(
        "/v.js",
        summary="The website snippet that sends page views",
        media_type="text/javascript",
        cache_control=CacheControlHeader(public=True, max_age=3600),
    )
    async def snippet(self) -> str:
        """Include it on the company's website as
        ``<script src="…/t/v.js" async></script>``; when the visitor decides in
        the cookie banner, call ``consentry.consent({analytics: true,
        marketing: false}, VERSION, "fi")`` with the banner version shown."""
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
        cookie, no consent cookie, no recorded `analytics` grant, Do Not Track
        or Global Privacy Control; the body's `consent` flag is ignored);
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
        browser = site_consent.read_visitor_id(request.cookies.get(site_consent.COOKIE_NAME))
        if visitor is None or browser is None or visits.opted_out(request.headers):
            return Response(b"", status_code=204, headers=NO_STORE)
        # The body's "consent" flag is not trusted: the recorded decision is.
        async with _sessionmaker(request)() as session:
            grant = await site_consent.analytics_grant(
                session, visitor=browser, contact_id=visitor.contact_id
            )
        if grant is None:
            return Response(b"", status_code=204, headers=NO_STORE)
        await _publish(
            request,
            kind=EngagementKind.VISIT,
            contact_id=visitor.contact_id,
            campaign_id=visitor.campaign_id,
            page=view.page,
            referrer=view.referrer,
            next_page=view.next_page,
            site_consent_event_id=grant,
        )
        return Response(b"", status_code=202, headers=NO_STORE)

    # One handler for both methods: Litestar answers OPTIONS itself on a path
    # and keeps its own answer over a separate OPTIONS handler's.
    @route(
        "/consent",
        http_method=[HttpMethod.POST, HttpMethod.OPTIONS],
        summary="A visitor's decision in the site's cookie banner (OPTIONS: the CORS preflight)",
        status_code=200,
        request_max_body_size=site_consent.MAX_DECISION_BYTES,
        responses={
            204: ResponseSpec(None, description="The CORS preflight, for the site's origins."),
            **error_responses(
                {403: "Website consent is off, or the request comes from another site."}
            ),
        },
    )
    async def consent(self, request: PublicRequest) -> Response[Any]:
        """Body (JSON): `{"language": "fi", "categories": {"analytics": true,
        "marketing": false}, "version": N}`, N the banner version shown
        (`GET /api/v1/site-consent/texts`). One ledger row per category; a
        browser sending `Sec-GPC: 1` or `DNT: 1` has its grants recorded as
        withdrawals. 200 with the action recorded per category (no personal
        data) and the consent cookie set when absent; 400 for a body that is
        not a decision or names an unknown banner version; 403 from another
        site or with no site configured; 413 over 1 KB."""
        if request.method == HttpMethod.OPTIONS:
            return _preflight(request)
        settings = _settings(request)
        if not settings.site_origins:
            return _answer(403, "website consent is off: CONSENTRY_SITE_ORIGINS names no website")
        cors = _cors(request)
        if request.headers.get("origin") is not None and cors is None:
            return _answer(403, "decisions are accepted only from the site's own pages")
        headers = {**NO_STORE, **(cors or {})}
        try:
            decision = site_consent.parse_decision(await request.body())
        except site_consent.BadDecision as exc:
            return _answer(400, f"not a cookie decision: {exc}", _fields(exc), headers)
        cookie = request.cookies.get(site_consent.COOKIE_NAME)
        visitor = site_consent.read_visitor_id(cookie) or site_consent.new_visitor_id()
        known = visits.read_cookie(
            _signer(request), request.cookies.get(visits.COOKIE_NAME), settings.visit_cookie_days
        )
        opted_out = visits.opted_out(request.headers)
        try:
            async with session_scope(_sessionmaker(request)) as session:
                recorded = await site_consent.record(
                    session,
                    decision=decision,
                    visitor=visitor,
                    contact_id=known.contact_id if known else None,
                    opted_out=opted_out,
                    ip_network=_client_network(request),
                )
        except site_consent.BadDecision as exc:
            return _answer(400, f"not a cookie decision: {exc}", _fields(exc), headers)
        cookies = [] if cookie == visitor else [_consent_cookie(request, visitor)]
        body = {
            "recorded": {category.value: action.value for category, action in recorded.items()},
            "opt_out_signal": opted_out,
        }
        return Response(body, status_code=200, headers=headers, cookies=cookies)


def _preflight(request: PublicRequest) -> Response[Any]:
    cors = _cors(request)
    if cors is None:
        return _answer(403, "decisions are accepted only from the site's own pages")
    return Response(
        b"",
        status_code=204,
        headers={
            **NO_STORE,
            **cors,
            "Access-Control-Allow-Methods": "POST",
            "Access-Control-Allow-Headers": "Content-Type",
            "Access-Control-Max-Age": CORS_MAX_AGE,
        },
    )


def _fields(exc: site_consent.BadDecision) -> dict[str, str]:
    return {exc.field: str(exc)} if exc.field else {}


def _answer(
    status: int,
    detail: str,
    fields: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[Any]:
    body = {"status_code": status, "detail": detail, "fields": fields or {}}
    return Response(body, status_code=status, headers=headers or NO_STORE)
