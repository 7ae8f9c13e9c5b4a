"""Writing one chunk of valid import rows, set-based where the rules allow.

A chunk is read with a handful of queries (the contacts its rows match, the
suppression list, consent states, bans, tags), new contacts go in with one
multi-row INSERT, and consents with one more. A row that updates a contact
goes through ``service.contacts.service.update``, the PATCH path, so its
rectification record and rules are the API's; only rows that change
something take that path.

An import never overrides what the person or the register said before: an
address on the suppression list is refused, a restricted contact is not
changed, and a grant is not recorded over a withdrawal, a direct-marketing
ban, an objection or a suppressed address (it is reported as skipped). A
withdrawal in the file is always honoured. Under a purchase-registration ban
the purchase is dropped and the rest of the row goes in.

Like every service this never commits; service.imports.runner does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import false, insert, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.auth.permissions import Permission
from service.consent import service as consent_service
from service.contacts import service as contacts
from service.contacts.schemas import (
    IDENTITY_CODE_FIELDS,
    ContactCreate,
    ContactUpdate,
    business_role_problems,
    identity_code_problems,
)
from service.crypto import DataCipher
from service.db import insert_returning_ids, run
from service.errors import Conflict, InvalidInput
from service.imports.columns import Consent, Row, problems_of
from service.imports.schemas import RowNote, RowProblem
from service.labels import N_
from service.models import (
    Ban,
    ConsentState,
    Contact,
    ContactTag,
    Interaction,
)
from service.models.enums import (
    Actor,
    BanChannel,
    BanKind,
    Channel,
    ConsentAction,
    Purpose,
)
from service.profiles import interactions
from service.suppressions import service as suppressions

CONTACTS = Contact.__table__  # type: ignore[attr-defined]
CREATED, UPDATED, UNCHANGED, REFUSED = "created", "updated", "unchanged", "refused"


@dataclass
class Outcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    consents_recorded: int = 0
    purchases_recorded: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    skipped: list[RowNote] = field(default_factory=list)
    dropped: list[RowNote] = field(default_factory=list)
    # What became of each row that went in, by line: created, updated or
    # unchanged (a refused row is in ``problems``). The dry-run table's rows.
    lines: dict[int, str] = field(default_factory=dict)


@dataclass
class _Chunk:
    """What the chunk's queries found, and the writes it collects."""

    suppressed: set[str]
    states: dict[tuple[int, str, str], ConsentAction] = field(default_factory=dict)
    bans: dict[int, set[BanChannel]] = field(default_factory=lambda: defaultdict(set))
    events: list[tuple[int, Consent]] = field(default_factory=list)
    skipped: list[RowNote] = field(default_factory=list)


def _refuse(outcome: Outcome, row: Row, reason: str, message: str, field: str | None) -> None:
    outcome.problems.append(RowProblem(line=row.line, field=field, reason=reason, message=message))


