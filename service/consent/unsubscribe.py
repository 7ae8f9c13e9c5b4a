"""What a person does through a signed link, without logging in: leave email
(or SMS) marketing, forbid all direct marketing, stop tracking, change consents.

Every change is a ledger event (or a ban) recorded as the person's own act
(``actor=public_link``), with the method (``one_click``, ``link_page``,
``mailto``, ``preference_centre``), the campaign whose message carried the
link, and the IP truncated to its network. Repeating a request changes
nothing and records nothing new.

A choice made on a page (the unsubscribe page's checkboxes, the preference
centre) also points at the archived words the person saw
(service.consent.archive, keys ``unsubscribe:{scope}`` and
``preferences:{channel}.{purpose}``, in the page's language). A one-click
unsubscribe shows no words, so it has none.
"""

from __future__ import annotations

from enum import StrEnum

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.consent import archive
from service.consent import service as consent_service
from service.consent.schemas import BanCreate, ConsentCreate, Evidence
from service.models import ConsentState, Contact
from service.models.enums import (
    Actor,
    BanChannel,
    BanKind,
    CaptureMethod,
    Channel,
    ConsentAction,
    Purpose,
    Source,
)

# The purpose of the compact token in an SMS's opt-out link
# (service.tokens.TokenSigner.sign_compact): it names contact and campaign, and
# being signed for this purpose binds it to the SMS channel.
SMS_UNSUBSCRIBE = "unsubscribe/sms"


class Scope(StrEnum):
    EMAIL = "email"  # no more marketing email
    SMS = "sms"  # no more marketing text messages
    ALL = "all"  # no direct marketing on any channel: a ban
    TRACKING = "tracking"  # no open and click tracking


async def current_state(
    session: AsyncSession, contact_id: int, channel: Channel, purpose: Purpose
) -> ConsentAction | None:
    state = await session.get(ConsentState, (contact_id, channel.value, purpose.value))
    return state.action if state is not None else None


async def set_consent(
    session: AsyncSession,
    *,
    contact: Contact,
    channel: Channel,
    purpose: Purpose,
    action: ConsentAction,
    method: CaptureMethod,
    ip: str | None,
    campaign_id: int | None = None,
    shown_text: str | None = None,
    actor: Actor = Actor.PUBLIC_LINK,
    collected: consent_service.Collected | None = None,
) -> bool:
    """Record the person's choice unless it is already the current state.
    ``collected``: the archived words shown, when there was a page."""
    assert contact.id is not None
    await consent_service.lock_person(session, contact.id)
    if await current_state(session, contact.id, channel, purpose) is action:
        return False
    await consent_service.record_consent(
        session,
        contact=contact,
        data=ConsentCreate.model_construct(
            channel=channel,
            purpose=purpose,
            action=action,
            source=Source.SELF,
            method=method,
            evidence=Evidence(text=shown_text, ip=ip),
        ),
        actor=actor,
        user_id=None,
        campaign_id=campaign_id,
        collected=collected,
    )
    return True


async def shown(
    session: AsyncSession, *, key: str, language: str, words: str
) -> consent_service.Collected:
    """The archived version of the words a page showed for a choice, as the
    event records it."""
    text = await archive.archive(session, key=key, language=language, body=words)
    return consent_service.Collected(text_id=text.id, language=language)


# What each scope withdraws (Scope.ALL is a ban, below).
_WITHDRAWS: dict[Scope, tuple[Channel, Purpose]] = {
    Scope.EMAIL: (Channel.EMAIL, Purpose.DIRECT_MARKETING),
    Scope.SMS: (Channel.SMS, Purpose.DIRECT_MARKETING),
    Scope.TRACKING: (Channel.EMAIL, Purpose.EMAIL_TRACKING),
}


async def unsubscribe(
    session: AsyncSession,
    *,
    contact_id: int,
    campaign_id: int | None,
    scopes: set[Scope],
    method: CaptureMethod,
    ip: str | None,
    actor: Actor = Actor.PUBLIC_LINK,
    texts: dict[Scope, consent_service.Collected] | None = None,
) -> bool:
    """Apply the scopes; False when the contact no longer exists (erased: the
    suppression list already keeps them out). ``actor``: who wrote it down —
    the person through a link or mail, or the system for a complaint a
    mailbox provider reported. ``texts``: the archived words of each scope's
    choice, when the person chose on the page."""
    if not await consent_service.lock_person(session, contact_id):
        return False
    contact = await session.get(Contact, contact_id)
    if contact is None:
        return False
    for scope, (channel, purpose) in _WITHDRAWS.items():
        if scope in scopes:
            await set_consent(
                session,
                contact=contact,
                channel=channel,
                purpose=purpose,
                action=ConsentAction.WITHDRAW,
                method=method,
                ip=ip,
                campaign_id=campaign_id,
                actor=actor,
                collected=(texts or {}).get(scope),
            )
    if Scope.ALL in scopes and not await consent_service.has_active_ban(
        session, contact_id=contact_id, kind=BanKind.DIRECT_MARKETING
    ):
        await consent_service.record_ban(
            session,
            contact=contact,
            data=BanCreate(
                kind=BanKind.DIRECT_MARKETING,
                channel=BanChannel.ALL,
                source=Source.SELF,
                method=method,
                note="given through a link in a message",
            ),
            actor=actor,
            user_id=None,
            campaign_id=campaign_id,
        )
    return True


async def states(
    session: AsyncSession, contact_id: int
) -> dict[tuple[Channel, Purpose], ConsentAction]:
    rows = await session.exec(select(ConsentState).where(ConsentState.contact_id == contact_id))
    return {(Channel(s.channel), Purpose(s.purpose)): s.action for s in rows.all()}
