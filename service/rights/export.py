"""The access export (GDPR 15): everything held about one person, gathered
from every table that names them, plus what Article 15 requires them to be told.

It holds what is the person's own in full: the content of each behavioural
profile still kept here (decrypted), and their identity code unmasked (read
with ``contacts.service.reveal_identity_code``; the staff route's audit row
says so). The privacy portal's download (service.portal) leaves the code out.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import or_, select
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.audit import service as audit_service
from service.audit import trail
from service.consent import receipts
from service.consent import service as consent_service
from service.contacts import service as contacts_service
from service.crypto import DataCipher
from service.db import run
from service.models import (
    CallList,
    CallListDownload,
    CallListEntry,
    Campaign,
    CampaignRecipient,
    ConsentText,
    Contact,
    ContactChange,
    DataSubjectRequest,
    Disclosure,
    EngagementEvent,
    Interaction,
    Objection,
    Profile,
    RequestAction,
    Restriction,
    SiteConsentEvent,
    User,
)
from service.models.enums import Language, ProfileState
from service.profiles.service import open_sealed
from service.requests import linking
from service.rights import article15, service, texts
from service.rights.schemas import (
    Accesses,
    AccessExport,
    AccessLog,
    AccessLogEntry,
    CallListEntryRead,
    DisclosureRead,
    DownloadRead,
    EngagementRead,
    InteractionRead,
    MessageRead,
    ProfileMetadata,
    RectificationRead,
    RequestActionRead,
    RequestRead,
    RestrictionHistoryRead,
    SiteConsentRead,
)
from service.settings import Settings

M = TypeVar("M", bound=BaseModel)


async def _models(session: AsyncSession, schema: type[M], query: Any) -> list[M]:
    rows = (await run(session, query)).scalars().all()
    return [schema.model_validate(row, from_attributes=True) for row in rows]


async def _mappings(session: AsyncSession, schema: type[M], query: Any) -> list[M]:
    rows = (await run(session, query)).mappings().all()
    return [schema.model_validate(dict(row)) for row in rows]


def _of(model: Any, contact_id: int) -> Any:
    return select(model).where(model.contact_id == contact_id).order_by(model.id)


async def _site_consents(session: AsyncSession, contact_id: int) -> list[SiteConsentRead]:
    """The person's decisions in the website's cookie banner, with the version
    and hash of the banner text each was made under."""
    query: Any = (
        select(
            col(SiteConsentEvent.id),
            col(SiteConsentEvent.visitor),
            col(SiteConsentEvent.category),
            col(SiteConsentEvent.action),
            col(SiteConsentEvent.text_id),
            col(ConsentText.version).label("text_version"),
            col(ConsentText.hash).label("text_hash"),
            col(SiteConsentEvent.language),
            col(SiteConsentEvent.ip_network),
            col(SiteConsentEvent.occurred_at),
        )
        .outerjoin(ConsentText, col(ConsentText.id) == col(SiteConsentEvent.text_id))
        .where(col(SiteConsentEvent.contact_id) == contact_id)
        .order_by(col(SiteConsentEvent.id))
    )
    return await _mappings(session, SiteConsentRead, query)


async def _messages(session: AsyncSession, contact_id: int) -> list[MessageRead]:
    query: Any = (
        select(
            col(CampaignRecipient.campaign_id),
            col(Campaign.name).label("campaign_name"),
            col(CampaignRecipient.channel),
            col(CampaignRecipient.status),
            col(CampaignRecipient.reason),
            col(CampaignRecipient.attempts),
            col(CampaignRecipient.smtp_code),
            col(CampaignRecipient.smtp_reply),
            col(CampaignRecipient.sent_at),
            col(CampaignRecipient.bounced_at),
            col(CampaignRecipient.bounce_status),
        )
        .join(Campaign, col(Campaign.id) == col(CampaignRecipient.campaign_id))
        .where(col(CampaignRecipient.contact_id) == contact_id)
        .order_by(col(CampaignRecipient.id))
    )
    return await _mappings(session, MessageRead, query)


async def _call_lists(session: AsyncSession, contact_id: int) -> list[CallListEntryRead]:
    query: Any = (
        select(
            col(CallList.id).label("call_list_id"),
            col(CallList.campaign_id),
            col(Campaign.name).label("campaign_name"),
            col(CallList.status),
            col(CallList.built_at),
            col(CallList.expires_at),
        )
        .join(CallListEntry, col(CallListEntry.call_list_id) == col(CallList.id))
        .join(Campaign, col(Campaign.id) == col(CallList.campaign_id))
        .where(col(CallListEntry.contact_id) == contact_id)
        .order_by(col(CallList.id))
    )
    return await _mappings(session, CallListEntryRead, query)


async def _downloads(session: AsyncSession, contact_id: int) -> list[DownloadRead]:
    query: Any = (
        select(
            col(CallListDownload.call_list_id),
            col(CallList.campaign_id),
            col(CallListDownload.user_id),
            col(User.role).label("user_role"),
            col(CallListDownload.downloaded_at),
        )
        .join(CallList, col(CallList.id) == col(CallListDownload.call_list_id))
        .join(CallListEntry, col(CallListEntry.call_list_id) == col(CallList.id))
        .outerjoin(User, col(User.id) == col(CallListDownload.user_id))
        .where(col(CallListEntry.contact_id) == contact_id)
        .order_by(col(CallListDownload.id))
    )
    return await _mappings(session, DownloadRead, query)


async def _requests(session: AsyncSession, contact_id: int) -> list[RequestRead]:
    """Requests naming the person, and requests their objections and
    rectifications answered (a request need not be matched to a contact)."""
    answered = (
        select(col(Objection.request_id))
        .where(col(Objection.contact_id) == contact_id, col(Objection.request_id).is_not(None))
        .union(
            select(col(ContactChange.request_id)).where(
                col(ContactChange.contact_id) == contact_id,
                col(ContactChange.request_id).is_not(None),
            )
        )
    )
    query = (
        select(DataSubjectRequest)
        .where(
            or_(
                col(DataSubjectRequest.contact_id) == contact_id,
                col(DataSubjectRequest.id).in_(answered),
            )
        )
        .order_by(col(DataSubjectRequest.id))
    )
    requests = (await run(session, query)).scalars().all()
    actions: dict[int, list[RequestActionRead]] = defaultdict(list)
    if requests:
        ids = [request.id for request in requests]
        action_query = (
            select(RequestAction)
            .where(col(RequestAction.request_id).in_(ids))
            .order_by(col(RequestAction.id))
        )
        for action in (await run(session, action_query)).scalars():
            actions[action.request_id].append(
                RequestActionRead.model_validate(action, from_attributes=True)
            )
    return [
        RequestRead.model_validate(
            {**request.model_dump(), "actions": actions[request.id or 0]}, from_attributes=False
        )
        for request in requests
    ]


async def _profiles(
    session: AsyncSession, contact_id: int, cipher: DataCipher
) -> list[ProfileMetadata]:
    """Each profile's record, with the report of those still kept here."""
    rows = (await run(session, _of(Profile, contact_id))).scalars().all()
    return [
        ProfileMetadata.model_validate(
            {
                **profile.model_dump(),
                "content": open_sealed(profile.content_encrypted, cipher)
                if profile.state is ProfileState.KEPT and profile.content_encrypted is not None
                else None,
            }
        )
        for profile in rows
    ]


