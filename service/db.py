"""The database engine, the per-request session and ``session_scope`` for jobs and the CLI.

Services never commit: the request dependency commits when the handler
succeeded, and ``session_scope`` commits when its block ends without error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event, func, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from service.errors import NotFound
from service.private import private_dir, private_file
from service.running import application_name

SessionMaker = async_sessionmaker[AsyncSession]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API read while a worker writes; foreign keys are off by
    # default in SQLite and our cascades rely on them.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Erased rows are overwritten, not left readable in free pages.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()


def create_engine(database_url: str) -> AsyncEngine:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            # SQLite gives the -wal and -shm files the database file's mode.
            private_dir(Path(url.database).parent)
            private_file(Path(url.database))
        # SQLite takes one writer at a time; more connections in one process
        # only wait for each other inside its busy handler, which sleeps in
        # steps of up to 100 ms: a burst of writes then took seconds at the
        # tail (bench/public: one-click p99). One connection, and one more for
        # a session opened while another is held.
        engine = create_async_engine(url, connect_args={"timeout": 15}, pool_size=1, max_overflow=1)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # JIT: the consent gate's statements look costly enough to the planner to
    # be compiled, which took ~0.9 s of each audience count and send list at a
    # million contacts and made neither faster (BENCHMARKS.md).
    return create_async_engine(
        url,
        pool_size=10,
        max_overflow=10,
        pool_pre_ping=True,
        # application_name: `backup restore` tells a running API or worker
        # from it (service.running), also on another host.
        connect_args={"server_settings": {"jit": "off", "application_name": application_name()}},
    )


def create_sessionmaker(engine: AsyncEngine) -> SessionMaker:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@asynccontextmanager
async def session_scope(sessionmaker: SessionMaker) -> AsyncIterator[AsyncSession]:
    """One transaction: commit when the block ends cleanly, roll back on error."""
    async with sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


# Inserts that can take ``ON CONFLICT``: SQLite and PostgreSQL spell it the
# same way, but SQLAlchemy builds it from each dialect's own ``insert``. This
# is the one place that chooses; nothing else switches on the dialect to insert.


Row = TypeVar("Row")


async def get_or_404(session: AsyncSession, model: type[Row], key: int, *, what: str) -> Row:
    """The row with this primary key, or a 404 saying ``no {what} with id {key}``."""
    row = await session.get(model, key)
    if row is None:
        raise NotFound(f"no {what} with id {key}")
    return row


def _conflict_insert(session: AsyncSession, table: Any) -> Any:
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def upsert(session: AsyncSession, table: Any, *, keys: list[str], values: dict[str, Any]) -> Any:
    """``INSERT … ON CONFLICT (keys) DO UPDATE`` the other columns."""
    statement = _conflict_insert(session, table).values(**values)
    updates = {name: statement.excluded[name] for name in values if name not in keys}
    return statement.on_conflict_do_update(index_elements=keys, set_=updates)


def upsert_many(session: AsyncSession, table: Any, *, keys: list[str], update: list[str]) -> Any:
    """``upsert`` for many rows: run it with a list of parameter dicts; on a
    conflict the ``update`` columns take the new row's values."""
    statement = _conflict_insert(session, table)
    updates = {name: statement.excluded[name] for name in update}
    return statement.on_conflict_do_update(index_elements=keys, set_=updates)


def insert_ignore(
    session: AsyncSession, table: Any, *, keys: list[str], values: dict[str, Any]
) -> Any:
    """``INSERT … ON CONFLICT (keys) DO NOTHING``."""
    return (
        _conflict_insert(session, table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=keys)
    )


def insert_ignore_many(
    session: AsyncSession, table: Any, *, keys: list[str], rows: list[dict[str, Any]]
) -> Any:
    """``insert_ignore`` for many rows, as one multi-row VALUES."""
    return _conflict_insert(session, table).values(rows).on_conflict_do_nothing(index_elements=keys)


async def insert_returning_ids(
    session: AsyncSession, table: Any, rows: list[dict[str, Any]]
) -> list[int]:
    """Insert ``rows`` and return their new ids, in the order of ``rows``.

    On SQLite the caller must hold the database's write lock already (an
    UPDATE that changes nothing takes it): the ids are handed out here."""
    if session.get_bind().dialect.name != "sqlite":
        result = await run(
            session, insert(table).returning(table.c.id, sort_by_parameter_order=True), rows
        )
        return list(result.scalars().all())
    # SQLAlchemy keeps RETURNING in order on SQLite only by sending one row
    # per statement: 100,000 round trips. The ids are ours to give instead:
    # the caller took SQLite's write lock first, so no other writer can take
    # the same ones before it commits.
    first = (await run(session, select(func.coalesce(func.max(table.c.id), 0)))).scalar_one() + 1
    ids = list(range(first, first + len(rows)))
    await run(
        session, insert(table), [{**row, "id": id_} for row, id_ in zip(rows, ids, strict=True)]
    )
    return ids


async def run(session: AsyncSession, statement: Any, params: Any = None) -> Any:
    """Execute a Core statement and return its result.

    sqlmodel's ``exec`` is typed for its own ``select`` only; set-based
    queries built from SQLAlchemy Core go through here instead of a
    ``type: ignore`` at every call."""
    return await session.exec(statement, params=params)
