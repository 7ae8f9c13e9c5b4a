"""Contacts: create, read, list and update, with identity codes sealed at rest."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.auth.permissions import Permission
from service.consent.queries import Gate, GateContext, Segment
from service.contacts.schemas import (
    ELIGIBLE,
    GATE_INPUTS,
    IDENTITY_CODE_FIELDS,
    REQUIRED_ON_UPDATE,
    ConsentFilter,
    ContactCreate,
    ContactFilters,
    ContactPage,
    ContactRead,
    ContactUpdate,
    business_role_problems,
    identity_code_problems,
)
from service.crypto import DataCipher
from service.db import get_or_404
from service.errors import Conflict, InvalidInput
from service.labels import N_
from service.models import Contact, ContactChange, ContactTag
from service.models.base import utcnow
from service.models.enums import Channel, ConsentAction, Purpose, Reason
from service.requests import linking, recipients
from service.suppressions import service as suppressions
from service.validation import CONTROL_CHARACTERS, mask_identity_code

# Columns a ContactCreate/ContactUpdate writes as they are; the rest
# (identity code, tags, hashes) need work first.
_PLAIN_FIELDS = set(ContactCreate.model_fields) - {
    "personal_identity_code",
    "personal_identity_code_basis",
    "tags",
}
IDENTITY_CODE_CONTEXT = b"contacts.identity_code"


async def get(session: AsyncSession, contact_id: int) -> Contact:
    return await get_or_404(session, Contact, contact_id, what="contact")


async def create(session: AsyncSession, *, data: ContactCreate, cipher: DataCipher) -> Contact:
    contact = Contact(**data.model_dump(include=_PLAIN_FIELDS))
    _set_identity_code(contact, data.personal_identity_code, cipher)
    contact.identity_code_basis = data.personal_identity_code_basis
    _check_rules(contact, set(ContactCreate.model_fields))
    _refresh_hashes(contact, cipher)
    await _check_unique_and_unsuppressed(
        session, contact, new_hashes=(contact.email_hash, contact.phone_hash)
    )
    session.add(contact)
    await session.flush()
    await _replace_tags(session, contact, data.tags)
    return contact


async def update(
    session: AsyncSession,
    *,
    contact: Contact,
    data: ContactUpdate,
    cipher: DataCipher,
    user_id: int | None = None,
    request_id: int | None = None,
) -> Contact:
    """Rectify a contact and record which fields changed (names only, never
    values), by whom and for which request.

    A restricted contact (GDPR 18) is kept but not changed: 409 ``restricted``,
    unless ``request_id`` names an open rectification request for it. A
    restriction while accuracy is contested (18(1)(a)) is exactly what such a
    rectification resolves."""
    assert contact.id is not None
    changes = data.model_dump(exclude_unset=True)
    cleared = sorted(
        name for name in REQUIRED_ON_UPDATE if name in changes and changes[name] is None
    )
    if cleared:
        raise InvalidInput(
            N_("these fields cannot be cleared"),
            fields={name: N_("may not be null") for name in cleared},
        )
    request = None
    if request_id is not None:
        request = await linking.open_request(
            session,
            request_id=request_id,
            contact_id=contact.id,
            action=linking.Action.RECTIFICATION,
        )
    elif contact.restricted_at is not None:
        raise Conflict(
            f"contact {contact.id} is restricted: it is kept but not changed; rectify it "
            "under an open rectification request (?request_id=) or lift the restriction",
            reason="restricted",
        )
    before = {name: getattr(contact, name) for name in changes.keys() & _PLAIN_FIELDS}
    old_code_hash, old_basis = contact.identity_code_hash, contact.identity_code_basis
    old_hashes = {contact.email_hash, contact.phone_hash}
    for name in changes.keys() & _PLAIN_FIELDS:
        setattr(contact, name, changes[name])
    _apply_identity_code(contact, changes, cipher)
    _check_rules(contact, set(changes))
    _refresh_hashes(contact, cipher)
    # Only an address the contact did not have is checked against the
    # suppression list: their own address may be on it (a bounce, an
    # objection), and that must not stop the rest of their data being rectified.
    new_hashes = [h for h in (contact.email_hash, contact.phone_hash) if h not in old_hashes]
    await _check_unique_and_unsuppressed(session, contact, new_hashes=new_hashes)
    changed = {name for name, old in before.items() if getattr(contact, name) != old}
    if contact.identity_code_hash != old_code_hash:
        changed.add("personal_identity_code")
    if contact.identity_code_basis != old_basis:
        changed.add("personal_identity_code_basis")
    if "tags" in changes and set(changes["tags"]) != set(
        (await tags_of(session, [contact.id]))[contact.id]
    ):
        changed.add("tags")
        await _replace_tags(session, contact, changes["tags"])
    contact.updated_at = utcnow()
    session.add(contact)
    if changed:
        session.add(
            ContactChange(
                contact_id=contact.id,
                fields=sorted(changed),
                changed_by_user_id=user_id,
                request_id=request_id,
            )
        )
        # GDPR 19: whoever the data was disclosed to is told of the rectification.
        await recipients.rectified(session, contact.id, changed, request_id=request_id)
    await session.flush()
    if request is not None:
        await linking.record(
            session, request=request, action=linking.Action.RECTIFICATION, user_id=user_id
        )
    return contact


def permissions_for(body: Any, contact: Contact | None) -> list[Permission]:
    """What a create (``contact`` None) or PATCH body needs beyond
    contacts:write, read from the body as sent, before it is validated, so a
    forbidden change answers 403 whatever else the body holds: any identity
    code field needs contacts:read_identity_code; a gate input sent with a
    value other than the stored one needs contacts:write_gate_inputs (on
    create, whoever may create contacts sets them)."""
    if not isinstance(body, dict):
        return []
    needed = []
    if any(name in body for name in IDENTITY_CODE_FIELDS):
        needed.append(Permission.CONTACTS_READ_IDENTITY_CODE)
    if contact is not None and any(
        name in body and _differs(body[name], getattr(contact, name)) for name in GATE_INPUTS
    ):
        needed.append(Permission.GATE_INPUTS_WRITE)
    return needed


def _differs(sent: Any, stored: Any) -> bool:
    if isinstance(stored, bool):
        return sent is not stored
    return bool(sent != stored)


def gate_input_changes(contact: Contact, data: ContactUpdate) -> dict[str, tuple[Any, Any]]:
    """The gate inputs the update changes, each as (before, after): enum
    values and flags, never free text, for the audit trail."""
    found = {}
    for name in GATE_INPUTS:
        after = getattr(data, name)
        if name in data.model_fields_set and after is not None and after != getattr(contact, name):
            found[name] = (getattr(contact, name), after)
    return found


def require_reason(contact: Contact, data: ContactUpdate) -> dict[str, tuple[Any, Any]]:
    """The gate inputs the update changes (see :func:`gate_input_changes`);
    InvalidInput when it changes any without a stated ``reason``."""
    changes = gate_input_changes(contact, data)
    if changes and data.reason is None:
        message = f"required to change {', '.join(changes)}"
        raise InvalidInput(N_("a gate input changes: state a reason"), fields={"reason": message})
    return changes


def matches(fragment: str) -> ColumnElement[bool]:
    """A contact whose name, nickname, email or customer number contains the
    fragment (any case): the one text search of the contact list and its exports."""
    escaped = fragment.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    return or_(
        *(
            func.lower(column).like(pattern, escape="\\")
            for column in (
                col(Contact.full_name),
                col(Contact.nickname),
                col(Contact.email),
                col(Contact.customer_number),
            )
        )
    )


def list_reasons(channel: Channel) -> list[Reason]:
    """The reason codes the list's ``reason`` filter can find on a channel: the
    consent gate's for direct marketing (no Robinson register for email),
    with those only a campaign for similar products asks (soft opt-in's
    evidence: no_purchase_record, no_refusal_notice) where they apply."""
    context = GateContext(channel=channel, purpose=Purpose.DIRECT_MARKETING, today=clock.today())
    plain = list(Gate(context).reasons)
    soft = Gate(replace(context, similar_products=True)).reasons
    return plain + [reason for reason in soft if reason not in plain]


def _list_conditions(gate: Gate, filters: ContactFilters) -> list[ColumnElement[bool]]:
    """The filters as conditions on the gate's FROM clause: its own expressions
    for the segment, the consent state and the reasons, so the list and a
    campaign's audience always agree."""
    found: list[ColumnElement[bool]] = []
    if filters.language or filters.tag:
        segment = Segment(
            languages=(filters.language.value,) if filters.language else (),
            tags=(filters.tag.lower(),) if filters.tag else (),
        )
        found.extend(Gate(replace(gate.context, segment=segment)).within())
    consent = col(gate.consent.action)
    match filters.consent:
        case ConsentFilter.GRANTED:
            found.append(consent == ConsentAction.GRANT.value)
        case ConsentFilter.WITHDRAWN:
            found.append(consent == ConsentAction.WITHDRAW.value)
        case ConsentFilter.NONE:
            found.append(consent.is_(None))
    if filters.reason == ELIGIBLE:
        found.append(gate.eligible())
    elif isinstance(filters.reason, Reason):
        found.append(gate.reasons[filters.reason])
    if filters.email is not None:
        found.append(col(Contact.email) == filters.email)
    if filters.q:
        found.append(matches(filters.q))
    return found


