"""Issue 13 in imports: a row with a control character in any text cell, or a phone
number with letters, is refused and reported by line and column, without its value;
the other rows go in. Consent evidence may run over several lines."""

from __future__ import annotations

import csv
import io

import pytest
from sqlmodel import select

from service.db import SessionMaker
from service.models import ConsentEvent, Contact, ContactTag
from tests.integration.imports.conftest import Importer

HEADER = [
    "full_name",
    "nickname",
    "email",
    "phone",
    "customer_number",
    "employer",
    "education",
    "position",
    "street_address",
    "postal_code",
    "city",
    "country",
    "tags",
    "legal_basis",
    "consent_email_direct_marketing",
    "consent_evidence_text",
    "consent_notice_version",
]
GOOD = {
    "full_name": "Hyvä Rivi",
    "nickname": "Hyvä",
    "email": "hyva@example.fi",
    "phone": "040 123 4567",
    "customer_number": "C-1",
    "employer": "Esimerkki Oy",
    "education": "KTM",
    "position": "Johtaja",
    "street_address": "Katu 1",
    "postal_code": "00100",
    "city": "Helsinki",
    "country": "FI",
    "tags": "vip;news",
    "legal_basis": "consent",
    "consent_email_direct_marketing": "grant",
    "consent_evidence_text": "Form said:\r\nYes, send me news.",
    "consent_notice_version": "1",
}
TEXT_CELLS = HEADER[: HEADER.index("tags") + 1]
HOSTILE = ["\x00", "\r\n", "\x85", "\u2028", "\u2029", "\x7f"]


def csv_of(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=HEADER, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def row(number: int, **changes: str) -> dict[str, str]:
    """A good row with an address of its own, changed as asked."""
    return {**GOOD, "email": f"row{number}@example.fi", "phone": "", **changes}


def spoil(value: str, character: str) -> str:
    return value[:1] + character + value[1:]


@pytest.mark.parametrize("character", HOSTILE, ids=repr)
async def test_a_row_with_a_control_character_is_refused_by_line_and_column(
    do_import: Importer, sessionmaker: SessionMaker, character: str
) -> None:
    rows = [GOOD] + [
        row(number, **{cell: spoil(GOOD[cell], character)})
        for number, cell in enumerate(TEXT_CELLS, start=1)
    ]
    rows.append(row(99, consent_notice_version=f"v{character}1"))
    report = await do_import(csv_of(rows))

    # One problem per refused row, in file order (a quoted line break makes a record
    # span two lines, so lines are compared by order only).
    expected = [*TEXT_CELLS, "consent_email_direct_marketing"]
    assert [p.field for p in report.problems] == expected
    lines = [p.line for p in report.problems]
    assert lines == sorted(set(lines)) and lines[0] > 2
    for problem in report.problems:
        assert "control characters" in problem.message
    assert (report.created, report.refused) == (1, len(expected))
    assert character not in report.model_dump_json()
    async with sessionmaker() as session:
        (contact,) = (await session.exec(select(Contact))).all()
        tags = (await session.exec(select(ContactTag.tag))).all()
        (event,) = (await session.exec(select(ConsentEvent))).all()
    assert contact.email == "hyva@example.fi" and contact.phone == "+358401234567"
    assert sorted(tags) == ["news", "vip"]
    # The evidence keeps its own lines, behind the import's stamp.
    assert event.evidence_text is not None
    assert event.evidence_text.endswith("Form said:\r\nYes, send me news.")


async def test_multi_line_evidence_still_refuses_other_control_characters(
    do_import: Importer, sessionmaker: SessionMaker
) -> None:
    report = await do_import(csv_of([row(1, consent_evidence_text="Yes\x85please")]))
    assert [p.field for p in report.problems] == ["consent_email_direct_marketing"]
    async with sessionmaker() as session:
        assert (await session.exec(select(Contact))).all() == []


async def test_letters_in_a_phone_number_refuse_the_row(
    do_import: Importer, sessionmaker: SessionMaker
) -> None:
    report = await do_import(
        csv_of([row(1, phone="+358 40 ABC 1234"), row(2, phone="040 765 4321")])
    )
    assert [(p.field, p.message) for p in report.problems] == [
        ("phone", "not a valid phone number: letters are not allowed")
    ]
    async with sessionmaker() as session:
        phones = (await session.exec(select(Contact.phone))).all()
    assert phones == ["+358407654321"]


async def test_a_non_ascii_local_part_is_imported(
    do_import: Importer, sessionmaker: SessionMaker
) -> None:
    report = await do_import(csv_of([row(1, email="Käyttäjä@Esimerkki.fi")]))
    assert (report.created, report.problems) == (1, [])
    async with sessionmaker() as session:
        assert (await session.exec(select(Contact.email))).all() == ["käyttäjä@esimerkki.fi"]