async def _access_log(session: AsyncSession, contact_id: int) -> list[AccessLogEntry]:
    return [
        AccessLogEntry(
            occurred_at=event.occurred_at,
            action=event.action,
            user_id=event.actor_user_id,
            user_role=event.actor_role,
            reason=event.reason,
        )
        for event in await audit_service.about_contact(session, contact_id)
    ]


async def gather(
    session: AsyncSession,
    *,
    contact: Contact,
    cipher: DataCipher,
    settings: Settings,
    lang: article15.Lang,
) -> AccessExport:
    assert contact.id is not None
    contact_id = contact.id
    read = await contacts_service.to_read(session, contact, cipher)
    # The person's own code, whole: everywhere else it is masked or hidden.
    code = contacts_service.reveal_identity_code(contact, cipher)
    return AccessExport(
        generated_at=clock.now(),
        contact=read.model_copy(update={"personal_identity_code": code}),
        consents=await consent_service.ledger(session, contact=contact),
        consent_receipts=await receipts.for_events(
            session, contact=contact, event_ids=None, settings=settings, cipher=cipher
        ),
        bans=[
            consent_service.ban_read(ban)
            for ban in await consent_service.list_bans(session, contact=contact)
        ],
        engagement=await _models(session, EngagementRead, _of(EngagementEvent, contact_id)),
        site_consents=await _site_consents(session, contact_id),
        messages=await _messages(session, contact_id),
        call_lists=await _call_lists(session, contact_id),
        profiles=await _profiles(session, contact_id, cipher),
        interactions=await _models(session, InteractionRead, _of(Interaction, contact_id)),
        disclosures=await _models(session, DisclosureRead, _of(Disclosure, contact_id)),
        objections=[
            service.objection_read(o)
            for o in await service.list_objections(session, contact=contact)
        ],
        legal_holds=[
            service.hold_read(hold) for hold in await service.list_holds(session, contact=contact)
        ],
        restrictions=await _models(session, RestrictionHistoryRead, _of(Restriction, contact_id)),
        requests=await _requests(session, contact_id),
        rectifications=await _models(session, RectificationRead, _of(ContactChange, contact_id)),
        accesses=Accesses(
            call_list_downloads=await _downloads(session, contact_id),
            access_log=AccessLog(
                recorded=True,
                note=texts.ACCESS_LOG[lang],
                events=await _access_log(session, contact_id),
            ),
        ),
        information=article15.information(contact, settings, lang),
    )


async def for_subject(
    session: AsyncSession,
    *,
    contact: Contact,
    cipher: DataCipher,
    settings: Settings,
    action: linking.Action,
    user_id: int | None,
    request_id: int | None = None,
    lang: Language | None = None,
) -> AccessExport:
    """The access (``ACCESS``) or portability (``PORTABILITY``) export staff
    download for the person, answering the open request ``request_id`` if
    given; the request's audit row says which, and whether the person's whole
    identity code went out in it. The API's routes and the contact page's
    downloads both call this."""
    assert contact.id is not None
    trail.annotate(session, request_id=request_id, kind=action.value)
    await linking.link(
        session, request_id=request_id, contact_id=contact.id, action=action, user_id=user_id
    )
    body = await gather(
        session,
        contact=contact,
        cipher=cipher,
        settings=settings,
        lang=article15.language_for(contact, lang),
    )
    if body.contact.personal_identity_code is not None:
        # The person's own code goes out whole in this export: the trail says so.
        trail.annotate(session, identity_code_included=True)
    return body
