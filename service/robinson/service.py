"""Loading Robinson extracts, and the rule that phone lists need a fresh one.

A load is one transaction: the new extract's row, the removal of every
number of the earlier extracts, and the new numbers. A file with no valid
number raises before the transaction can commit, so the extract in force
stays in force. The phone gate (``service.consent.queries``) matches
``robinson_numbers.phone_hash`` against ``contacts.phone_hash``; both are
``DataCipher.lookup_hash("phone", e164)``, so no backfill of contacts is
ever needed.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Iterator
from datetime import date
from itertools import islice

from sqlalchemy import bindparam, delete, func, select, text
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service import clock
from service.crypto import DataCipher
from service.db import insert_ignore, run
from service.errors import Conflict, InvalidInput
from service.labels import N_
from service.models import RobinsonExtract, RobinsonNumber
from service.robinson.reader import ExtractReader
from service.robinson.schemas import BadLine, ExtractRead, LoadReport, RobinsonStatus

BATCH_SIZE = 5000
HISTORY = 20
MISSING = "robinson_extract_missing"
STALE = "robinson_extract_stale"
NUMBERS = RobinsonNumber.__table__  # type: ignore[attr-defined]
# A file name is a label on the extract, not a path.
_NAME_PART = re.compile(r"[^\w.\-]+")


def clean_file_name(name: str | None) -> str:
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    return _NAME_PART.sub("_", base)[:100] or "upload.txt"


def _take(hashes: Iterator[str], size: int) -> list[str]:
    return list(islice(hashes, size))


async def load(
    session: AsyncSession,
    *,
    lines: Iterable[str],
    file_name: str,
    extract_date: date,
    cipher: DataCipher,
    user_id: int | None = None,
) -> LoadReport:
    """Load an extract and make it the one in force; the caller commits."""
    if extract_date > clock.today():
        raise InvalidInput(
            N_("the extract date is in the future"),
            fields={"extract_date": N_("must not be in the future")},
        )
    if session.get_bind().dialect.name == "postgresql":
        # Two loads at once would each delete only the numbers committed
        # before them and leave both files' numbers. Readers are not blocked.
        await run(session, text("LOCK TABLE robinson_numbers IN EXCLUSIVE MODE"))
    # SQLite: the extract's INSERT takes the database's one write lock.
    extract = RobinsonExtract(
        extract_date=extract_date,
        file_name=clean_file_name(file_name),
        loaded_by_user_id=user_id,
    )
    session.add(extract)
    await session.flush()
    assert extract.id is not None
    replaced = await run(session, delete(NUMBERS).where(NUMBERS.c.extract_id != extract.id))
    reader = ExtractReader(lines=lines, cipher=cipher)
    hashes = reader.hashes()
    statement = insert_ignore(
        session,
        NUMBERS,
        keys=["extract_id", "phone_hash"],
        values={"extract_id": bindparam("x_extract"), "phone_hash": bindparam("x_hash")},
    )
    # Parsing is CPU work (phonenumbers, HMAC): done in a thread, a batch at a
    # time, so an API process keeps answering while a large file loads.
    while batch := await asyncio.to_thread(_take, hashes, BATCH_SIZE):
        await run(session, statement, [{"x_extract": extract.id, "x_hash": h} for h in batch])
    count = int(
        (
            await run(
                session,
                select(func.count()).select_from(NUMBERS).where(NUMBERS.c.extract_id == extract.id),
            )
        ).scalar_one()
    )
    problems = [BadLine(line=p.line, message=p.message) for p in reader.problems]
    if count == 0:
        raise InvalidInput(
            f"no valid phone number in {extract.file_name}: nothing was loaded, "
            "and the extract in force stays in force",
            fields={"file": "no valid phone number"}
            | {f"line {p.line}": p.message for p in problems},
        )
    extract.number_count = count
    session.add(extract)
    await session.flush()
    return LoadReport(
        extract=ExtractRead.model_validate(extract),
        valid_lines=reader.valid,
        bad_lines=reader.bad,
        problems=problems,
        replaced_numbers=int(replaced.rowcount or 0),
    )


async def current(session: AsyncSession) -> RobinsonExtract | None:
    """The extract in force: the one loaded last (its numbers are the ones stored)."""
    query = select(RobinsonExtract).order_by(col(RobinsonExtract.id).desc()).limit(1)
    extract: RobinsonExtract | None = (await run(session, query)).scalars().first()
    return extract


def age_days(extract: RobinsonExtract, today: date) -> int:
    return (today - extract.extract_date).days


async def require_fresh(
    session: AsyncSession, *, max_age_days: int, today: date
) -> RobinsonExtract:
    """The extract in force, or a 409 when there is none or it is too old to
    screen a phone list with."""
    extract = await current(session)
    if extract is None:
        raise Conflict(
            N_(
                "no Robinson extract is loaded: phone call lists are screened against "
                "ASML's do-not-call register; load one with `consentry import robinson FILE` "
                "or POST /api/v1/robinson/extracts"
            ),
            reason=MISSING,
        )
    age = age_days(extract, today)
    if age > max_age_days:
        raise Conflict(
            f"the Robinson extract in force is dated {extract.extract_date.isoformat()}, "
            f"{age} days ago; phone call lists need one at most {max_age_days} days old "
            "(CONSENTRY_ROBINSON_MAX_AGE_DAYS): load a newer extract",
            reason=STALE,
        )
    return extract


async def status(session: AsyncSession, *, max_age_days: int, today: date) -> RobinsonStatus:
    query = select(RobinsonExtract).order_by(col(RobinsonExtract.id).desc()).limit(HISTORY + 1)
    extracts = [ExtractRead.model_validate(e) for e in (await run(session, query)).scalars().all()]
    if not extracts:
        return RobinsonStatus(
            current=None, age_days=None, max_age_days=max_age_days, fresh=False, history=[]
        )
    age = (today - extracts[0].extract_date).days
    return RobinsonStatus(
        current=extracts[0],
        age_days=age,
        max_age_days=max_age_days,
        fresh=age <= max_age_days,
        history=extracts[1:],
    )