async def import_chunk(
    session: AsyncSession,
    *,
    rows: Sequence[Row],
    cipher: DataCipher,
    user_id: int | None,
    permissions: frozenset[Permission] | None = None,
) -> Outcome:
    """``permissions``: the importing staff member's (None: the operator's
    command, which may do everything). Without contacts:read_identity_code a
    row with an identity code is refused before it is matched, so the report
    never says whether a code is registered; without
    contacts:write_gate_inputs a row that would change a matched contact's
    legal_basis, contact_type or is_customer is refused."""
    outcome = Outcome()
    if permissions is not None and Permission.CONTACTS_READ_IDENTITY_CODE not in permissions:
        rows = [row for row in rows if not _code_refused(outcome, row)]
    await _take_write_lock(session)
    emails = [r.email for r in rows if r.email]
    codes = [r.identity_code_hash for r in rows if r.identity_code_hash]
    found = (
        await session.exec(
            select(Contact).where(
                or_(col(Contact.email).in_(emails), col(Contact.identity_code_hash).in_(codes))
            )
        )
    ).all()
    by_email = {c.email: c for c in found if c.email}
    by_code = {c.identity_code_hash: c for c in found if c.identity_code_hash}
    new: list[Row] = []
    existing: list[tuple[Row, Contact]] = []
    for row in rows:
        a = by_email.get(row.email) if row.email else None
        b = by_code.get(row.identity_code_hash) if row.identity_code_hash else None
        if a is not None and b is not None and a.id != b.id:
            _refuse(
                outcome,
                row,
                "ambiguous",
                "the email and the identity code belong to two different contacts",
                "personal_identity_code",
            )
        elif a is not None or b is not None:
            existing.append((row, a or b))  # type: ignore[arg-type]
        else:
            new.append(row)
    chunk = _Chunk(suppressed=await _suppressed(session, cipher, new, [c for _, c in existing]))
    if permissions is not None and Permission.GATE_INPUTS_WRITE not in permissions:
        existing = [(row, c) for row, c in existing if not _gate_refused(outcome, row, c)]
    await _create(session, chunk, new, cipher, user_id, outcome)
    await _update(session, chunk, existing, cipher, user_id, outcome)
    await _write_consents(session, chunk, user_id)
    outcome.consents_recorded += len(chunk.events)
    outcome.skipped += chunk.skipped
    return outcome


def _code_refused(outcome: Outcome, row: Row) -> bool:
    fields = row.update.model_fields_set & set(IDENTITY_CODE_FIELDS)
    if fields:
        message = N_("your role may not record identity codes (contacts:read_identity_code)")
        _refuse(outcome, row, "forbidden", message, sorted(fields)[0])
    return bool(fields)


def _gate_refused(outcome: Outcome, row: Row, contact: Contact) -> bool:
    changes = contacts.gate_input_changes(contact, row.update)
    if changes:
        message = (
            f"the row would change {', '.join(changes)} of an existing contact; your role "
            "may not (contacts:write_gate_inputs)"
        )
        _refuse(outcome, row, "forbidden", message, next(iter(changes)))
    return bool(changes)


async def _suppressed(
    session: AsyncSession, cipher: DataCipher, new: Sequence[Row], known: Sequence[Contact]
) -> set[str]:
    hashes = {h for c in known for h in (c.email_hash, c.phone_hash) if h}
    for row in new:
        if row.update.email:
            hashes.add(cipher.lookup_hash("email", row.update.email))
        if row.update.phone:
            hashes.add(cipher.lookup_hash("phone", row.update.phone))
    if not hashes:
        return set()
    return set(await suppressions.suppressed_among(session, hashes))


def _sealed(data: ContactCreate, cipher: DataCipher, now: datetime) -> dict[str, Any]:
    """The contacts row service.contacts.create writes: the same fields, the
    identity code sealed with the same context, the same look-up hashes.
    A plain dict, not a Contact: building 100,000 ORM objects took longer
    than writing them."""
    row = data.model_dump(include=contacts._PLAIN_FIELDS)
    code = data.personal_identity_code
    row.update(
        identity_code_basis=data.personal_identity_code_basis,
        identity_code_encrypted=cipher.encrypt(code, context=contacts.IDENTITY_CODE_CONTEXT)
        if code
        else None,
        identity_code_hash=cipher.lookup_hash("identity_code", code) if code else None,
        email_hash=cipher.lookup_hash("email", data.email) if data.email else None,
        phone_hash=cipher.lookup_hash("phone", data.phone) if data.phone else None,
        restricted_at=None,
        objected_at=None,
        recorded_at=now,
        updated_at=now,
    )
    return row


