"""What a valid signup does, from the submission to its confirmation: the
contact matched or made, the pending signup (double opt-in), the grants.
The submission is read and checked before it comes here
(service.forms.submission).

What a submission does is never told to the sender: a known or a new
address, a suppressed or banned one, a filled honeypot, a rate limit hit —
the caller answers all of them the same way. Behind that answer:

* a known contact is never changed by a submission (an unverified sender
  must not rewrite someone's data); a new one is created at once, pending
  (``Contact.pending_since``), which the gate leaves out everywhere;
* a known address that is suppressed, banned (direct marketing, on all
  channels or one offered), objected or restricted gets nothing: no mail,
  no signup row, no change;
* over a rate limit (``ADDRESS_LIMIT``, ``NETWORK_LIMIT``) nothing is kept
  and nothing sent; a later submission within the limits starts afresh;
* a second submission for the same contact and form while one is pending
  reuses that row (the latest ticks, language and submission time, a new
  expiry) and a new mail is sent, whose link replaces the earlier one.

Nothing is granted before the person confirms (``confirm``), unless the form
has ``double_opt_in`` off: then the grants are recorded at once, method
``web_form`` — with the risk that anybody can sign up anybody's address.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock, onetime
from service.consent import archive
from service.consent import service as consent_service
from service.consent.schemas import ConsentCreate, Evidence
from service.consent.service import Collected
from service.contacts import service as contacts
from service.contacts.schemas import ContactCreate
from service.crypto import DataCipher
from service.errors import Conflict
from service.forms.submission import Valid
from service.models import Ban, Contact, FormVersion, Signup, SignupForm
from service.models.enums import (
    Actor,
    BanChannel,
    BanKind,
    CaptureMethod,
    Channel,
    ConsentAction,
    Language,
    LegalBasis,
    Purpose,
    Source,
)
from service.public_limits import Limit, allow
from service.settings import Settings
from service.suppressions import service as suppressions

ADDRESS_LIMIT = Limit("signup-address", 3, timedelta(hours=1))
NETWORK_LIMIT = Limit("signup-ip", 20, timedelta(hours=1))


# -- who may get nothing ---------------------------------------------------------


async def _address_suppressed(session: AsyncSession, hashes: list[str | None]) -> bool:
    wanted = [h for h in hashes if h is not None]
    return bool(wanted) and bool(await suppressions.suppressed_among(session, wanted))


async def blocked(session: AsyncSession, contact: Contact, channels: set[Channel]) -> bool:
    """Whether a known contact must get nothing from a signup: a suppressed
    address, a direct-marketing ban on all channels or one of ``channels``,
    an objection, a restriction."""
    assert contact.id is not None
    if contact.objected_at is not None or contact.restricted_at is not None:
        return True
    if await _address_suppressed(session, [contact.email_hash, contact.phone_hash]):
        return True
    ban_channels = [BanChannel.ALL, *(BanChannel(channel.value) for channel in channels)]
    bans = await session.exec(
        select(Ban.id).where(
            Ban.contact_id == contact.id,
            Ban.kind == BanKind.DIRECT_MARKETING,
            col(Ban.channel).in_(ban_channels),
            col(Ban.lifted_at).is_(None),
        )
    )
    return bans.first() is not None


# -- the submission --------------------------------------------------------------


async def _match(
    session: AsyncSession, values: dict[str, Any], cipher: DataCipher
) -> Contact | None:
    if values.get("email"):
        rows = await session.exec(select(Contact).where(Contact.email == values["email"]))
        return rows.first()
    phone_hash = cipher.lookup_hash("phone", values["phone"])
    rows = await session.exec(
        select(Contact).where(Contact.phone_hash == phone_hash).order_by(col(Contact.id)).limit(1)
    )
    return rows.first()


async def _create_pending(
    session: AsyncSession, valid: Valid, cipher: DataCipher, now: datetime
) -> Contact | None:
    """A new contact, pending; None if the address may not be registered
    (suppressed) or another request registered it this very moment."""
    data = ContactCreate.model_construct(
        **valid.values,
        language=Language(valid.language),
        legal_basis=LegalBasis.CONSENT,
        source=Source.SELF,
        tags=[],
        personal_identity_code=None,
    )
    try:
        async with session.begin_nested():
            contact = await contacts.create(session, data=data, cipher=cipher)
            contact.pending_since = now
            session.add(contact)
            await session.flush()
    except (Conflict, IntegrityError):
        return None
    return contact


def _shown(valid: Valid) -> list[dict[str, Any]]:
    """The ticked offers with the text each was shown in, in the submission's language."""
    shown = []
    for offer in valid.offers:
        text_id = offer.texts.get(valid.language)
        if text_id is None and offer.texts:
            text_id = next(iter(offer.texts.values()))
        shown.append(
            {"channel": offer.channel.value, "purpose": offer.purpose.value, "text_id": text_id}
        )
    return shown


