"""``/app/imports`` on both databases: the dry run shows what becomes of every
row and writes nothing, the commit imports exactly the checked file, a
tampered, foreign or expired upload id is refused, and hostile files get a
clear message, never a 5xx."""

from __future__ import annotations

import os
import re
import stat
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlmodel import col

from service.db import SessionMaker, run
from service.imports import staging
from service.imports.controllers import MAX_UPLOAD_BYTES
from service.models import AuditEvent, ConsentEvent, Contact
from service.models.enums import Role
from service.settings import Settings
from tests.integration.audit.support import trail
from tests.integration.web.conftest import csrf
from tests.integration.web.privacy.support import Staff
from tests.support.clock import FrozenClock
from tests.support.factories import add_contact

Client = AsyncTestClient[Litestar]
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
PAGE = "/app/imports"
HEADER = (
    "full_name,email,legal_basis,source,personal_identity_code,"
    "consent_email_direct_marketing,consent_evidence_text"
)

pytestmark = pytest.mark.usefixtures("frozen_clock")


@pytest.fixture
def clock_start() -> datetime:
    return NOW


def csv_of(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join((header, *rows)) + "\n").encode()


async def _counts(sessionmaker: SessionMaker) -> tuple[int, int]:
    async with sessionmaker() as session:
        contacts = (await run(session, select(func.count()).select_from(Contact))).scalar_one()
        events = (await run(session, select(func.count()).select_from(ConsentEvent))).scalar_one()
    return int(contacts), int(events)


async def _names(sessionmaker: SessionMaker) -> dict[str, str]:
    async with sessionmaker() as session:
        rows = (await run(session, select(col(Contact.email), col(Contact.full_name)))).all()
    return {str(email): str(name) for email, name in rows}


async def upload(client: Client, raw: bytes, name: str = "people.csv") -> httpx.Response:
    form = await client.get(PAGE)
    assert form.status_code == 200, form.text
    return await client.post(
        f"{PAGE}/dry-run",
        data={"csrf_token": csrf(form)},
        files={"file": (name, raw, "text/csv")},
    )


def outcomes(page: httpx.Response) -> dict[int, str]:
    """The dry-run table's outcome of each line."""
    return {
        int(line): outcome
        for line, outcome in re.findall(r'<tr id="line-(\d+)" data-outcome="(\w+)">', page.text)
    }


def upload_id(page: httpx.Response) -> str:
    found = re.search(r'name="upload_id" value="([^"]+)"', page.text)
    assert found is not None, "no commit form on the page"
    return found.group(1)


def _file(staff: Staff) -> bytes:
    return csv_of(
        "Uusi Ihminen,uusi@example.fi,consent,employer,,grant,Lomake 2026",  # 2: new
        "Maija Muutettu,maija@example.fi,customer_relationship,self,,,",  # 3: a new name
        "Veikko Vakaa,veikko@example.fi,customer_relationship,self,,,",  # 4: as stored
        "Huono Rivi,huono,consent,self,,,",  # 5: not an address
        "Koodi Kalle,kalle@example.fi,consent,self,131052-308T,,",  # 6: a code, a marketer's
    )


async def test_the_dry_run_shows_every_rows_outcome_and_writes_nothing(
    staff: Staff, sessionmaker: SessionMaker
) -> None:
    await add_contact(staff.client, email="maija@example.fi", full_name="Maija Meikäläinen")
    await add_contact(staff.client, email="veikko@example.fi", full_name="Veikko Vakaa")
    before = await _counts(sessionmaker)
    audit_before = len(await trail(sessionmaker))
    marketer = await staff.become(Role.MARKETER)

    page = await upload(marketer, _file(staff))

    assert page.status_code == 200, page.text
    assert outcomes(page) == {
        2: "created",
        3: "updated",
        4: "unchanged",
        5: "refused",
        6: "refused",
    }
    row5 = page.text.split('id="line-5"')[1].split("</tr>")[0]
    assert 'data-reason="invalid"' in row5 and "<code>email</code>" in row5
    row6 = page.text.split('id="line-6"')[1].split("</tr>")[0]
    assert 'data-reason="forbidden"' in row6
    assert "contacts:read_identity_code" in row6
    assert "131052-308T" not in page.text  # the report never quotes an identity code
    assert "Uusi Ihminen" in page.text.split('id="line-2"')[1]  # the row is named
    for name, n in (("created", 1), ("updated", 1), ("unchanged", 1), ("refused", 2), ("rows", 5)):
        assert f'id="count-{name}">{n}</span>' in page.text
    assert "nothing has been written yet" in page.text
    # Nothing was written: not a contact, not a consent.
    assert await _counts(sessionmaker) == before
    assert (await _names(sessionmaker))["maija@example.fi"] == "Maija Meikäläinen"
    # The dry run is audited by its counts, never by who.
    rows = (await trail(sessionmaker))[audit_before:]
    assert [row.action for row in rows] == ["import.dry_run"]
    assert rows[0].details["created"] == 1 and rows[0].details["refused"] == 2
    assert "uusi@example.fi" not in str(rows[0].details)