async def _create(
    session: AsyncSession,
    chunk: _Chunk,
    rows: Sequence[Row],
    cipher: DataCipher,
    user_id: int | None,
    outcome: Outcome,
) -> None:
    now = clock.now()
    ready: list[tuple[Row, dict[str, Any], list[str]]] = []
    for row in rows:
        try:
            data = row.create()
        except ValidationError as exc:
            outcome.problems += problems_of(row.line, exc)
            continue
        rules = business_role_problems(
            contact_type=data.contact_type, employer=data.employer, position=data.position
        ) | identity_code_problems(
            code=data.personal_identity_code is not None,
            basis=data.personal_identity_code_basis,
            legal_basis=data.legal_basis,
        )
        if rules:
            for name, message in rules.items():
                _refuse(outcome, row, "invalid", message, name)
            continue
        contact = _sealed(data, cipher, now)
        blocked = [
            kind for kind in ("email", "phone") if contact[f"{kind}_hash"] in chunk.suppressed
        ]
        if blocked:
            _refuse(
                outcome,
                row,
                "suppressed",
                "this address is on the suppression list and may not be registered again",
                blocked[0],
            )
            continue
        latest = contact["last_service_contact_at"]
        if row.purchase is not None and (latest is None or row.purchase.occurred_on > latest):
            contact["last_service_contact_at"] = row.purchase.occurred_on
        ready.append((row, contact, data.tags))
    if not ready:
        return
    inserted = await insert_returning_ids(session, CONTACTS, [contact for _, contact, _ in ready])
    tags: list[dict[str, Any]] = []
    purchases: list[dict[str, Any]] = []
    for (row, _, row_tags), contact_id in zip(ready, inserted, strict=True):
        tags += [{"contact_id": contact_id, "tag": tag} for tag in row_tags]
        if row.purchase is not None:
            purchases.append(
                {
                    **row.purchase.model_dump(),
                    "contact_id": contact_id,
                    "recorded_by_user_id": user_id,
                    "recorded_at": now,
                }
            )
        # A new contact has no state, ban or objection a consent could meet.
        chunk.events += [(contact_id, consent) for consent in row.consents]
        outcome.lines[row.line] = CREATED
    if tags:
        await run(session, insert(ContactTag), tags)
    if purchases:
        await run(session, insert(Interaction), purchases)
    outcome.created += len(ready)
    outcome.purchases_recorded += len(purchases)


async def _load_state(session: AsyncSession, chunk: _Chunk, ids: list[int]) -> dict[int, list[str]]:
    states = await session.exec(
        select(
            ConsentState.contact_id, ConsentState.channel, ConsentState.purpose, ConsentState.action
        ).where(col(ConsentState.contact_id).in_(ids))
    )
    for contact_id, channel, purpose, action in states:
        chunk.states[(contact_id, Channel(channel), Purpose(purpose))] = ConsentAction(action)
    bans = await session.exec(
        select(Ban.contact_id, Ban.channel).where(
            col(Ban.contact_id).in_(ids),
            Ban.kind == BanKind.DIRECT_MARKETING,
            col(Ban.lifted_at).is_(None),
        )
    )
    for contact_id, channel in bans:
        chunk.bans[contact_id].add(BanChannel(channel))
    return await contacts.tags_of(session, ids)


def _changes(row: Row, contact: Contact, tags: list[str], cipher: DataCipher) -> dict[str, Any]:
    """The fields of the row that differ from the stored contact. An empty
    cell is absent here: an import never clears a stored value."""
    changes = {}
    for name, value in row.update.model_dump(exclude_unset=True).items():
        if name == "personal_identity_code":
            differs = row.identity_code_hash != contact.identity_code_hash
        elif name == "tags":
            differs = set(value) != set(tags)
        else:
            differs = getattr(contact, name) != value
        if differs:
            changes[name] = value
    return changes