async def list_(
    session: AsyncSession, *, filters: ContactFilters, limit: int, offset: int
) -> tuple[Sequence[Contact], int]:
    """A page of the contacts the filters let through, in id order, and how
    many they let through in all. 422 for a reason the gate never gives on
    the filter's channel (``robinson_listed`` for email)."""
    context = GateContext(
        channel=filters.channel, purpose=Purpose.DIRECT_MARKETING, today=clock.today()
    )
    gate = Gate(context)
    if isinstance(filters.reason, Reason) and filters.reason not in gate.reasons:
        # Soft opt-in's evidence: judged as a campaign for similar products judges it.
        gate = Gate(replace(context, similar_products=True))
    if isinstance(filters.reason, Reason) and filters.reason not in gate.reasons:
        message = f"{filters.reason} never applies to {filters.channel}"
        raise InvalidInput(message, fields={"reason": message})
    for name in ("tag", "q", "email"):
        # Nothing stored holds one, and PostgreSQL refuses a NUL outright.
        value = getattr(filters, name)
        if value is not None and CONTROL_CHARACTERS.search(value):
            message = "must not contain line breaks or other control characters"
            raise InvalidInput(f"the {name} filter is not valid", fields={name: message})
    # Without a filter of the gate's, the plain table: no join to count through.
    source: Any = gate.source if filters.judged else Contact
    conditions = _list_conditions(gate, filters)
    count = select(func.count()).select_from(source).where(*conditions)
    total = int((await session.exec(count)).one())
    query = (
        select(Contact)
        .select_from(source)
        .where(*conditions)
        .order_by(col(Contact.id))
        .limit(limit)
        .offset(offset)
    )
    return (await session.exec(query)).all(), total