async def test_the_commit_applies_exactly_what_the_dry_run_showed(
    staff: Staff, sessionmaker: SessionMaker, settings: Settings
) -> None:
    await add_contact(staff.client, email="maija@example.fi", full_name="Maija Meikäläinen")
    await add_contact(staff.client, email="veikko@example.fi", full_name="Veikko Vakaa")
    marketer = await staff.become(Role.MARKETER)
    dry = await upload(marketer, _file(staff))
    token = upload_id(dry)
    # The upload waits on the server, readable by the service alone.
    folder = settings.var_dir / staging.DIRECTORY
    kept = [folder / f"{token}.csv", folder / f"{token}.json"]
    assert kept[0].read_bytes() == _file(staff)
    assert all(stat.S_IMODE(os.stat(p).st_mode) == 0o600 for p in kept)
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert token not in str(dry.url)

    done = await marketer.post(f"{PAGE}/commit", data={"csrf_token": csrf(dry), "upload_id": token})

    assert done.status_code == 200, done.text
    assert outcomes(done) == outcomes(dry)
    assert "was imported" in done.text and 'id="import-differs"' not in done.text
    names = await _names(sessionmaker)
    assert names["uusi@example.fi"] == "Uusi Ihminen"
    assert names["maija@example.fi"] == "Maija Muutettu"
    assert "kalle@example.fi" not in names and "huono" not in names
    assert not any(p.exists() for p in kept)  # the upload is gone once imported
    audit = [row for row in await trail(sessionmaker) if row.action == "import.create"]
    assert len(audit) == 1 and audit[0].details["created"] == 1
    assert audit[0].route == "/app/imports/commit"
    # A second click imports nothing twice.
    again = await marketer.post(
        f"{PAGE}/commit", data={"csrf_token": csrf(dry), "upload_id": token}
    )
    assert again.status_code == 404
    assert "no longer available" in again.text


async def test_the_commit_says_so_when_the_register_changed_since_the_dry_run(
    staff: Staff, sessionmaker: SessionMaker
) -> None:
    marketer = await staff.become(Role.MARKETER)
    dry = await upload(marketer, csv_of("Uusi Ihminen,uusi@example.fi,consent,employer,,,"))
    assert outcomes(dry) == {2: "created"}
    await add_contact(staff.client, email="uusi@example.fi", full_name="Joku Muu")
    done = await marketer.post(
        f"{PAGE}/commit", data={"csrf_token": csrf(dry), "upload_id": upload_id(dry)}
    )
    assert done.status_code == 200, done.text
    assert outcomes(done) == {2: "refused"}  # a marketer may not change its legal basis
    assert 'id="import-differs"' in done.text


async def test_a_tampered_foreign_or_expired_upload_id_is_refused(
    staff: Staff, sessionmaker: SessionMaker, frozen_clock: FrozenClock
) -> None:
    marketer = await staff.become(Role.MARKETER)
    dry = await upload(marketer, csv_of("Uusi Ihminen,uusi@example.fi,consent,employer,,,"))
    token = upload_id(dry)
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    for forged in (tampered, "../../etc/passwd", "", "x" * 5000):
        answer = await marketer.post(
            f"{PAGE}/commit", data={"csrf_token": csrf(dry), "upload_id": forged}
        )
        assert answer.status_code == 404, forged
        assert "Upload the file again" in answer.text
    # Without the form's token: refused before anything is read.
    assert (await marketer.post(f"{PAGE}/commit", data={"upload_id": token})).status_code == 403
    # Another session (another marketer) cannot commit it.
    other = await staff.become(Role.MARKETER)
    page = await other.get(PAGE)
    answer = await other.post(f"{PAGE}/commit", data={"csrf_token": csrf(page), "upload_id": token})
    assert answer.status_code == 404
    # Half an hour later it has expired, for its owner too.
    frozen_clock.set(NOW + staging.TTL + timedelta(seconds=1))
    owner = await staff.become(Role.MARKETER)
    page = await owner.get(PAGE)
    dry_again = await upload(owner, csv_of("Toinen Ihminen,toinen@example.fi,consent,employer,,,"))
    assert dry_again.status_code == 200
    answer = await owner.post(f"{PAGE}/commit", data={"csrf_token": csrf(page), "upload_id": token})
    assert answer.status_code == 404
    assert (await _counts(sessionmaker))[0] == 0


async def test_roles_without_contacts_write_get_no_import(staff: Staff) -> None:
    viewer = await staff.become(Role.VIEWER)
    assert (await viewer.get(PAGE)).status_code == 403
    nav = await viewer.get("/app")
    assert 'href="/app/imports"' not in nav.text
    marketer = await staff.become(Role.MARKETER)
    assert 'href="/app/imports"' in (await marketer.get("/app")).text


HOSTILE = [
    ("latin-1", "full_name,email\nÄijä,aija@example.fi\n".encode("latin-1"), 422, "not UTF-8"),
    ("missing column", b"nimi,email\nA,a@example.fi\n", 422, "unknown column"),
    ("empty", b"", 422, "The file is empty."),
    ("binary", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 422, "not UTF-8"),
    ("NUL in header", b"full_name\x00,email\nA,a@example.fi\n", 422, "unknown column"),
]


