"""The self-service privacy portal's routes, ``/me``, without staff login.

``GET /me`` asks for an email address; ``POST /me`` answers the same page
whatever happens (registered or not, over a rate limit or not) and, for a
registered address within the limits, queues the job that mails a one-time
link ``{PUBLIC_URL}/me/{token}``. ``GET`` of the link shows one button and
changes nothing (link scanners fetch links); its ``POST`` uses the link up
and opens a portal session in a cookie (``consentry_portal``: HttpOnly,
SameSite=Strict, Path=/me, Secure under https), then 303 to ``/me/page``.

Every request after that needs the session, and every POST with it must
come from our own pages: its ``Origin`` (or, when a browser sends none, its
``Referer``) must be the public URL's origin. The pages send the Referer to
ourselves only (``Referrer-Policy: same-origin``; ``no-referrer`` would make
browsers send ``Origin: null`` with our own forms).

The routes are here; the pages, the cookie and the CSRF check are
service.portal.pages, the link and the session service.portal.links, what
the person does on their page service.portal.service.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import MediaType
from litestar.params import FromPath, FromQuery
from redis.exceptions import RedisError

from service import queue
from service.audit import trail
from service.crypto import DataCipher
from service.models.enums import ConsentAction
from service.openapi import error_responses
from service.portal import links, service
from service.portal.pages import (
    COOKIE,
    PORTAL_HEADERS,
    cookie,
    field,
    from_our_pages,
    language,
    message,
    page,
    redirect,
    refusal,
)
from service.portal.texts import CHOICES, PAGE_TEXT, choice_label
from service.public_pages import PublicRequest, Session, client_network, settings_of

logger = logging.getLogger(__name__)

Cipher = NamedDependency[DataCipher]
# A form field longer than any real value is refused before it is parsed
# as an address (the request body limit bounds the rest).
MAX_FIELD = 1000

_ENDED = "No portal session, or it has ended: a page linking to /me. Nothing was changed."
_REFUSED = (
    "The POST did not come from a page of the public URL (its Origin or Referer; "
    "CSRF): a page saying so. Nothing was changed."
)
_BAD_CHOICE = "A field holds a value the page never offers: a page saying so. Nothing changed."
_LINK = "The link is unknown, used or expired: a page saying so and linking to /me."
SESSION_ONLY = error_responses({401: _ENDED}, MediaType.HTML)
SESSION_POST = error_responses({400: _BAD_CHOICE, 401: _ENDED, 403: _REFUSED}, MediaType.HTML)


class PortalController(Controller):
    path = "/me"
    tags = ["privacy portal"]
    include_in_schema = True

    @get("/", summary="The privacy portal: ask for a link", media_type=MediaType.HTML)
    async def start(self, request: PublicRequest) -> Response[str]:
        return page(request, "portal", language(request), title="start_title", error=False)

    @post(
        "/",
        status_code=200,
        summary="Mail a one-time link to a registered address (the same answer always)",
        media_type=MediaType.HTML,
    )
    async def send_link(
        self, request: PublicRequest, db_session: Session, cipher: Cipher
    ) -> Response[str]:
        """Form-encoded ``email`` (and the honeypot ``website``, left empty
        by people). The answer is the same page whether the address is
        registered, unknown, or over a rate limit; only a malformed address
        gets the form again with an error, which reveals nothing."""
        lang = language(request)
        form = await request.form()
        raw = field(form, "email")
        email = links.normalised(raw) if len(raw) <= MAX_FIELD else None
        if email is None:
            return page(request, "portal", lang, title="start_title", error=True)
        sent = page(request, "portal_message", lang, title="sent_title", message="sent")
        if field(form, "website"):
            return sent  # a bot filled the hidden field
        allowed = await links.within_limits(
            db_session, cipher, email=email, network=client_network(request)
        )
        contact = await links.registered(db_session, email) if allowed else None
        if contact is not None:
            assert contact.id is not None
            await _queue_link(request, contact.id, lang)
        return sent

    @get(
        "/page",
        summary="The person's own page",
        media_type=MediaType.HTML,
        responses=SESSION_ONLY,
    )
    async def own_page(
        self,
        request: PublicRequest,
        db_session: Session,
        saved: FromQuery[int | None] = None,
        asked: FromQuery[str | None] = None,
        new: FromQuery[int | None] = None,
    ) -> Response[str]:
        try:
            _link, contact = await links.current(db_session, request.cookies.get(COOKIE))
        except links.Ended:
            return message(request, language(request), "ended", 401)
        lang = language(request, contact)
        t = PAGE_TEXT[lang]
        notice = None
        open_requests = await service.open_requests(db_session, contact)
        if saved:
            notice = t["saved"]
        elif asked == "objection":
            notice = t["objection_done"]
        elif asked in service.ASKABLE:
            kind = service.ASKABLE[asked]
            mine = [r for r in open_requests if r.type is kind]
            if mine:
                notice = t["asked" if new else "already"].format(due=service.due_on(mine[0]))
        current = await service.choices(db_session, contact)
        return page(
            request,
            "portal_page",
            lang,
            title="page_title",
            notice=notice,
            held=service.held(contact),
            choices=[
                {
                    "key": service.choice_key(pair),
                    "label": choice_label(lang, pair),
                    "granted": current[pair] is ConsentAction.GRANT,
                }
                for pair in CHOICES
            ],
            requests=[
                {"type": t[f"type_{r.type.value}"], "due": service.due_on(r)}
                for r in open_requests
                if f"type_{r.type.value}" in t
            ],
            objected=await service.objection_in_force(db_session, contact),
        )

    @post(
        "/consents",
        status_code=303,
        summary="Change consents",
        media_type=MediaType.HTML,
        responses=SESSION_POST,
    )
    async def save_consents(self, request: PublicRequest, db_session: Session) -> Response[str]:
        """One field per choice, named ``CHANNEL.PURPOSE``, ``grant`` or
        ``withdraw``; choices left out stay as they are."""
        refused = await refusal(request, db_session)
        if isinstance(refused, Response):
            return refused
        contact, lang = refused
        form = await request.form()
        wanted = {}
        for pair in CHOICES:
            value = form.get(service.choice_key(pair))
            if value is None:
                continue
            try:
                wanted[pair] = ConsentAction(value)
            except ValueError:
                return message(request, lang, "forbidden", 400)
        await service.save_choices(
            db_session,
            contact=contact,
            wanted=wanted,
            language=lang,
            network=client_network(request),
        )
        return redirect(f"/me/page?lang={lang}&saved=1")

    @post(
        "/requests",
        status_code=303,
        summary="Ask for erasure, rectification, restriction; object",
        media_type=MediaType.HTML,
        responses=SESSION_POST,
    )
    async def ask(self, request: PublicRequest, db_session: Session) -> Response[str]:
        """``kind``: ``erasure``, ``rectification`` (with ``description``:
        what is wrong), ``restriction`` or ``objection`` (to direct
        marketing: in force at once). Each makes a request in the requests
        register, verified by the link, with its legal deadline; an open
        one of the same kind is not made twice."""
        refused = await refusal(request, db_session)
        if isinstance(refused, Response):
            return refused
        contact, lang = refused
        form = await request.form()
        kind = field(form, "kind")
        if kind not in service.ASKABLE:
            return message(request, lang, "forbidden", 400)
        description = field(form, "description") if kind == "rectification" else None
        asked = await service.ask(
            db_session, contact=contact, kind=service.ASKABLE[kind], description=description
        )
        return redirect(f"/me/page?lang={lang}&asked={kind}&new={int(asked.new)}")

    @get(
        "/export",
        summary="Download everything held (the access export)",
        media_type=MediaType.JSON,
        responses=SESSION_ONLY,
    )
    async def download(
        self, request: PublicRequest, db_session: Session, cipher: Cipher
    ) -> Response[Any]:
        """The same JSON the staff access export gives (less any trace of
        an identity code), as an attachment; recorded in the audit trail as
        the person's own download."""
        try:
            _link, contact = await links.current(db_session, request.cookies.get(COOKIE))
        except links.Ended:
            return message(request, language(request), "ended", 401)
        assert contact.id is not None
        trail.note(db_session, request, action="portal.export", status_code=200)
        trail.annotate(db_session, contact_id=contact.id)
        body = await service.access_export(
            db_session, contact=contact, cipher=cipher, settings=settings_of(request)
        )
        return Response(
            body.model_dump_json(indent=2),
            media_type=MediaType.JSON,
            headers={
                **PORTAL_HEADERS,
                "Content-Disposition": 'attachment; filename="my-data.json"',
            },
        )

    @post(
        "/logout",
        status_code=200,
        summary="End the portal session",
        media_type=MediaType.HTML,
        responses=error_responses({403: _REFUSED}, MediaType.HTML),
    )
    async def logout(self, request: PublicRequest, db_session: Session) -> Response[str]:
        lang = language(request)
        if not from_our_pages(request):
            return message(request, lang, "forbidden", 403)
        try:
            link, _contact = await links.current(db_session, request.cookies.get(COOKIE))
            await links.end_session(db_session, link)
        except links.Ended:
            pass
        return page(
            request,
            "portal_message",
            lang,
            title="start_title",
            message="logged_out",
            cookies=[cookie(settings_of(request), None)],
        )

    @get(
        "/{token:str}",
        summary="A one-time link's page (changes nothing)",
        media_type=MediaType.HTML,
        responses=error_responses({400: _LINK}, MediaType.HTML),
    )
    async def link_page(
        self, request: PublicRequest, db_session: Session, token: FromPath[str]
    ) -> Response[str]:
        lang = language(request)
        if await links.usable_link(db_session, token) is None:
            return message(request, lang, "invalid", 400)
        return page(request, "portal_open", lang, title="open_title")

    @post(
        "/{token:str}",
        status_code=303,
        summary="Use a one-time link: open the session",
        media_type=MediaType.HTML,
        responses=error_responses({400: _LINK, 403: _REFUSED}, MediaType.HTML),
    )
    async def use_link(
        self, request: PublicRequest, db_session: Session, token: FromPath[str]
    ) -> Response[str]:
        lang = language(request)
        if not from_our_pages(request):
            return message(request, lang, "forbidden", 403)
        session_token = await links.open_session(db_session, token)
        if session_token is None:
            return message(request, lang, "invalid", 400)
        return redirect(
            f"/me/page?lang={lang}", cookies=[cookie(settings_of(request), session_token)]
        )


async def _queue_link(request: PublicRequest, contact_id: int, lang: str) -> None:
    """Ask a worker to make and mail the link: the token never passes
    through Redis, only the contact's id and the language."""
    redis = request.app.state.queue
    if redis is None:
        logger.warning("privacy portal: no queue configured, so no link was sent")
        return
    try:
        await queue.enqueue(
            redis,
            links.SEND_LINK,
            contact_id,
            lang,
            job_id=f"portal:link:{contact_id}:{secrets.token_hex(8)}",
        )
    except (RedisError, OSError):
        # The answer stays the same; the person can ask again.
        logger.warning("privacy portal: the queue is unreachable, so no link was sent")
