"""The self-service privacy portal (``/me``): what a person does on their
own page once a link let them in (service.portal.links): what is held, the
access export, consents, requests.

Everything the person does is recorded as their own act: consent changes in
the ledger (method ``privacy_portal``, actor ``public_link``, the archived
words shown, the network), requests in the requests register (channel
``web``, verified by ``email_link``, with their legal deadline). Nothing here
commits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.consent import archive
from service.consent import service as consent_service
from service.consent.queries import needs_consent, treated_as_person
from service.consent.schemas import ConsentCreate, Evidence
from service.consent.service import Collected
from service.crypto import DataCipher
from service.models import ConsentState, Contact, DataSubjectRequest
from service.models.enums import (
    Actor,
    BanKind,
    CaptureMethod,
    Channel,
    ConsentAction,
    ObjectionScope,
    Purpose,
    RequestChannel,
    RequestStatus,
    RequestType,
    Source,
    VerificationMethod,
)
from service.portal.texts import CHOICES, PAGE_TEXT, PROFILING, choice_label
from service.requests import deadlines
from service.requests import service as requests
from service.requests.schemas import RequestClose, RequestCreate
from service.rights import article15, export
from service.rights import service as rights
from service.rights.schemas import AccessExport, ObjectionCreate
from service.settings import Settings

MAX_DESCRIPTION = 4000

Pair = tuple[Channel, Purpose]


# -- what is held --------------------------------------------------------------------


def held(contact: Contact) -> list[tuple[str, str | None]]:
    """The contact's own data as the page lists it: text keys and values.
    The identity code is left out altogether, even whether one is held."""
    address = " ".join(
        part
        for part in (contact.street_address, contact.postal_code, contact.city, contact.country)
        if part
    )
    return [
        ("field_full_name", contact.full_name),
        ("field_nickname", contact.nickname),
        ("field_email", contact.email),
        ("field_phone", contact.phone),
        ("field_customer_number", contact.customer_number),
        ("field_employer", contact.employer),
        ("field_position", contact.position),
        ("field_education", contact.education),
        ("field_address", address or None),
        ("field_language", contact.language.value),
    ]


IDENTITY_CODE = "personal_identity_code"


async def access_export(
    session: AsyncSession, *, contact: Contact, cipher: DataCipher, settings: Settings
) -> AccessExport:
    """The staff access export (service.rights.export), less every trace of
    an identity code: its masked form, its name among rectified fields, and
    reads of it in the access log. Whoever holds the mailbox gets this file,
    so it must not tell them even that a code is held; the person can ask
    the privacy contact for it."""
    body = await export.gather(
        session,
        contact=contact,
        cipher=cipher,
        settings=settings,
        lang=article15.language_for(contact, None),
    )
    body.contact = body.contact.model_copy(update={IDENTITY_CODE: None})
    body.rectifications = [
        change.model_copy(update={"fields": [f for f in change.fields if f != IDENTITY_CODE]})
        for change in body.rectifications
        if change.fields != [IDENTITY_CODE]
    ]
    log = body.accesses.access_log
    log.events = [event for event in log.events if "identity_code" not in event.action]
    return body


# -- consents ------------------------------------------------------------------------


async def choices(session: AsyncSession, contact: Contact) -> dict[Pair, ConsentAction]:
    """What each choice amounts to now: the current state, or with none the
    law's default (the gate's own rule). Profiling: granted on any channel."""
    assert contact.id is not None
    rows = await session.exec(select(ConsentState).where(ConsentState.contact_id == contact.id))
    recorded = {(Channel(s.channel), Purpose(s.purpose)): s.action for s in rows.all()}
    person = treated_as_person(contact)
    result: dict[Pair, ConsentAction] = {}
    for pair in CHOICES:
        if pair == PROFILING:
            profiling = [a for (_, p), a in recorded.items() if p is Purpose.PROFILING_REPORT]
            granted = ConsentAction.GRANT in profiling
            result[pair] = ConsentAction.GRANT if granted else ConsentAction.WITHDRAW
            continue
        default = (
            ConsentAction.WITHDRAW if needs_consent(*pair, person=person) else ConsentAction.GRANT
        )
        result[pair] = recorded.get(pair, default)
    return result


def choice_key(pair: Pair) -> str:
    return f"{pair[0].value}.{pair[1].value}"


async def save_choices(
    session: AsyncSession,
    *,
    contact: Contact,
    wanted: Mapping[Pair, ConsentAction],
    language: str,
    network: str | None,
) -> int:
    """Record each choice that differs from the current one; how many were
    recorded. Each event names the archived words shown with the choice."""
    assert contact.id is not None
    await consent_service.lock_person(session, contact.id)
    now_ = await choices(session, contact)
    changed = 0
    for pair, action in wanted.items():
        if pair not in now_ or now_[pair] is action:
            continue
        label = choice_label(language, pair)
        text = await archive.archive(
            session, key=f"portal:{choice_key(pair)}", language=language, body=label
        )
        answer = PAGE_TEXT[language]["yes" if action is ConsentAction.GRANT else "no"]
        for channel in await _channels_to_record(session, contact.id, pair, action):
            await consent_service.record_consent(
                session,
                contact=contact,
                data=ConsentCreate.model_construct(
                    channel=channel,
                    purpose=pair[1],
                    action=action,
                    source=Source.SELF,
                    method=CaptureMethod.PRIVACY_PORTAL,
                    # Built as is: ``network`` is already cut to the
                    # configured prefix, which Evidence would read as an IP.
                    evidence=Evidence.model_construct(text=f"{label}: {answer}", ip=network),
                ),
                actor=Actor.PUBLIC_LINK,
                user_id=None,
                collected=Collected(text_id=text.id, language=language),
            )
        changed += 1
    return changed


async def _channels_to_record(
    session: AsyncSession, contact_id: int, pair: Pair, action: ConsentAction
) -> list[Channel]:
    """A profiling withdrawal withdraws every channel's grant (a profile needs
    a grant on any channel); anything else is recorded on its own channel."""
    if pair != PROFILING or action is ConsentAction.GRANT:
        return [pair[0]]
    rows = await session.exec(
        select(ConsentState.channel).where(
            ConsentState.contact_id == contact_id,
            ConsentState.purpose == Purpose.PROFILING_REPORT,
            ConsentState.action == ConsentAction.GRANT,
        )
    )
    return [Channel(channel) for channel in rows.all()]


# -- requests ------------------------------------------------------------------------

ASKABLE: dict[str, RequestType] = {
    "erasure": RequestType.ERASURE,
    "rectification": RequestType.RECTIFICATION,
    "restriction": RequestType.RESTRICTION,
    "objection": RequestType.OBJECTION,
}


@dataclass(frozen=True, slots=True)
class Asked:
    request: DataSubjectRequest | None  # None: an objection already in force
    new: bool


async def open_requests(session: AsyncSession, contact: Contact) -> Sequence[DataSubjectRequest]:
    rows = await session.exec(
        select(DataSubjectRequest)
        .where(
            col(DataSubjectRequest.contact_id) == contact.id,
            col(DataSubjectRequest.status) == RequestStatus.OPEN,
        )
        .order_by(col(DataSubjectRequest.id))
    )
    return rows.all()


def due_on(request: DataSubjectRequest) -> str:
    return deadlines.effective_due_date(request.due_on, request.extended_due_on).isoformat()


async def ask(
    session: AsyncSession, *, contact: Contact, kind: RequestType, description: str | None
) -> Asked:
    """Record the person's request: verified by the link they used, due by
    law a month from today. An open request of the same kind is not asked
    twice. An objection to direct marketing is absolute (GDPR 21(3)): upheld
    at once (a ban on every channel, the addresses suppressed) and its
    request closed as done."""
    assert contact.id is not None
    await consent_service.lock_person(session, contact.id)
    if kind is RequestType.OBJECTION and await objection_in_force(session, contact):
        return Asked(request=None, new=False)
    for request in await open_requests(session, contact):
        if request.type is kind:
            return Asked(request=request, new=False)
    text = (description or "").strip()[:MAX_DESCRIPTION] or None
    request = await requests.create(
        session,
        data=RequestCreate.model_construct(
            type=kind,
            contact_id=contact.id,
            channel=RequestChannel.WEB,
            received_on=clock.today(),
            requester=None,
            description=text,
        ),
        user_id=None,
    )
    await requests.verify(
        session, request=request, method=VerificationMethod.EMAIL_LINK.value, user_id=None
    )
    if kind is RequestType.OBJECTION:
        assert request.id is not None
        objection = await rights.object_(
            session,
            contact=contact,
            data=ObjectionCreate(
                scope=ObjectionScope.DIRECT_MARKETING,
                method=CaptureMethod.PRIVACY_PORTAL,
                request_id=request.id,
            ),
            user_id=None,
            actor=Actor.PUBLIC_LINK,
        )
        outcome = (
            f"Objection to direct marketing upheld at once (objection {objection.id}): "
            "a direct-marketing ban on all channels, made in the privacy portal."
        )
        await requests.close(
            session,
            request=request,
            data=RequestClose(status=RequestStatus.DONE, outcome=outcome),
            user_id=None,
        )
    return Asked(request=request, new=True)


async def objection_in_force(session: AsyncSession, contact: Contact) -> bool:
    """Whether an upheld objection to direct marketing and its ban stand."""
    assert contact.id is not None
    return contact.objected_at is not None and await consent_service.has_active_ban(
        session, contact_id=contact.id, kind=BanKind.DIRECT_MARKETING
    )
