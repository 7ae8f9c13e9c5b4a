"""Telling the recipients of disclosed data (GDPR 19).

When a person's data is rectified, erased or restricted, every recipient it
was disclosed to (the disclosure log, service.requests.disclosures) must be
told, unless that proves impossible or involves disproportionate effort.
:func:`notify_recipients` opens one task per distinct recipient; staff tell
the recipient (by the channel they agreed with them) and mark the task done,
with a note if they like. The tasks outlive an erased contact: they name it
by id only, and the erasure calls this before the disclosure log goes.

It sits in the requests register because every caller can reach it from
here: the rectification (service.contacts), the erasure and the restriction
(service.rights). Nothing here commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import ColumnElement, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.errors import Conflict, NotFound
from service.models import Disclosure, RecipientNotification
from service.models.enums import NotificationCause
from service.requests.schemas import RecipientNotificationDone, RecipientNotificationRead


async def notify_recipients(
    session: AsyncSession,
    *,
    contact_id: int,
    cause: NotificationCause,
    fields: Iterable[str] = (),
    request_id: int | None = None,
) -> list[RecipientNotification]:
    """One open task per distinct recipient (type and name) the contact's data
    was disclosed to, naming the newest disclosure to it; the tasks, oldest
    recipient first. ``fields``: a rectification's changed field names
    (never their values)."""
    rows = await session.exec(
        select(Disclosure)
        .where(col(Disclosure.contact_id) == contact_id)
        .order_by(col(Disclosure.disclosed_on), col(Disclosure.id))
    )
    newest: dict[tuple[str, str], Disclosure] = {}
    for disclosure in rows.all():
        # Later rows replace earlier ones; the dict keeps the first-seen order.
        newest[(disclosure.recipient_type.value, disclosure.recipient_name.casefold())] = disclosure
    changed = sorted(set(fields))
    tasks = [
        RecipientNotification(
            contact_id=contact_id,
            disclosure_id=disclosure.id,
            cause=cause,
            recipient_type=disclosure.recipient_type,
            recipient_name=disclosure.recipient_name,
            fields=changed,
            request_id=request_id,
        )
        for disclosure in newest.values()
    ]
    session.add_all(tasks)
    if tasks:
        await session.flush()
    return tasks


async def rectified(
    session: AsyncSession, contact_id: int, fields: Iterable[str], *, request_id: int | None
) -> list[RecipientNotification]:
    """The tasks of a rectification (one call for service.contacts.service.update)."""
    return await notify_recipients(
        session,
        contact_id=contact_id,
        cause=NotificationCause.RECTIFICATION,
        fields=fields,
        request_id=request_id,
    )


async def list_(
    session: AsyncSession,
    *,
    open_: bool | None = None,
    contact_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[Sequence[RecipientNotification], int]:
    """Tasks, oldest first, and how many match. ``open_``: True only those not
    done, False only the done ones."""
    conditions: list[ColumnElement[bool]] = []
    if open_ is True:
        conditions.append(col(RecipientNotification.done_at).is_(None))
    elif open_ is False:
        conditions.append(col(RecipientNotification.done_at).is_not(None))
    if contact_id is not None:
        conditions.append(col(RecipientNotification.contact_id) == contact_id)
    total = (
        await session.exec(
            select(func.count()).select_from(RecipientNotification).where(*conditions)
        )
    ).one()
    rows = await session.exec(
        select(RecipientNotification)
        .where(*conditions)
        .order_by(col(RecipientNotification.created_at), col(RecipientNotification.id))
        .limit(limit)
        .offset(offset)
    )
    return rows.all(), int(total)


async def mark_done(
    session: AsyncSession, *, task_id: int, data: RecipientNotificationDone, user_id: int | None
) -> RecipientNotification:
    """The recipient was told: when, by whom, and an optional note. Once."""
    task = await session.get(RecipientNotification, task_id)
    if task is None:
        raise NotFound(f"no recipient notification with id {task_id}")
    if task.done_at is not None:
        raise Conflict(f"recipient notification {task_id} is already done", reason="already_done")
    task.done_at = clock.now()
    task.done_by_user_id = user_id
    task.note = data.note
    session.add(task)
    await session.flush()
    return task


def to_read(task: RecipientNotification) -> RecipientNotificationRead:
    return RecipientNotificationRead.model_validate(task, from_attributes=True)


def names(tasks: Sequence[RecipientNotification]) -> list[str]:
    """The recipients to be told, as a rights action's answer lists them."""
    return [task.recipient_name for task in tasks]
