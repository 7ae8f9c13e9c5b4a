"""Loading Robinson extracts, on both databases: numbers in as keyed hashes that
match contacts' phones, bad lines reported by number, the newest extract
replacing the older ones, and a bad file changing nothing."""

from __future__ import annotations

import io
from datetime import date

import pytest
from sqlalchemy import text

from service import clock
from service.contacts import service as contacts
from service.contacts.schemas import ContactCreate
from service.crypto import DataCipher
from service.db import SessionMaker, run, session_scope
from service.errors import InvalidInput
from service.robinson import service
from service.settings import Settings
from tests.integration.robinson.support import load_extract, stored
from tests.support.factories import contact_payload


async def _contact_hash(sessionmaker: SessionMaker, settings: Settings, phone: str) -> str:
    async with session_scope(sessionmaker) as session:
        contact = await contacts.create(
            session,
            data=ContactCreate(**contact_payload(email=None, phone=phone)),
            cipher=DataCipher(settings.data_key),
        )
    assert contact.phone_hash is not None
    return contact.phone_hash


async def test_numbers_are_stored_as_the_hashes_contacts_phones_have(
    sessionmaker: SessionMaker, settings: Settings
) -> None:
    contact_hash = await _contact_hash(sessionmaker, settings, "+358401111111")
    report = await load_extract(
        sessionmaker,
        settings,
        "040 111 1111",  # the contact's number, written as Finns write it
        "",
        "# a comment line",
        "+358 50 222 2222",
        "12",
        "not a number",
        "0401111111",  # the same number again: stored once
        extract_date=date(2026, 11, 20),
        file_name="../robinson 2026-11.txt",
    )
    assert report.extract.number_count == 2
    assert report.extract.extract_date == date(2026, 11, 20)
    assert report.extract.file_name == "robinson_2026-11.txt"
    assert report.valid_lines == 3 and report.bad_lines == 2
    # Line numbers of the file as written (blank and comment lines count); no content.
    assert [(p.line, p.message) for p in report.problems] == [
        (5, "not a valid phone number: too short"),
        (6, "not a valid phone number"),
    ]
    extracts, numbers = await stored(sessionmaker)
    assert [e.id for e in extracts] == [report.extract.id]
    assert contact_hash in {h for _, h in numbers}
    assert len(numbers) == 2
    async with sessionmaker() as session:
        raw = " ".join(
            str(v)
            for row in (await run(session, text("SELECT * FROM robinson_numbers"))).all()
            for v in row
        )
    assert "401111111" not in raw and "502222222" not in raw


@pytest.mark.parametrize(
    "lines",
    [
        ["id;Puhelin;nimi", "1;040 111 1111;x", "2;;y", "3;+358502222222;z"],
        ["phone", "0401111111", "", "+358502222222", "12"],
        ['"name","phone"', '"A, B","0401111111"', '"C","+358502222222"'],
    ],
    ids=["semicolons", "one-column", "quoted-commas"],
)
async def test_csv_with_a_phone_column(
    sessionmaker: SessionMaker, settings: Settings, lines: list[str]
) -> None:
    contact_hash = await _contact_hash(sessionmaker, settings, "0401111111")
    async with session_scope(sessionmaker) as session:
        report = await service.load(
            session,
            lines=[f"{line}\r\n" for line in lines],
            file_name="extract.csv",
            extract_date=clock.today(),
            cipher=DataCipher(settings.data_key),
        )
    assert report.extract.number_count == 2
    assert report.bad_lines == (1 if len(lines) > 3 else 0)
    if report.problems:
        assert report.problems[0].line in {3, 5}
    _, numbers = await stored(sessionmaker)
    assert contact_hash in {h for _, h in numbers}


async def test_the_newest_extract_replaces_the_older_ones(
    sessionmaker: SessionMaker, settings: Settings
) -> None:
    first = await load_extract(
        sessionmaker, settings, "0401111111", "0402222222", extract_date=date(2026, 10, 20)
    )
    second = await load_extract(
        sessionmaker, settings, "0403333333", extract_date=date(2026, 11, 20)
    )
    assert second.replaced_numbers == 2
    extracts, numbers = await stored(sessionmaker)
    assert [e.id for e in extracts] == [first.extract.id, second.extract.id]
    assert {extract_id for extract_id, _ in numbers} == {second.extract.id}
    assert len(numbers) == 1
    async with sessionmaker() as session:
        current = await service.current(session)
    assert current is not None and current.extract_date == date(2026, 11, 20)


@pytest.mark.parametrize(
    ("lines", "field"),
    [
        (["12", "not a number", ""], "line 2"),
        ([], "file"),
        (["name,email", "Maija,maija@example.fi"], "file"),
        (["phone", "", "x"], "line 3"),
    ],
    ids=["no-valid-number", "empty", "no-phone-column", "header-only-and-junk"],
)
async def test_a_file_without_a_valid_number_changes_nothing(
    sessionmaker: SessionMaker, settings: Settings, lines: list[str], field: str
) -> None:
    kept = await load_extract(sessionmaker, settings, "0401111111")
    before = await stored(sessionmaker)
    with pytest.raises(InvalidInput) as caught:
        async with session_scope(sessionmaker) as session:
            await service.load(
                session,
                lines=[f"{line}\n" for line in lines],
                file_name="bad.txt",
                extract_date=clock.today(),
                cipher=DataCipher(settings.data_key),
            )
    assert field in caught.value.fields
    assert "@" not in str(caught.value.fields)
    after = await stored(sessionmaker)
    assert [e.id for e in after[0]] == [kept.extract.id]
    assert after[1] == before[1]


async def test_an_extract_dated_in_the_future_or_not_utf8_is_refused(
    sessionmaker: SessionMaker, settings: Settings
) -> None:
    with pytest.raises(InvalidInput) as future:
        await load_extract(sessionmaker, settings, "0401111111", extract_date=date(2026, 11, 26))
    assert "extract_date" in future.value.fields
    raw = "puhelin\n0401111111\nH\xe4m\xe4l\xe4\n".encode("latin-1")
    latin1 = io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8-sig", newline="")
    with pytest.raises(InvalidInput) as encoding:
        async with session_scope(sessionmaker) as session:
            await service.load(
                session,
                lines=latin1,
                file_name="latin1.txt",
                extract_date=clock.today(),
                cipher=DataCipher(settings.data_key),
            )
    assert encoding.value.fields == {"file": "not UTF-8 text"}
    assert await stored(sessionmaker) == ([], [])