async def _update(
    session: AsyncSession,
    chunk: _Chunk,
    rows: Sequence[tuple[Row, Contact]],
    cipher: DataCipher,
    user_id: int | None,
    outcome: Outcome,
) -> None:
    if not rows:
        return
    tags = await _load_state(session, chunk, [c.id for _, c in rows if c.id is not None])
    for row, contact in rows:
        assert contact.id is not None
        if contact.restricted_at is not None:
            _refuse(
                outcome, row, "restricted", "the contact is restricted: kept, not changed", None
            )
            continue
        changes = _changes(row, contact, tags[contact.id], cipher)
        if changes:
            try:
                # A savepoint: a refusal must not leave half a row behind.
                async with session.begin_nested():
                    await contacts.update(
                        session,
                        contact=contact,
                        data=ContactUpdate.model_validate(changes),
                        cipher=cipher,
                        user_id=user_id,
                    )
            except Conflict as exc:
                field = next(iter(exc.fields), None)
                _refuse(outcome, row, exc.reason or "conflict", exc.detail, field)
                continue
            except InvalidInput as exc:
                for name, message in (exc.fields or {"": exc.detail}).items():
                    _refuse(outcome, row, "invalid", message, name or None)
                continue
        events_before = len(chunk.events)
        _consents(chunk, row, contact)
        purchased = await _purchase(session, row, contact, user_id, outcome)
        if changes or purchased or len(chunk.events) > events_before:
            outcome.updated += 1
            outcome.lines[row.line] = UPDATED
        else:
            outcome.unchanged += 1
            outcome.lines[row.line] = UNCHANGED


def _consents(chunk: _Chunk, row: Row, contact: Contact) -> None:
    assert contact.id is not None
    for consent in row.consents:
        data = consent.data
        state = chunk.states.get((contact.id, data.channel, data.purpose))
        if state is data.action:
            continue
        refusal = None
        if data.action is ConsentAction.GRANT:
            refusal = consent_service.grant_refused(
                contact,
                data.channel,
                data.purpose,
                current=state,
                bans=chunk.bans.get(contact.id, set()),
                suppressed=chunk.suppressed,
            )
        if refusal is None:
            chunk.events.append((contact.id, consent))
            continue
        reason, message = refusal
        chunk.skipped.append(
            RowNote(line=row.line, field=consent.column, reason=reason.value, message=message)
        )


async def _purchase(
    session: AsyncSession, row: Row, contact: Contact, user_id: int | None, outcome: Outcome
) -> bool:
    assert contact.id is not None
    if row.purchase is None:
        return False
    if await interactions.has_purchase_registration_ban(session, contact_id=contact.id):
        outcome.dropped.append(
            RowNote(
                line=row.line,
                field="purchase_details",
                reason="purchase_registration_ban",
                message=N_(
                    "the person has banned registering their purchases; the purchase "
                    "was not recorded"
                ),
            )
        )
        return False
    await interactions.record(session, contact=contact, data=row.purchase, user_id=user_id)
    outcome.purchases_recorded += 1
    return True


async def _write_consents(session: AsyncSession, chunk: _Chunk, user_id: int | None) -> None:
    """The ledger rows and the current-state projection, as record_consent
    writes them, two statements for the whole chunk."""
    if not chunk.events:
        return
    now = clock.now()
    rows: list[dict[str, Any]] = []
    for contact_id, consent in chunk.events:
        data, evidence = consent.data, consent.data.evidence
        rows.append(
            {
                "contact_id": contact_id,
                "channel": data.channel,
                "purpose": data.purpose,
                "action": data.action,
                "source": data.source,
                "method": data.method,
                "evidence_text": evidence.text if evidence else None,
                "notice_version": evidence.notice_version if evidence else None,
                "evidence_ip": None,
                "campaign_id": None,
                "actor": Actor.IMPORT,
                "recorded_by_user_id": user_id,
                "occurred_at": now,
            }
        )
    await consent_service.record_many(session, rows)


async def _take_write_lock(session: AsyncSession) -> None:
    """On SQLite, make this transaction the writer before it reads anything:
    an UPDATE that changes nothing takes the write lock (as
    consent.service.lock_person does), so the ids insert_returning_ids hands out
    stay free until we commit. PostgreSQL's sequences need no lock."""
    if session.get_bind().dialect.name == "sqlite":
        await run(session, update(CONTACTS).where(false()).values(id=CONTACTS.c.id))