async def submit(
    session: AsyncSession,
    *,
    form: SignupForm,
    valid: Valid,
    network: str | None,
    cipher: DataCipher,
    settings: Settings,
) -> int | None:
    """Act on a valid submission; the signup whose confirmation mail is to be
    sent, or None when no mail goes out (whatever the reason)."""
    assert form.id is not None
    if valid.honeypot_filled:
        return None
    if network is not None and not await allow(session, cipher, NETWORK_LIMIT, network):
        return None
    address = valid.values.get("email") or valid.values.get("phone")
    if not await allow(session, cipher, ADDRESS_LIMIT, str(address)):
        return None
    now = clock.now()
    channels = {offer.channel for offer in valid.offers}
    contact = await _match(session, valid.values, cipher)
    created = False
    if contact is not None:
        if await blocked(session, contact, channels):
            return None
    else:
        hashes = [
            cipher.lookup_hash(kind, valid.values[kind]) if valid.values.get(kind) else None
            for kind in ("email", "phone")
        ]
        if await _address_suppressed(session, hashes):
            return None
        contact = await _create_pending(session, valid, cipher, now)
        if contact is None:
            return None
        created = True
    assert contact.id is not None
    shown = _shown(valid)
    if not form.double_opt_in:
        if created:
            contact.pending_since = None
            session.add(contact)
        await _grant(
            session,
            contact=contact,
            form=form,
            form_version=form.version,
            offers=shown,
            language=valid.language,
            method=CaptureMethod.WEB_FORM,
            ip=network,
            submitted_at=now,
            submission_ip=network,
        )
        return None
    pending = await session.exec(
        select(Signup).where(
            Signup.contact_id == contact.id,
            Signup.form_id == form.id,
            col(Signup.confirmed_at).is_(None),
            col(Signup.expires_at) > now,
        )
    )
    signup = pending.first()
    if signup is None:
        signup = Signup(
            form_id=form.id,
            form_version=form.version,
            contact_id=contact.id,
            created_contact=created,
            language=valid.language,
            offers=shown,
            # No link exists until the job makes one: the hash of a token
            # nobody ever sees.
            token_hash=onetime.new_token()[1],
            submitted_at=now,
            submission_ip=network,
            expires_at=now + timedelta(days=settings.doi_expiry_days),
        )
    else:
        signup.form_version = form.version
        signup.language = valid.language
        signup.offers = shown
        signup.submitted_at = now
        signup.submission_ip = network
        signup.expires_at = now + timedelta(days=settings.doi_expiry_days)
    session.add(signup)
    await session.flush()
    assert signup.id is not None
    return signup.id


# -- the confirmation -------------------------------------------------------------


async def by_token(session: AsyncSession, token: str) -> Signup | None:
    """The signup a confirmation link names, used or not; None for anything
    that is not one of ours, or has expired unconfirmed."""
    if not onetime.looks_like_token(token):
        return None
    rows = await session.exec(select(Signup).where(Signup.token_hash == onetime.token_hash(token)))
    signup = rows.first()
    if signup is None:
        return None
    if signup.confirmed_at is None and _aware(signup.expires_at) <= clock.now():
        return None
    return signup


