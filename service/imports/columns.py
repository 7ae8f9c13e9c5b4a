"""Reading an import file: its columns, and each row validated with the very
schemas the API uses (ContactUpdate/ContactCreate, ConsentCreate,
InteractionCreate), so an import can never accept what the API refuses.

Nothing here touches the database; service.imports.service writes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from service import json_limits
from service.consent.schemas import ConsentCreate, Evidence
from service.contacts.schemas import ContactCreate, ContactUpdate
from service.crypto import DataCipher
from service.errors import InvalidInput
from service.imports.schemas import RowProblem
from service.labels import N_
from service.models.enums import (
    CaptureMethod,
    Channel,
    InteractionKind,
    Purpose,
    Source,
)
from service.profiles import interactions
from service.profiles.schemas import InteractionCreate

CONTACT_COLUMNS = tuple(ContactCreate.model_fields)
# One column per channel and purpose: consent_email_direct_marketing, …
CONSENT_COLUMNS = {
    f"consent_{channel.value}_{purpose.value}": (channel, purpose)
    for channel in Channel
    for purpose in Purpose
}
EVIDENCE_COLUMNS = (
    "consent_evidence_text",
    "consent_notice_version",
    "consent_captured_at",
    "consent_method",
)
# A purchase's fields by column; the last three are soft opt-in's evidence
# (service.profiles.interactions).
PURCHASE_FIELDS = {
    "purchase_on": "occurred_on",
    "purchase_details": "details",
    "purchase_note": "note",
    "purchase_product_group": "product_group",
    "purchase_address_collected": "address_collected",
    "purchase_refusal_offered": "refusal_offered",
}
PURCHASE_COLUMNS = tuple(PURCHASE_FIELDS)
_PURCHASE_COLUMN_OF = {field: column for column, field in PURCHASE_FIELDS.items()}
# The contact export's answer of the consent gate per channel (gate_email …,
# docs/exports.md): read today, never a fact to record, so an edited export
# goes back in with these columns ignored.
IGNORED_COLUMNS = tuple(f"gate_{channel.value}" for channel in Channel)
KNOWN_COLUMNS = frozenset(
    (*CONTACT_COLUMNS, *CONSENT_COLUMNS, *EVIDENCE_COLUMNS, *PURCHASE_COLUMNS, *IGNORED_COLUMNS)
)
TAG_SEPARATOR = ";"
_CHECKED_ONCE = ("email", "phone", "personal_identity_code")


class UnreadableFile(InvalidInput):
    """The file as a whole cannot be imported (encoding, header): no row is read."""


@dataclass
class Consent:
    column: str
    data: ConsentCreate


@dataclass
class Row:
    """One valid row: what it sets, and the keys it is matched on."""

    line: int
    update: ContactUpdate
    consents: list[Consent] = field(default_factory=list)
    purchase: InteractionCreate | None = None
    email: str | None = None
    identity_code_hash: str | None = None

    def create(self) -> ContactCreate:
        """The row as a new contact; raises ValidationError when it lacks a
        field a new contact needs (the update schema allowed it to be absent)."""
        values = self.update.model_dump(exclude_unset=True)
        values.setdefault("source", Source.IMPORT)
        # Addresses and the identity code were validated, by the same types,
        # in the update schema: not twice (they are most of the cost).
        checked = {k: values.pop(k) for k in _CHECKED_ONCE if k in values}
        return ContactCreate.model_validate(values).model_copy(update=checked)


def decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise UnreadableFile(
            f"the file is not UTF-8 text (line {line}); save it as CSV UTF-8",
            fields={"file": N_("not UTF-8")},
        ) from None


def read_header(reader: Any) -> list[str]:
    try:
        header = next(reader)
    except StopIteration:
        raise UnreadableFile(N_("the file is empty"), fields={"file": N_("empty")}) from None
    except csv.Error as exc:
        raise UnreadableFile(
            f"the header row is not CSV: {exc}", fields={"file": N_("bad CSV")}
        ) from None
    names = [name.strip().lower() for name in header]
    unknown = [name or "(empty)" for name in names if name not in KNOWN_COLUMNS]
    if unknown:
        raise UnreadableFile(
            f"unknown column(s) in the header: {', '.join(unknown)}; see docs/imports.md",
            fields={name: "unknown column" for name in unknown},
        )
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise UnreadableFile(
            f"column(s) named twice in the header: {', '.join(repeated)}",
            fields={name: "named twice" for name in repeated},
        )
    return names


def read(text: str) -> tuple[list[str], Iterator[tuple[int, list[str] | None, str | None]]]:
    """The header, checked, and ``(line, cells, error)`` for each non-empty record."""
    reader = csv.reader(io.StringIO(text, newline=""))
    return read_header(reader), _records(reader)


def _records(reader: Any) -> Iterator[tuple[int, list[str] | None, str | None]]:
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield line, None, f"not valid CSV: {exc}"
            continue
        if any(cell.strip() for cell in cells):
            yield line, cells, None


def problems_of(line: int, exc: ValidationError, prefix: str | None = None) -> list[RowProblem]:
    # msg only, never `input`: the rejected value may be an identity code.
    return [
        RowProblem.of_error(
            line=line,
            field=prefix or (str(error["loc"][0]) if error["loc"] else None),
            error={"type": error["type"], "msg": error["msg"], "ctx": error.get("ctx", {})},
        )
        for error in exc.errors(include_input=False, include_url=False)
    ]


TOO_MANY_CELLS = N_("%(cells)s cells, but the header names %(columns)s columns")


class _EvidenceColumns(BaseModel):
    model_config = ConfigDict(extra="forbid")

    consent_captured_at: date | None = None
    consent_method: CaptureMethod = CaptureMethod.IMPORT


@dataclass
class RowParser:
    """Turns the cells of one row into a ``Row`` or a list of problems."""

    header: list[str]
    file_name: str
    started_at: datetime
    cipher: DataCipher

    def parse(self, line: int, cells: list[str]) -> Row | list[RowProblem]:
        if len(cells) > len(self.header):
            counts = {"cells": len(cells), "columns": len(self.header)}
            return [
                RowProblem.said(
                    line=line, field=None, reason="invalid", template=TOO_MANY_CELLS, values=counts
                )
            ]
        values = {
            name: cell.strip()
            for name, cell in zip(self.header, cells, strict=False)
            if cell.strip()
        }
        contact: dict[str, Any] = {k: v for k, v in values.items() if k in CONTACT_COLUMNS}
        if "tags" in contact:
            contact["tags"] = [t.strip() for t in contact["tags"].split(TAG_SEPARATOR) if t.strip()]
        problems: list[RowProblem] = []
        try:
            update = ContactUpdate.model_validate(contact)
        except ValidationError as exc:
            problems += problems_of(line, exc)
        consents = self._consents(line, values, problems)
        purchase = self._purchase(line, values, problems)
        if problems:
            return problems
        email = update.email
        code = update.personal_identity_code
        return Row(
            line=line,
            update=update,
            consents=consents,
            purchase=purchase,
            email=email,
            identity_code_hash=self.cipher.lookup_hash("identity_code", code) if code else None,
        )

    def _consents(
        self, line: int, values: dict[str, str], problems: list[RowProblem]
    ) -> list[Consent]:
        wanted = [(name, values[name]) for name in CONSENT_COLUMNS if name in values]
        if not wanted:
            return []
        common = self._evidence(line, values, problems)
        if common is None:
            return []
        method, text, notice_version = common
        consents = []
        for column, action in wanted:
            channel, purpose = CONSENT_COLUMNS[column]
            try:
                # Validated with the file's own evidence, so that a grant
                # without proof fails as it does in the API …
                data = ConsentCreate(
                    channel=channel,
                    purpose=purpose,
                    action=action.lower(),
                    source=Source.IMPORT,
                    method=method,
                    evidence=Evidence(text=text, notice_version=notice_version)
                    if text or notice_version
                    else None,
                )
                # … and stored with the import's own line in front of it.
                stored = Evidence(text=self._stamp(values, text), notice_version=notice_version)
            except ValidationError as exc:
                problems += problems_of(line, exc, prefix=column)
                continue
            consents.append(Consent(column, data.model_copy(update={"evidence": stored})))
        return consents

    def _evidence(
        self, line: int, values: dict[str, str], problems: list[RowProblem]
    ) -> tuple[CaptureMethod, str | None, str | None] | None:
        try:
            check = _EvidenceColumns.model_validate(
                {k: values[k] for k in ("consent_captured_at", "consent_method") if k in values}
            )
        except ValidationError as exc:
            problems += problems_of(line, exc)
            return None
        return (
            check.consent_method,
            values.get("consent_evidence_text"),
            values.get("consent_notice_version"),
        )

    def _stamp(self, values: dict[str, str], text: str | None) -> str:
        stamp = f"import: {self.file_name} at {self.started_at:%Y-%m-%dT%H:%MZ}"
        if captured := values.get("consent_captured_at"):
            stamp += f"; captured {captured}"
        return f"{stamp}; {text}" if text else stamp

    def _purchase(
        self, line: int, values: dict[str, str], problems: list[RowProblem]
    ) -> InteractionCreate | None:
        if not any(name in values for name in PURCHASE_COLUMNS):
            return None
        if "purchase_on" not in values:
            problems.append(
                RowProblem(
                    line=line,
                    field="purchase_on",
                    reason="invalid",
                    message=N_("a purchase needs its date (purchase_on)"),
                )
            )
            return None
        given: dict[str, Any] = {
            field: values[column] for column, field in PURCHASE_FIELDS.items() if column in values
        }
        if text := values.get("purchase_details"):
            given["details"] = _details(text)
        try:
            data = InteractionCreate(kind=InteractionKind.PURCHASE, **given)
            interactions.check(data)
        except ValidationError as exc:
            for problem in problems_of(line, exc):
                problem.field = _PURCHASE_COLUMN_OF.get(problem.field or "", "purchase_details")
                problems.append(problem)
            return None
        except InvalidInput as exc:
            field = next(iter(exc.fields), "details")
            column = _PURCHASE_COLUMN_OF.get(field, "purchase_details")
            problems.append(
                RowProblem(line=line, field=column, reason="invalid", message=exc.detail)
            )
            return None
        return data


def _details(text: str) -> dict[str, Any]:
    """A JSON object as it is; any other text as a description."""
    if text.startswith("{"):
        try:
            value = json_limits.loads(text.encode())
        except json_limits.BadJson:  # not JSON, or nested absurdly deep
            pass
        else:
            if isinstance(value, dict):
                return value
    return {"description": text}


def cells_of(raw: bytes, names: Sequence[str]) -> dict[int, dict[str, str]]:
    """The cells of these columns in each row, by line: what a staff page
    names a row by in an import's dry-run table (a file the viewer uploaded
    themselves). Raises UnreadableFile as ``read`` does."""
    header, records = read(decode(raw))
    where = {name: header.index(name) for name in names if name in header}
    found: dict[int, dict[str, str]] = {}
    for line, cells, _ in records:
        if cells is not None:
            found[line] = {name: cells[i] for name, i in where.items() if i < len(cells)}
    return found