@pytest.mark.parametrize(("case", "raw", "status", "words"), HOSTILE, ids=[h[0] for h in HOSTILE])
async def test_a_file_that_cannot_be_read_gets_a_clear_message(
    staff: Staff, sessionmaker: SessionMaker, case: str, raw: bytes, status: int, words: str
) -> None:
    marketer = await staff.become(Role.MARKETER)
    answer = await upload(marketer, raw)
    assert answer.status_code == status, answer.text
    assert words in answer.text
    assert 'id="import-error"' in answer.text
    assert (await _counts(sessionmaker))[0] == 0


async def test_hostile_rows_are_refused_or_shown_harmlessly(
    staff: Staff, sessionmaker: SessionMaker
) -> None:
    marketer = await staff.become(Role.MARKETER)
    raw = "\ufeff".encode() + csv_of(
        "\"=cmd|' /C calc'!A0\",formula@example.fi,consent,employer,,,",  # 2
        "Nul\x00Name,nul@example.fi,consent,employer,,,",  # 3
        "Short Row,short@example.fi",  # 4: cells missing
        '"<script>alert(1)</script>",script@example.fi,consent,employer,,,',  # 5
        "Liian Pitkä," + "x" * 400 + "@example.fi,consent,employer,,,",  # 6
        'Unclosed "quote,quote@example.fi,consent,employer,,,',  # 7
    )
    page = await upload(marketer, raw)
    assert page.status_code == 200, page.text
    shown = outcomes(page)
    # A formula is stored as text (the export neutralises it); a NUL, a
    # short row and an overlong address are refused, each with its reason.
    assert shown == {
        2: "created",
        3: "refused",
        4: "refused",
        5: "created",
        6: "refused",
        7: "created",
    }
    assert re.findall(r'data-reason="(\w+)"', page.text) == ["invalid"] * 3
    assert "<script>alert(1)</script>" not in page.text  # escaped, not run
    assert "\x00" not in page.text
    assert (await _counts(sessionmaker))[0] == 0


async def test_a_file_over_the_limit_is_refused_with_a_message(staff: Staff) -> None:
    marketer = await staff.become(Role.MARKETER)
    raw = csv_of() + b"#" * (MAX_UPLOAD_BYTES + 1 - len(csv_of()))
    answer = await upload(marketer, raw)
    assert answer.status_code == 413
    assert "larger than 20 MB" in answer.text
    # Far beyond it, the server stops reading: still a refusal, never a 5xx.
    huge = await marketer.post(
        f"{PAGE}/dry-run",
        files={"file": ("huge.csv", b"x" * (MAX_UPLOAD_BYTES + 3 * 1024 * 1024), "text/csv")},
    )
    assert huge.status_code == 413
    assert "larger than 20 MB" in huge.text


async def test_no_file_chosen(staff: Staff) -> None:
    marketer = await staff.become(Role.MARKETER)
    form = await marketer.get(PAGE)
    answer = await marketer.post(f"{PAGE}/dry-run", data={"csrf_token": csrf(form)})
    assert answer.status_code == 422
    assert "Choose a CSV file" in answer.text


async def test_the_audit_holds_no_file_content(staff: Staff, sessionmaker: SessionMaker) -> None:
    marketer = await staff.become(Role.MARKETER)
    await upload(marketer, csv_of("Uusi Ihminen,uusi@example.fi,consent,employer,,,"))
    async with sessionmaker() as session:
        rows = (await run(session, select(AuditEvent))).scalars().all()
    assert "uusi@example.fi" not in " ".join(str(r.details) for r in rows)


async def test_a_finnish_member_reads_each_rows_problem_in_finnish(
    staff: Staff, sessionmaker: SessionMaker
) -> None:
    """The row problems the importer writes with numbers in them (a line named
    twice, too many cells) and the schema's own complaints come out in the
    member's language; the API and the command line keep the English."""
    finnish = await staff.become(Role.MARKETER, language="fi")
    page = await upload(
        finnish,
        csv_of(
            "Eka Ihminen,sama@example.fi,consent,self,,,",  # 2
            "Toka Ihminen,sama@example.fi,consent,self,,,",  # 3: the same email as line 2
            "Liikaa Soluja,liikaa@example.fi,consent,self,,,,extra",  # 4: eight cells
            f"{'P' * 300},pitka@example.fi,consent,self,,,",  # 5: a name over the limit
        ),
    )
    assert page.status_code == 200, page.text
    assert outcomes(page) == {2: "created", 3: "refused", 4: "refused", 5: "refused"}

    def row(line: int) -> str:
        return page.text.split(f'id="line-{line}"')[1].split("</tr>")[0]

    assert "sama sähköpostiosoite kuin rivillä 2" in row(3)
    assert "8 solua, mutta otsikkorivillä on 7 saraketta" in row(4)
    assert "String should have" not in row(5) and "merkkiä" in row(5)
    assert "the same email" not in page.text and "cells, but" not in page.text