def _aware(moment: datetime) -> datetime:
    # SQLite hands datetimes back naive (they are stored in UTC).
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def shown_texts(session: AsyncSession, signup: Signup) -> list[dict[str, Any]]:
    """Each offer of a signup with the archived words it was shown with."""
    ids = [offer["text_id"] for offer in signup.offers if offer.get("text_id") is not None]
    texts = await archive.many(session, ids)
    result = []
    for offer in signup.offers:
        text = texts.get(offer.get("text_id") or -1)
        result.append(
            {
                "channel": offer["channel"],
                "purpose": offer["purpose"],
                "text_id": offer.get("text_id"),
                "body": text.body if text is not None else f"{offer['channel']}.{offer['purpose']}",
                "version": text.version if text is not None else None,
                "hash": text.hash if text is not None else None,
            }
        )
    return result


async def _notice_version(session: AsyncSession, form: SignupForm, version: int) -> str | None:
    """The privacy notice version the form named at ``version``."""
    stored = await session.get(FormVersion, (form.id, version))
    if stored is not None and "notice_version" in stored.definition:
        value = stored.definition["notice_version"]
        return str(value) if value is not None else None
    return form.notice_version


async def _grant(
    session: AsyncSession,
    *,
    contact: Contact,
    form: SignupForm,
    form_version: int,
    offers: list[dict[str, Any]],
    language: str,
    method: CaptureMethod,
    ip: str | None,
    submitted_at: datetime,
    submission_ip: str | None,
) -> None:
    assert contact.id is not None
    await consent_service.lock_person(session, contact.id)
    texts = await archive.many(
        session, [offer["text_id"] for offer in offers if offer.get("text_id") is not None]
    )
    notice_version = await _notice_version(session, form, form_version)
    for offer in offers:
        text = texts.get(offer.get("text_id") or -1)
        # Constructed, not validated: the IP is a network already, and the
        # words are the archived ones, checked when they were archived.
        evidence = Evidence.model_construct(
            text=text.body if text is not None else None,
            notice_version=notice_version,
            ip=ip,
        )
        await consent_service.record_consent(
            session,
            contact=contact,
            data=ConsentCreate.model_construct(
                channel=Channel(offer["channel"]),
                purpose=Purpose(offer["purpose"]),
                action=ConsentAction.GRANT,
                source=Source.SELF,
                method=method,
                evidence=evidence,
            ),
            actor=Actor.PUBLIC_LINK,
            user_id=None,
            collected=Collected(
                text_id=text.id if text is not None else None,
                language=language,
                form_id=form.id,
                form_version=form_version,
                submitted_at=submitted_at,
                submission_ip=submission_ip,
            ),
        )


async def confirm(session: AsyncSession, signup: Signup, *, network: str | None) -> bool:
    """Grant what the signup asked for, under the person's lock; False when
    nothing was granted: confirmed already (by this or a parallel request),
    or the address may no longer get anything."""
    assert signup.id is not None
    await consent_service.lock_person(session, signup.contact_id)
    await session.refresh(signup)
    if signup.confirmed_at is not None:
        return False
    contact = await session.get(Contact, signup.contact_id)
    form = await session.get(SignupForm, signup.form_id)
    if contact is None or form is None:
        return False
    await session.refresh(contact)
    channels = {Channel(offer["channel"]) for offer in signup.offers}
    if await blocked(session, contact, channels):
        return False
    now = clock.now()
    await _grant(
        session,
        contact=contact,
        form=form,
        form_version=signup.form_version,
        offers=signup.offers,
        language=signup.language,
        method=CaptureMethod.DOUBLE_OPT_IN,
        ip=network,
        submitted_at=_aware(signup.submitted_at),
        submission_ip=signup.submission_ip,
    )
    contact.pending_since = None
    session.add(contact)
    signup.confirmed_at = now
    signup.confirmation_ip = network
    session.add(signup)
    await session.flush()
    return True
