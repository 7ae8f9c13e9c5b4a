"""The access export as a zip of CSV files (GDPR 20: structured, commonly used,
machine-readable): one file per section, UTF-8, a header row even when empty,
plus README.txt (the Article 15 information and what each file holds) and
information.json (the same information, structured).

Cells are made safe for spreadsheets: a text cell that a spreadsheet would run
as a formula gets a leading apostrophe, as in call lists.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel

from service.consent.schemas import BanRead, ConsentEventRead, ConsentStateRead
from service.contacts.schemas import ContactRead
from service.exports.cells import FORMULA_START
from service.rights import article15
from service.rights.schemas import (
    AccessExport,
    AccessLogEntry,
    CallListEntryRead,
    DisclosureRead,
    DownloadRead,
    EngagementRead,
    InteractionRead,
    LegalHoldRead,
    MessageRead,
    ObjectionRead,
    ProfileMetadata,
    RectificationRead,
    RequestActionRead,
    RequestRead,
    RestrictionHistoryRead,
    SiteConsentRead,
)

# An E.164 phone number starts with "+" yet is only a number: left as it is,
# so the export stays exact for the machines it is meant for.
_PHONE = re.compile(r"^\+\d{6,15}$")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = str(value)
    if text.startswith(FORMULA_START) and not _PHONE.match(text):
        return "'" + text
    return text


def _csv(schema: type[BaseModel], items: Iterable[BaseModel], exclude: Sequence[str] = ()) -> str:
    columns = [name for name in schema.model_fields if name not in exclude]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for item in items:
        row = item.model_dump(mode="json")
        writer.writerow([_cell(row[name]) for name in columns])
    return buffer.getvalue()


def files(export: AccessExport) -> dict[str, str]:
    """File name -> CSV text, one per section of the export."""
    tags = [[tag] for tag in export.contact.tags]
    tag_buffer = io.StringIO()
    tag_writer = csv.writer(tag_buffer, lineterminator="\r\n")
    tag_writer.writerows([["tag"], *([_cell(t) for t in row] for row in tags)])
    actions = [action for request in export.requests for action in request.actions]
    accesses = export.accesses
    return {
        "contact.csv": _csv(ContactRead, [export.contact], exclude=["tags"]),
        "tags.csv": tag_buffer.getvalue(),
        "consents_current.csv": _csv(ConsentStateRead, export.consents.current),
        "consents_history.csv": _csv(ConsentEventRead, export.consents.history),
        "bans.csv": _csv(BanRead, export.bans),
        "engagement.csv": _csv(EngagementRead, export.engagement),
        "site_consents.csv": _csv(SiteConsentRead, export.site_consents),
        "messages.csv": _csv(MessageRead, export.messages),
        "call_lists.csv": _csv(CallListEntryRead, export.call_lists),
        "profiles.csv": _csv(ProfileMetadata, export.profiles),
        "interactions.csv": _csv(InteractionRead, export.interactions),
        "disclosures.csv": _csv(DisclosureRead, export.disclosures),
        "objections.csv": _csv(ObjectionRead, export.objections),
        "legal_holds.csv": _csv(LegalHoldRead, export.legal_holds),
        "restrictions.csv": _csv(RestrictionHistoryRead, export.restrictions),
        "requests.csv": _csv(RequestRead, export.requests, exclude=["actions"]),
        "request_actions.csv": _csv(RequestActionRead, actions),
        "rectifications.csv": _csv(RectificationRead, export.rectifications),
        "call_list_downloads.csv": _csv(DownloadRead, accesses.call_list_downloads),
        "access_log.csv": _csv(AccessLogEntry, accesses.access_log.events),
    }


_README_FILES = {
    "fi": "Tiedostot (CSV, UTF-8, otsikkorivi; tekstisolu, joka alkaisi kaavamerkillä, "
    "alkaa heittomerkillä):",
    "en": "Files (CSV, UTF-8, a header row; a text cell that would start with a formula "
    "character starts with an apostrophe):",
}


def _readme(export: AccessExport, names: Iterable[str]) -> str:
    info = export.information
    lines = [
        article15.as_text(info),
        _README_FILES[info.language],
        *(f"- {name}" for name in names),
        "",
        export.accesses.access_log.note,
        "",
        f"{export.generated_at.isoformat()}",
        "",
    ]
    return "\n".join(lines)


def build_zip(export: AccessExport) -> bytes:
    sections = files(export)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", _readme(export, sections))
        archive.writestr(
            "information.json",
            json.dumps(export.information.model_dump(mode="json"), ensure_ascii=False, indent=2),
        )
        # Receipts nest (controller, texts): JSON, not a CSV.
        archive.writestr(
            "consent_receipts.json",
            json.dumps(
                [receipt.model_dump(mode="json") for receipt in export.consent_receipts],
                ensure_ascii=False,
                indent=2,
            ),
        )
        for name, text in sections.items():
            archive.writestr(name, text)
    return buffer.getvalue()
