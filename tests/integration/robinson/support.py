"""Helpers for tests that need a Robinson extract in force (any test that builds
a phone call list does: without one the list is refused)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlmodel import col

from service import clock
from service.crypto import DataCipher
from service.db import SessionMaker, run, session_scope
from service.models import RobinsonExtract, RobinsonNumber
from service.robinson import service
from service.robinson.schemas import LoadReport
from service.settings import Settings

# A valid Finnish mobile number no test contact has.
UNRELATED = "+358 50 9999999"


async def load_extract(
    sessionmaker: SessionMaker,
    settings: Settings,
    *numbers: str,
    extract_date: date | None = None,
    file_name: str = "robinson.txt",
) -> LoadReport:
    """Load an extract of these lines (default: one unrelated number), dated
    ``extract_date`` (default: today by the service clock)."""
    async with session_scope(sessionmaker) as session:
        return await service.load(
            session,
            lines=[f"{n}\n" for n in (numbers or (UNRELATED,))],
            file_name=file_name,
            extract_date=extract_date or clock.today(),
            cipher=DataCipher(settings.data_key),
        )


async def stored(sessionmaker: SessionMaker) -> tuple[list[RobinsonExtract], list[tuple[int, str]]]:
    """Every extract row, oldest first, and every stored (extract id, hash)."""
    async with sessionmaker() as session:
        extracts = list(
            (await run(session, select(RobinsonExtract).order_by(col(RobinsonExtract.id))))
            .scalars()
            .all()
        )
        numbers = [
            (int(e), str(h))
            for e, h in (
                await run(
                    session,
                    select(col(RobinsonNumber.extract_id), col(RobinsonNumber.phone_hash)),
                )
            ).all()
        ]
    return extracts, sorted(numbers)