async def tags_of(session: AsyncSession, contact_ids: Sequence[int]) -> dict[int, list[str]]:
    tags: dict[int, list[str]] = defaultdict(list)
    if contact_ids:
        rows = await session.exec(
            select(ContactTag.contact_id, ContactTag.tag)
            .where(col(ContactTag.contact_id).in_(contact_ids))
            .order_by(col(ContactTag.contact_id), col(ContactTag.tag))
        )
        for contact_id, tag in rows:
            tags[contact_id].append(tag)
    return tags


async def to_read(
    session: AsyncSession, contact: Contact, cipher: DataCipher, *, identity_code: bool = True
) -> ContactRead:
    """The contact as served. ``identity_code``: whether the reader's role
    holds contacts:read_identity_code; without it the code and its basis are
    null, whether or not one is stored (not even the birth date shows)."""
    assert contact.id is not None
    tags = (await tags_of(session, [contact.id]))[contact.id]
    return _read(contact, tags, cipher, identity_code=identity_code)


async def page(
    session: AsyncSession,
    contacts: Sequence[Contact],
    total: int,
    *,
    limit: int,
    offset: int,
    cipher: DataCipher,
    identity_code: bool = True,
) -> ContactPage:
    tags = await tags_of(session, [c.id for c in contacts if c.id is not None])
    items = [
        _read(c, tags[c.id] if c.id is not None else [], cipher, identity_code=identity_code)
        for c in contacts
    ]
    return ContactPage(items=items, total=total, limit=limit, offset=offset)


def reveal_identity_code(contact: Contact, cipher: DataCipher) -> str | None:
    """The unmasked code. Only the privileged, audited read may call this."""
    if contact.identity_code_encrypted is None:
        return None
    return cipher.decrypt(contact.identity_code_encrypted, context=IDENTITY_CODE_CONTEXT)


