"""The trail is append-only and hash-chained: concurrent appends keep the
chain whole, the database refuses changes, and ``consentry audit verify``
finds a changed, removed or cut-off row once someone gets past the triggers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from service.audit import chain
from service.audit.chain import Event
from service.db import SessionMaker, session_scope
from service.models.audit import AuditActor
from service.models.enums import Role
from tests.conftest import TokenFactory, audit_trail_unlocked
from tests.integration.audit.support import Client, as_role, check, trail
from tests.support.consentry_run import consentry, make_env
from tests.support.factories import add_contact

CONCURRENT = 20


def _event(number: int) -> Event:
    return Event(
        actor=AuditActor.SYSTEM,
        action="test.append",
        method="POST",
        route="/test",
        status_code=200,
        details={"number": number},
    )


async def _append(sessionmaker: SessionMaker, number: int) -> int:
    async with session_scope(sessionmaker) as session:
        return await chain.append(session, _event(number))


async def _fill(sessionmaker: SessionMaker, count: int) -> None:
    for number in range(count):
        await _append(sessionmaker, number)


async def _raw(sessionmaker: SessionMaker, statement: str, *, unlocked: bool = False) -> None:
    engine = sessionmaker.kw["bind"]
    async with engine.begin() as connection:
        if unlocked:
            async with audit_trail_unlocked(connection):
                await connection.execute(text(statement))
        else:
            await connection.execute(text(statement))


async def test_concurrent_appends_keep_one_unbroken_chain(sessionmaker: SessionMaker) -> None:
    ids = await asyncio.gather(*(_append(sessionmaker, n) for n in range(CONCURRENT)))
    assert sorted(ids) == list(range(1, CONCURRENT + 1))
    result = await check(sessionmaker)
    assert result.intact, result
    assert result.events == CONCURRENT
    numbers = sorted(event.details["number"] for event in await trail(sessionmaker))
    assert numbers == list(range(CONCURRENT))


async def test_concurrent_audited_requests_keep_one_unbroken_chain(
    admin: Client, sessionmaker: SessionMaker, make_token: TokenFactory
) -> None:
    contact_id = await add_contact(admin)
    viewer = await as_role(make_token, Role.VIEWER)
    calls = []
    for n in range(CONCURRENT):
        if n % 3 == 0:
            calls.append(admin.get(f"/api/v1/contacts/{contact_id}"))
        elif n % 3 == 1:
            body = {"full_name": f"Person {n}", "email": f"p{n}@example.fi"}
            calls.append(
                admin.post(
                    "/api/v1/contacts",
                    json=body | {"legal_basis": "customer_relationship", "source": "self"},
                )
            )
        else:  # a denial, recorded in a transaction of its own
            calls.append(admin.delete(f"/api/v1/contacts/{contact_id}", headers=viewer))
    responses = await asyncio.gather(*calls)
    assert all(r.status_code in {200, 201, 403} for r in responses), [r.text for r in responses]
    result = await check(sessionmaker)
    assert result.intact, result
    assert result.events == CONCURRENT + 1


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"]
)
async def test_the_database_refuses_to_change_or_remove_a_row(
    sessionmaker: SessionMaker, statement: str
) -> None:
    await _fill(sessionmaker, 2)
    with pytest.raises(DBAPIError, match="append-only"):
        await _raw(sessionmaker, statement)
    assert len(await trail(sessionmaker)) == 2


async def test_postgresql_refuses_truncate(sessionmaker: SessionMaker) -> None:
    await _fill(sessionmaker, 1)
    engine = sessionmaker.kw["bind"]
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    with pytest.raises(DBAPIError, match="append-only"):
        await _raw(sessionmaker, "TRUNCATE audit_events")


async def test_an_intact_trail_verifies_in_batches(sessionmaker: SessionMaker) -> None:
    assert (await check(sessionmaker)).events == 0
    await _fill(sessionmaker, 10)
    result = await check(sessionmaker, batch=3)
    assert (result.intact, result.events, result.newest_id) == (True, 10, 10)
    [*_, newest] = await trail(sessionmaker)
    assert result.newest_hash == newest.row_hash


@pytest.mark.parametrize(
    ("statement", "broken", "problem"),
    [
        ("UPDATE audit_events SET action = 'contact.tampered' WHERE id = 4", 4, "was changed"),
        ("UPDATE audit_events SET contact_id = 99 WHERE id = 1", 1, "was changed"),
        ("DELETE FROM audit_events WHERE id = 4", 5, "changed or removed"),
        ("DELETE FROM audit_events WHERE id = 1", 2, "changed or removed"),
        # Reordering: swap two rows' ids (through a free id).
        (
            "UPDATE audit_events SET id = 100 WHERE id = 3; "
            "UPDATE audit_events SET id = 3 WHERE id = 4; "
            "UPDATE audit_events SET id = 4 WHERE id = 100",
            3,
            "changed or removed",
        ),
    ],
    ids=["change", "change-first", "delete", "delete-first", "reorder"],
)
async def test_tampering_is_found(
    sessionmaker: SessionMaker, statement: str, broken: int, problem: str
) -> None:
    await _fill(sessionmaker, 6)
    for part in statement.split("; "):
        await _raw(sessionmaker, part, unlocked=True)
    result = await check(sessionmaker)
    assert not result.intact
    assert result.broken_id == broken
    assert result.problem is not None and problem in result.problem


async def test_a_cut_off_tail_is_found_with_an_anchor(sessionmaker: SessionMaker) -> None:
    await _fill(sessionmaker, 5)
    noted = await check(sessionmaker)
    assert noted.newest_id is not None and noted.newest_hash is not None
    anchor = (noted.newest_id, noted.newest_hash)
    assert (await check(sessionmaker, anchor=anchor)).intact
    assert not (await check(sessionmaker, anchor=(2, "0" * 64))).intact

    await _raw(sessionmaker, "DELETE FROM audit_events WHERE id >= 4", unlocked=True)
    assert (await check(sessionmaker)).intact  # a chain alone cannot tell
    result = await check(sessionmaker, anchor=anchor)
    assert (result.intact, result.broken_id) == (False, 5)


async def test_the_command_says_intact_or_names_the_broken_row(
    sessionmaker: SessionMaker, database_url: str, tmp_path: Path
) -> None:
    env = make_env(tmp_path, CONSENTRY_DATABASE_URL=database_url)
    await _fill(sessionmaker, 3)
    intact = consentry(env, "audit", "verify")
    assert intact.returncode == 0, intact.stderr
    first, newest = intact.stdout.splitlines()
    assert first == "audit trail intact: 3 events"
    assert newest.startswith("newest: 3:")
    anchored = consentry(env, "audit", "verify", "--anchor", newest.removeprefix("newest: "))
    assert anchored.returncode == 0, anchored.stderr

    await _raw(sessionmaker, "UPDATE audit_events SET method = 'GET' WHERE id = 2", unlocked=True)
    broken = consentry(env, "audit", "verify")
    assert broken.returncode == 1
    assert broken.stdout == ""
    assert broken.stderr.strip() == (
        "consentry: audit trail broken at event #2: its content does not match its hash: "
        "it was changed"
    )
    bad_anchor = consentry(env, "audit", "verify", "--anchor", "3:nothex")
    assert bad_anchor.returncode == 2
    assert "ID:SHA256" in bad_anchor.stderr
