"""Withdrawing the ``profiling_report`` consent ends the profiles made under it.

A behavioural profile (DISC) exists only by the person's consent. Once they
withdraw it, by whatever path (a staff member, a public link or page, the
portal, an import, a restore replaying a later withdrawal), every profile of
theirs recorded before that withdrawal is destroyed here at once: the
content gone, the row kept as metadata (state ``destroyed``), and never
handed to the vendor. The ledger's writer (``consent.service``) calls
``end_profiles`` in the transaction that appends the withdrawal, so no path
can record one and forget the other.

Two things keep a profile despite the withdrawal, as they keep it from every
retention rule: a legal hold (GDPR 17(3)(e)) and a restriction (GDPR 18: the
person asked that the data be stored and nothing else, often precisely so it
is not erased). The retention plan lists such a profile under the rule
``profile_consent_withdrawn``, skipped with the reason, and destroys it on the
first run after the hold or restriction ends. Any withdrawal on any channel
counts: a profile needs the person's consent, not a channel's.

Consent sits below profiles in the layers, so this touches the ``Profile``
table directly; the proof is a ``RetentionAction`` naming the profile by id.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, exists, not_, update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock, rules
from service.db import run
from service.models import ConsentEvent, Contact, LegalHold, Profile, RetentionAction
from service.models.enums import ConsentAction, ProfileState, Purpose

# The action recorded, as the retention plan names it (retention.schemas.Action).
DESTROY = "destroy"


def withdrawn_after_recording() -> ColumnElement[bool]:
    """The profile's person withdrew a ``profiling_report`` consent at or
    after the profile was recorded (a profile made after a renewed grant is
    not touched by the older withdrawal)."""
    return exists().where(
        col(ConsentEvent.contact_id) == col(Profile.contact_id),
        col(ConsentEvent.purpose) == Purpose.PROFILING_REPORT.value,
        col(ConsentEvent.action) == ConsentAction.WITHDRAW.value,
        col(ConsentEvent.occurred_at) >= col(Profile.recorded_at),
    )


def _kept_back() -> ColumnElement[bool]:
    """A legal hold in force, or a restriction, on the profile's person."""
    held = exists().where(
        col(LegalHold.contact_id) == col(Profile.contact_id), col(LegalHold.lifted_at).is_(None)
    )
    restricted = exists().where(
        col(Contact.id) == col(Profile.contact_id), col(Contact.restricted_at).is_not(None)
    )
    return held | restricted


def is_profiling_withdrawal(purpose: Any, action: Any) -> bool:
    return str(purpose) == Purpose.PROFILING_REPORT.value and str(action) == (
        ConsentAction.WITHDRAW.value
    )


async def end_profiles(
    session: AsyncSession, contact_ids: Iterable[int], *, withdrawn_at: datetime
) -> list[int]:
    """Destroy the kept profiles of ``contact_ids`` recorded at or before
    ``withdrawn_at`` (unless held or restricted), and record each; the ids."""
    wanted = sorted(set(contact_ids))
    if not wanted:
        return []
    now = clock.now()
    destroyed = (
        (
            await run(
                session,
                update(Profile)
                .where(
                    col(Profile.contact_id).in_(wanted),
                    col(Profile.state) == ProfileState.KEPT.value,
                    col(Profile.recorded_at) <= withdrawn_at,
                    not_(_kept_back()),
                )
                .values(
                    state=ProfileState.DESTROYED.value, destroyed_at=now, content_encrypted=None
                )
                .returning(col(Profile.id)),
            )
        )
        .scalars()
        .all()
    )
    today = rules.local_date(now)
    for profile_id in sorted(destroyed):
        session.add(
            RetentionAction(
                rule=rules.Rule.PROFILE_CONSENT_WITHDRAWN.value,
                action=DESTROY,
                reference=f"profile {profile_id}",
                deadline=today,
                done_at=now,
            )
        )
    if destroyed:
        await session.flush()
    return list(destroyed)