def _read(
    contact: Contact, tags: list[str], cipher: DataCipher, *, identity_code: bool
) -> ContactRead:
    code = reveal_identity_code(contact, cipher) if identity_code else None
    return ContactRead(
        **contact.model_dump(include=set(ContactRead.model_fields)),
        personal_identity_code=mask_identity_code(code) if code else None,
        personal_identity_code_basis=contact.identity_code_basis if identity_code else None,
        tags=tags,
        restricted=contact.restricted_at is not None,
        objected=contact.objected_at is not None,
    )


def _apply_identity_code(contact: Contact, changes: dict[str, Any], cipher: DataCipher) -> None:
    """A PATCH's identity code and basis; clearing the code clears its basis."""
    if "personal_identity_code" in changes:
        _set_identity_code(contact, changes["personal_identity_code"], cipher)
        if changes["personal_identity_code"] is None:
            contact.identity_code_basis = None
    if "personal_identity_code_basis" in changes:
        contact.identity_code_basis = changes["personal_identity_code_basis"]


def _check_rules(contact: Contact, touched: set[str]) -> None:
    """The rules over several fields, on the contact as it would be stored,
    checked only when the request touches one of their fields: a row stored
    before a rule existed can still be rectified otherwise."""
    problems: dict[str, str] = {}
    if touched & {"contact_type", "employer", "position"}:
        problems |= business_role_problems(
            contact_type=contact.contact_type, employer=contact.employer, position=contact.position
        )
    # A code stored before bases were recorded (null basis) does not stop a
    # change of the legal basis; setting or changing the code or basis does.
    if touched & set(IDENTITY_CODE_FIELDS) or (
        "legal_basis" in touched and contact.identity_code_basis is not None
    ):
        problems |= identity_code_problems(
            code=contact.identity_code_hash is not None,
            basis=contact.identity_code_basis,
            legal_basis=contact.legal_basis,
        )
    if problems:
        raise InvalidInput(N_("the contact's fields do not fit together"), fields=problems)


def _set_identity_code(contact: Contact, code: str | None, cipher: DataCipher) -> None:
    if code is None:
        contact.identity_code_encrypted = None
        contact.identity_code_hash = None
    else:
        contact.identity_code_encrypted = cipher.encrypt(code, context=IDENTITY_CODE_CONTEXT)
        contact.identity_code_hash = cipher.lookup_hash("identity_code", code)


def _refresh_hashes(contact: Contact, cipher: DataCipher) -> None:
    contact.email_hash = cipher.lookup_hash("email", contact.email) if contact.email else None
    contact.phone_hash = cipher.lookup_hash("phone", contact.phone) if contact.phone else None


async def _check_unique_and_unsuppressed(
    session: AsyncSession, contact: Contact, *, new_hashes: Iterable[str | None]
) -> None:
    """Refuse duplicates, and suppressed addresses among ``new_hashes``, with a
    409 before the write, so the caller gets a reason rather than a constraint error."""
    # The contact may carry unsaved changes; flushing them before the checks
    # would trip the unique constraints we are about to explain.
    with session.no_autoflush:
        await _check_clashes(session, contact, [h for h in new_hashes if h is not None])


async def _check_clashes(session: AsyncSession, contact: Contact, hashes: list[str]) -> None:
    others = col(Contact.id) != contact.id if contact.id is not None else True
    for field, column, value in (
        ("email", Contact.email, contact.email),
        ("personal_identity_code", Contact.identity_code_hash, contact.identity_code_hash),
    ):
        if value is None:
            continue
        clash = await session.exec(select(Contact.id).where(column == value, others))
        if clash.first() is not None:
            raise Conflict(
                f"another contact already has this {field.replace('_', ' ')}",
                reason="duplicate",
                fields={field: N_("already registered")},
            )
    if hashes:
        kinds = sorted(set((await suppressions.suppressed_among(session, hashes)).values()))
        if kinds:
            raise Conflict(
                N_("this address is on the suppression list and may not be registered again"),
                reason="suppressed",
                fields={kind: "suppressed" for kind in kinds},
            )


async def _replace_tags(session: AsyncSession, contact: Contact, tags: list[str]) -> None:
    assert contact.id is not None
    await session.exec(delete(ContactTag).where(col(ContactTag.contact_id) == contact.id))
    if tags:
        await session.exec(
            insert(ContactTag), params=[{"contact_id": contact.id, "tag": tag} for tag in tags]
        )
