"""The privacy portal's way in (``/me``): who may get a link, the link and
its mail, and the session it opens.

A link is a random one-time token (service.onetime) mailed to a registered
address; only its hash is stored (``portal_links``). Using it (a POST, so
that link scanners cannot) opens a portal session of its own random token,
kept in a cookie. Both last ``LIFETIME``; the link works once. What the
person does once in is service.portal.service. Nothing here commits
(``send_link``, the worker's job, opens its own transaction).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock, onetime
from service.crypto import DataCipher
from service.db import SessionMaker, run, session_scope
from service.delivery import transactional
from service.delivery.messenger import Outcome
from service.delivery.smtp import SmtpPool
from service.delivery.transactional import SystemMail
from service.mail.render import Controller as ControllerIdentity
from service.models import Contact, PortalLink
from service.portal.texts import PAGE_TEXT
from service.public_limits import Limit, allow
from service.settings import Settings
from service.validation import InvalidValue, normalize_email

LIFETIME = timedelta(minutes=30)
# A person needs a link now and then; a script trying addresses needs many.
ADDRESS_LIMIT = Limit("portal-address", 3, timedelta(hours=1))
NETWORK_LIMIT = Limit("portal-network", 20, timedelta(hours=1))
# The worker job that makes and mails a link (workers/portal.py).
SEND_LINK = "send_portal_link"
TEMPLATE = "portal_link"


def normalised(email: str) -> str | None:
    """The address in its stored form, or None when it is not one."""
    try:
        return normalize_email(email)
    except InvalidValue:
        return None


async def registered(session: AsyncSession, email: str) -> Contact | None:
    """The contact with this (normalised) address. A contact still pending a
    signup's confirmation counts: the link goes to the address itself, so
    only its owner can use it."""
    rows = await session.exec(select(Contact).where(col(Contact.email) == email))
    return rows.first()


async def within_limits(
    session: AsyncSession, cipher: DataCipher, *, email: str, network: str | None
) -> bool:
    """Whether one more link may be sent for ``email`` from ``network``; each
    use is counted, whether the address is registered or not."""
    by_address = await allow(session, cipher, ADDRESS_LIMIT, email)
    by_network = network is None or await allow(session, cipher, NETWORK_LIMIT, network)
    return by_address and by_network


async def issue_link(session: AsyncSession, *, contact_id: int) -> str:
    """A new link for the contact; the token (only its hash is stored)."""
    token, digest = onetime.new_token()
    now = clock.now()
    session.add(
        PortalLink(
            contact_id=contact_id, token_hash=digest, created_at=now, expires_at=now + LIFETIME
        )
    )
    await session.flush()
    return token


def link_url(settings: Settings, token: str) -> str:
    return f"{settings.public_url}/me/{token}"


def link_mail(contact: Contact, token: str, *, language: str, settings: Settings) -> SystemMail:
    assert contact.email is not None
    lang = language if language in PAGE_TEXT else "en"
    t = PAGE_TEXT[lang]
    return SystemMail(
        template=TEMPLATE,
        to=contact.email,
        subject=t["mail_subject"],
        language=lang,
        values={
            "lang": lang,
            "t": t,
            "url": link_url(settings, token),
            "controller": ControllerIdentity.from_settings(settings),
        },
        kind="portal-link",
    )


async def send_link(
    sessionmaker: SessionMaker,
    smtp: SmtpPool,
    *,
    settings: Settings,
    contact_id: int,
    language: str,
) -> Outcome | None:
    """Make a link for the contact and mail it to their address (the
    worker's job); the relay's outcome, None when the contact or its address
    is gone. The link is committed before the mail goes: a mail that fails
    leaves an unused link that expires on its own."""
    async with session_scope(sessionmaker) as session:
        contact = await session.get(Contact, contact_id)
        if contact is None or contact.email is None:
            return None
        token = await issue_link(session, contact_id=contact_id)
        mail = link_mail(contact, token, language=language, settings=settings)
    delivery = await transactional.send(smtp, mail, settings=settings)
    return delivery.outcome


async def _link(session: AsyncSession, token: str) -> PortalLink | None:
    if not onetime.looks_like_token(token):
        return None
    rows = await session.exec(
        select(PortalLink).where(col(PortalLink.token_hash) == onetime.token_hash(token))
    )
    return rows.first()


async def usable_link(session: AsyncSession, token: str) -> PortalLink | None:
    """The link, if it is unused and unexpired; reading it changes nothing."""
    link = await _link(session, token)
    if link is None or link.used_at is not None or link.expires_at <= clock.now():
        return None
    return link


async def open_session(session: AsyncSession, token: str) -> str | None:
    """Use the link: mark it used and start a session; the session's token,
    or None when the link is not usable. One conditional UPDATE does both, so
    two uses at once cannot both succeed."""
    if not onetime.looks_like_token(token):
        return None
    session_token, session_hash = onetime.new_token()
    now = clock.now()
    result = await run(
        session,
        update(PortalLink)
        .where(
            col(PortalLink.token_hash) == onetime.token_hash(token),
            col(PortalLink.used_at).is_(None),
            col(PortalLink.expires_at) > now,
        )
        .values(used_at=now, session_hash=session_hash, session_expires_at=now + LIFETIME),
    )
    return session_token if result.rowcount == 1 else None


async def current(session: AsyncSession, session_token: str | None) -> tuple[PortalLink, Contact]:
    """The link and contact of a live session; raises ``Ended`` otherwise."""
    if not session_token or not onetime.looks_like_token(session_token):
        raise Ended
    rows = await session.exec(
        select(PortalLink).where(col(PortalLink.session_hash) == onetime.token_hash(session_token))
    )
    link = rows.first()
    if link is None or link.session_expires_at is None or link.session_expires_at <= clock.now():
        raise Ended
    contact = await session.get(Contact, link.contact_id)
    if contact is None:  # pragma: no cover - the link goes with the contact (cascade)
        raise Ended
    return link, contact


class Ended(Exception):
    """No portal session: none given, unknown, or expired."""


async def end_session(session: AsyncSession, link: PortalLink) -> None:
    link.session_expires_at = clock.now()
    session.add(link)
    await session.flush()
