"""Public pages reached from a message, without logging in: one-click
unsubscribe (RFC 8058) at ``/u/{token}`` and the preference centre at
``/p/{token}``. They trust nothing but the signed token.

A GET never changes anything (link scanners and mail clients fetch links);
the answers set no cookie and never redirect; a forged or damaged token gets
one generic 400 page that says nothing about whether the person exists.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get, post
from litestar.datastructures import FormMultiDict
from litestar.enums import MediaType
from litestar.params import FromPath, FromQuery
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.consent import unsubscribe as actions
from service.consent.one_click import OneClickWriter, Withdrawal
from service.consent.queries import needs_consent, treated_as_person
from service.consent.service import Collected
from service.consent.texts import CHOICE_LABELS, PAGE_TEXT
from service.db import session_scope
from service.models import Campaign, Contact
from service.models.enums import (
    CampaignChannel,
    CaptureMethod,
    Channel,
    ConsentAction,
    Purpose,
)
from service.public_pages import (
    PublicRequest,
    Session,
    browser_language,
    client_address,
    render,
    settings_of,
)
from service.tokens import InvalidToken, TokenSigner, is_compact


def _page(
    request: PublicRequest, name: str, lang: str, status: int = 200, **values: Any
) -> Response[str]:
    text = PAGE_TEXT[lang]
    title_key = {"unsubscribe": "unsubscribe_title", "preferences": "preferences_title"}.get(
        name, "invalid_title"
    )
    return render(
        request, name, lang=lang, text=text, title=text[title_key], status=status, **values
    )


def _invalid(request: PublicRequest) -> Response[str]:
    return _page(request, "invalid", browser_language(request), status=400)


def _signer(request: PublicRequest) -> TokenSigner:
    signer: TokenSigner = request.app.state.signer
    return signer


def _language(contact: Contact | None, request: PublicRequest) -> str:
    return contact.language.value if contact is not None else browser_language(request)


class PublicController(Controller):
    path = "/"
    tags = ["public links"]
    include_in_schema = True

    @get(
        "/u/{token:str}",
        summary="The unsubscribe page (changes nothing)",
        media_type=MediaType.HTML,
    )
    async def unsubscribe_page(
        self,
        request: PublicRequest,
        db_session: Session,
        token: FromPath[str],
        only: FromQuery[str | None] = None,
    ) -> Response[str]:
        """``?only=tracking`` (the stop-tracking link in a message) preselects
        just that choice."""
        link = await _unsubscribe_link(request, db_session, token)
        if link is None:
            return _invalid(request)
        contact_id, _campaign_id, channel = link
        contact = await db_session.get(Contact, contact_id)
        return _page(
            request,
            "unsubscribe",
            _language(contact, request),
            done=contact is None,
            channel=channel.value,
            checked={only} if only in {"tracking", "all"} else {channel.value},
            preferences_url=self_url(
                request, "p", _signer(request).sign("preferences", contact_id)
            ),
        )

    @post(
        "/u/{token:str}",
        status_code=200,
        summary="One-click unsubscribe (RFC 8058)",
        media_type=MediaType.HTML,
    )
    async def unsubscribe(self, request: PublicRequest, token: FromPath[str]) -> Response[str]:
        """``List-Unsubscribe=One-Click`` (urlencoded or multipart) leaves
        marketing on the channel of the message that carried the link at once:
        email from an email, SMS from an SMS (whose link may also be posted
        with no body at all). The page's own form may also choose
        ``scope=all`` (no direct marketing on any channel) and, from an email,
        ``scope=tracking``."""
        signed = _signed_link(request, token)
        if signed is None:
            return _invalid(request)
        contact_id, campaign_id, sms = signed
        form = await request.form()
        if form.get("List-Unsubscribe") == "One-Click":
            # The bursts after a campaign: written in batches (service.consent.one_click).
            writer: OneClickWriter = request.app.state.one_click
            language = await writer.withdraw(
                Withdrawal(contact_id, campaign_id, sms=sms, ip=client_address(request))
            )
            return _unsubscribed(request, language or browser_language(request))
        async with session_scope(request.app.state.sessionmaker) as db_session:
            channel = Channel.SMS if sms else await _channel_of(db_session, campaign_id)
            return await _unsubscribe_on_page(
                request, db_session, form, contact_id, campaign_id, channel
            )

    @get("/p/{token:str}", summary="The preference centre", media_type=MediaType.HTML)
    async def preferences_page(
        self, request: PublicRequest, db_session: Session, token: FromPath[str]
    ) -> Response[str]:
        contact = await _contact_of(request, db_session, token)
        if contact is None:
            return _invalid(request)
        return await _preferences(request, db_session, contact, saved=False)

    @post(
        "/p/{token:str}",
        status_code=200,
        summary="Change consents in the preference centre",
        media_type=MediaType.HTML,
    )
    async def save_preferences(
        self, request: PublicRequest, db_session: Session, token: FromPath[str]
    ) -> Response[str]:
        contact = await _contact_of(request, db_session, token)
        if contact is None:
            return _invalid(request)
        assert contact.id is not None
        form = await request.form()
        current = await _effective(db_session, contact)
        choices: dict[tuple[Channel, Purpose], ConsentAction] = {}
        for key in current:
            value = form.get(_key(key))
            if value is None:
                continue
            try:
                choices[key] = ConsentAction(value)
            except ValueError:
                return _invalid(request)
        lang = contact.language.value
        for (channel, purpose), action in choices.items():
            if action is not current[(channel, purpose)]:
                await actions.set_consent(
                    db_session,
                    contact=contact,
                    channel=channel,
                    purpose=purpose,
                    action=action,
                    method=CaptureMethod.PREFERENCE_CENTRE,
                    ip=client_address(request),
                    shown_text=_shown(lang, (channel, purpose), action),
                    collected=await actions.shown(
                        db_session,
                        key=f"preferences:{channel.value}.{purpose.value}",
                        language=lang,
                        words=CHOICE_LABELS[lang][(channel, purpose)],
                    ),
                )
        return await _preferences(request, db_session, contact, saved=True)


async def _unsubscribe_on_page(
    request: PublicRequest,
    db_session: AsyncSession,
    form: FormMultiDict,
    contact_id: int,
    campaign_id: int,
    channel: Channel,
) -> Response[str]:
    """The unsubscribe page's own form (``via=page``), or an SMS's link
    posted with no body."""
    own = actions.Scope.SMS if channel is Channel.SMS else actions.Scope.EMAIL
    allowed = {own, actions.Scope.ALL} | (
        {actions.Scope.TRACKING} if channel is Channel.EMAIL else set()
    )
    texts: dict[actions.Scope, Collected] = {}  # the page's words
    if form.get("via") == "page":
        try:
            scopes = {actions.Scope(value) for value in form.getall("scope")}
        except ValueError:
            return _invalid(request)
        if not scopes <= allowed:  # a token is bound to its channel
            return _invalid(request)
        method = CaptureMethod.LINK_PAGE
        texts = await _scope_texts(db_session, contact_id, scopes, request)
    elif channel is Channel.SMS and not form:
        scopes, method = {own}, CaptureMethod.LINK_PAGE
    else:
        return _invalid(request)
    await actions.unsubscribe(
        db_session,
        contact_id=contact_id,
        campaign_id=campaign_id,
        scopes=scopes,
        method=method,
        ip=client_address(request),
        texts=texts,
    )
    contact = await db_session.get(Contact, contact_id)
    return _unsubscribed(request, _language(contact, request))


def _unsubscribed(request: PublicRequest, lang: str) -> Response[str]:
    """The page that says it is done: the same for everyone who reads a
    language, so rendered once per process and language."""
    pages: dict[str, Response[str]] = request.app.state.setdefault("unsubscribed_pages", {})
    page = pages.get(lang)
    if page is None:
        page = pages[lang] = _page(request, "unsubscribe", lang, done=True, preferences_url=None)
    return Response(
        page.content, status_code=200, media_type=MediaType.HTML, headers=dict(page.headers)
    )


def _shown(lang: str, pair: tuple[Channel, Purpose], action: ConsentAction) -> str:
    """The evidence of a choice: the words the person saw and picked."""
    answer = PAGE_TEXT[lang]["yes" if action is ConsentAction.GRANT else "no"]
    return f"{CHOICE_LABELS[lang][pair]}: {answer}"


async def _scope_texts(
    session: AsyncSession, contact_id: int, scopes: set[actions.Scope], request: PublicRequest
) -> dict[actions.Scope, Collected]:
    """The archived words of the page's choices the person ticked, in the
    language the page was shown in. A ban (``all``) is not a ledger event and
    keeps its own note."""
    lang = _language(await session.get(Contact, contact_id), request)
    return {
        scope: await actions.shown(
            session,
            key=f"unsubscribe:{scope.value}",
            language=lang,
            words=PAGE_TEXT[lang][f"scope_{scope.value}"],
        )
        for scope in sorted(scopes)
        if scope is not actions.Scope.ALL
    }


def _signed_link(request: PublicRequest, token: str) -> tuple[int, int, bool] | None:
    """``(contact_id, campaign_id, sms)`` of an unsubscribe token, None when
    it is not one. Either form is bound to a channel: the long form (an
    email's) to its campaign's, the compact form (an SMS's) to SMS by the
    purpose it is signed for (``sms``)."""
    signer = _signer(request)
    try:
        if is_compact(token):
            contact_id, campaign_id = signer.verify_compact(token, actions.SMS_UNSUBSCRIBE)
            return contact_id, campaign_id, True
        contact_id, campaign_id = signer.verify(token, "unsubscribe")
    except (InvalidToken, ValueError):  # ValueError: not two ids
        return None
    return contact_id, campaign_id, False


async def _unsubscribe_link(
    request: PublicRequest, session: AsyncSession, token: str
) -> tuple[int, int, Channel] | None:
    """``(contact_id, campaign_id, channel)`` of an unsubscribe token, None
    when it is not one."""
    signed = _signed_link(request, token)
    if signed is None:
        return None
    contact_id, campaign_id, sms = signed
    return contact_id, campaign_id, Channel.SMS if sms else await _channel_of(session, campaign_id)


async def _channel_of(session: AsyncSession, campaign_id: int) -> Channel:
    """The channel an unsubscribe token belongs to: its campaign's (an SMS
    campaign's link withdraws SMS consent), email for any other."""
    channel = await session.scalar(
        select(col(Campaign.channel)).where(col(Campaign.id) == campaign_id)
    )
    return Channel.SMS if channel == CampaignChannel.SMS else Channel.EMAIL


def self_url(request: PublicRequest, kind: str, token: str) -> str:
    return f"{settings_of(request).public_url}/{kind}/{token}"


def _key(pair: tuple[Channel, Purpose]) -> str:
    return f"{pair[0].value}:{pair[1].value}"


async def _contact_of(request: PublicRequest, session: AsyncSession, token: str) -> Contact | None:
    try:
        (contact_id,) = _signer(request).verify(token, "preferences")
    except (InvalidToken, ValueError):
        return None
    return await session.get(Contact, contact_id)


async def _effective(
    session: AsyncSession, contact: Contact
) -> dict[tuple[Channel, Purpose], ConsentAction]:
    """What each choice amounts to now: the latest event, or, with none, the
    law's default (opt-in channels and tracking off for persons; the rest on)."""
    assert contact.id is not None
    recorded = await actions.states(session, contact.id)
    result = {}
    for pair in CHOICE_LABELS["en"]:
        channel, purpose = pair
        person = treated_as_person(contact)
        opt_in = needs_consent(channel, purpose, person=person)
        default = ConsentAction.WITHDRAW if opt_in else ConsentAction.GRANT
        result[pair] = recorded.get(pair, default)
    return result


async def _preferences(
    request: PublicRequest, session: AsyncSession, contact: Contact, *, saved: bool
) -> Response[str]:
    lang = contact.language.value
    effective = await _effective(session, contact)
    rows = [
        {"key": _key(pair), "label": CHOICE_LABELS[lang][pair], "state": action.value}
        for pair, action in effective.items()
    ]
    return _page(request, "preferences", lang, rows=rows, saved=saved)
