"""Behavioural profiles (the notice §4, §6): record with consent, read, amend.

The report itself is sealed with the data key (``seal_content``) and opened
only by ``open_content``: for the privacy officer's read and for the
retention rules' hand-over to the vendor. Listings carry metadata only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.consent import service as consent
from service.crypto import DataCipher
from service.errors import Conflict, DomainError, InvalidInput, NotFound
from service.labels import N_
from service.models import Contact, Profile
from service.models.enums import ProfileState, Purpose, Reason
from service.profiles.schemas import ProfileContent, ProfileCreate, ProfileRead, ProfileUpdate

# Binds each ciphertext to this column: a sealed report pasted into another
# encrypted column (the identity code's) does not open there.
CONTENT_CONTEXT = b"profiles.content"
# A report is a few pages; anything far larger is a mistake, not a report.
MAX_CONTENT_CHARS = 500_000


class Gone(DomainError):
    """The profile was handed to the vendor or destroyed: its content is gone (410)."""

    status_code = 410


def seal_content(content: str | dict[str, Any], cipher: DataCipher) -> str:
    """The report as JSON text, encrypted for the ``content_encrypted`` column."""
    text = json.dumps(content, ensure_ascii=False)
    if len(text) > MAX_CONTENT_CHARS:
        message = f"must be at most {MAX_CONTENT_CHARS} characters as JSON"
        raise InvalidInput(N_("the report is too large"), fields={"content": message})
    return cipher.encrypt(text, context=CONTENT_CONTEXT)


def open_sealed(sealed: str, cipher: DataCipher) -> str | dict[str, Any]:
    """A ``content_encrypted`` value, decrypted: the report as it was given
    (text or a JSON object). The retention hand-over reads the column itself."""
    content: str | dict[str, Any] = json.loads(cipher.decrypt(sealed, context=CONTENT_CONTEXT))
    return content


def open_content(profile: Profile, cipher: DataCipher) -> str | dict[str, Any]:
    """The decrypted report of a profile still kept here; else ``Gone``."""
    if profile.state is not ProfileState.KEPT or profile.content_encrypted is None:
        raise Gone(f"profile {profile.id} is no longer kept here ({profile.state})")
    return open_sealed(profile.content_encrypted, cipher)


async def get(session: AsyncSession, profile_id: int) -> Profile:
    profile = await session.get(Profile, profile_id)
    if profile is None:
        raise NotFound(f"no profile with id {profile_id}")
    return profile


async def create(
    session: AsyncSession,
    *,
    contact: Contact,
    data: ProfileCreate,
    cipher: DataCipher,
    user_id: int | None,
) -> Profile:
    assert contact.id is not None
    sealed = seal_content(data.content, cipher)
    refuse_if_restricted(contact)
    if not await consent.granted(session, contact_id=contact.id, purpose=Purpose.PROFILING_REPORT):
        raise Conflict(
            f"contact {contact.id} has not granted consent for profiling reports",
            reason=Reason.NO_CONSENT.value,
        )
    profile = Profile(
        contact_id=contact.id,
        completed_on=data.completed_on,
        has_vendor_account=data.has_vendor_account,
        content_encrypted=sealed,
        recorded_by_user_id=user_id,
    )
    session.add(profile)
    await session.flush()
    return profile


async def update(
    session: AsyncSession, *, profile: Profile, contact: Contact, data: ProfileUpdate
) -> Profile:
    """Amend the facts that steer the profile's retention.

    On a restricted contact only a forbidding of the transfer is taken: it
    limits processing further, which a restriction must never stand in the way of."""
    changes = data.model_dump(exclude_unset=True)
    cleared = sorted(name for name, value in changes.items() if value is None)
    if cleared:
        raise InvalidInput(
            N_("these fields cannot be null"),
            fields={name: "must be true or false" for name in cleared},
        )
    if profile.state is not ProfileState.KEPT:
        raise Conflict(
            f"profile {profile.id} is no longer kept here ({profile.state})", reason="not_kept"
        )
    if changes != {"transfer_forbidden": True}:
        refuse_if_restricted(contact)
    if "has_vendor_account" in changes:
        profile.has_vendor_account = changes["has_vendor_account"]
    if changes.get("transfer_forbidden") is True:
        # The first time it was forbidden is what counts; repeating it keeps that.
        profile.transfer_forbidden_at = profile.transfer_forbidden_at or clock.now()
    elif changes.get("transfer_forbidden") is False:
        profile.transfer_forbidden_at = None
    session.add(profile)
    await session.flush()
    return profile


async def list_(session: AsyncSession, *, contact_id: int) -> Sequence[Profile]:
    """The contact's profiles, newest first."""
    rows = await session.exec(
        select(Profile)
        .where(Profile.contact_id == contact_id)
        .order_by(col(Profile.completed_on).desc(), col(Profile.id).desc())
    )
    return rows.all()


def refuse_if_restricted(contact: Contact) -> None:
    # GDPR 18(2): while restricted, the data is stored and nothing else.
    if contact.restricted_at is not None:
        raise Conflict(
            f"contact {contact.id} is restricted: its data may only be stored",
            reason=Reason.RESTRICTED.value,
        )


def to_read(profile: Profile) -> ProfileRead:
    return ProfileRead.model_validate(profile, from_attributes=True)


def to_content(profile: Profile, cipher: DataCipher) -> ProfileContent:
    assert profile.id is not None
    return ProfileContent(
        id=profile.id, contact_id=profile.contact_id, content=open_content(profile, cipher)
    )
