"""Shared fixtures: real Redis, real SMTP, real SQLite and real PostgreSQL.

Every test that touches the database runs twice, once per backend (the
``database_url`` fixture is parametrised). Servers start once per session; the
tables are emptied between tests.

The rows tests start from (staff, contacts, consents, bans, campaigns) come
from ``tests/support/factories.py``; a test that needs the time to stand
still, or to move, takes ``frozen_clock`` (a module sets where it starts by
overriding ``clock_start``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

import service.models  # noqa: F401  (every table on the metadata)
from service import clock
from service.app import create_app
from service.auth import service as auth_service
from service.db import SessionMaker, create_engine, create_sessionmaker, session_scope
from service.embedded import EmbeddedRedis, MailCatcher
from service.migrate import upgrade
from service.models.enums import Role
from service.observability.service import MessageCounter
from service.settings import Settings, load_settings
from tests.support.clock import FrozenClock
from tests.support.factories import add_staff
from tests.support.postgres import TemporaryPostgres

BACKENDS = ["sqlite", "postgresql"]
TEST_SECRET = "test-secret-key-" + "s" * 32
TEST_DATA_KEY = "test-data-key-" + "d" * 32


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist (scripts/test runs two processes), the end-to-end
    tests run one after another in one process: they start whole services
    and some bound how long a recovery may take, so two at once on two CPUs
    would measure each other."""
    for item in items:
        if "tests/e2e/" in item.nodeid.replace("\\", "/"):
            item.add_marker(pytest.mark.xdist_group("e2e"))


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    """Argon2id at its lowest cost while testing: every test that creates a
    staff user would otherwise spend ~0.1 s hashing one password. The
    algorithm is the same; only the work factors differ."""
    kept = auth_service._hasher
    auth_service._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    yield
    auth_service._hasher = kept


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with EmbeddedRedis(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A Redis of this test's own, which it may kill and restart (fault tests)."""
    server = EmbeddedRedis(tmp_path / "own-redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with TemporaryPostgres() as url:
        yield url


@pytest.fixture(scope="session")
def smtp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailCatcher]:
    catcher = MailCatcher(tmp_path_factory.mktemp("outbox"))
    with catcher:
        yield catcher


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated database of each backend, built with the real Alembic migrations."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def settings_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {
        "CONSENTRY_VAR_DIR": str(tmp_path_factory.mktemp("var")),
        "CONSENTRY_SECRET_KEY": TEST_SECRET,
        "CONSENTRY_DATA_KEY": TEST_DATA_KEY,
    }


@pytest.fixture
def settings(database_url: str, settings_env: dict[str, str], redis_url: str) -> Settings:
    return load_settings(
        {**settings_env, "CONSENTRY_DATABASE_URL": database_url, "CONSENTRY_REDIS_URL": redis_url}
    )


@asynccontextmanager
async def audit_trail_unlocked(connection: AsyncConnection) -> AsyncIterator[None]:
    """Within the block the audit trail's append-only triggers are off (for
    emptying it between tests, and for tampering with it on purpose); they
    are back on when it ends, in the same transaction."""
    tables = ("audit_events", "audit_cuts")  # the record of its cuts is append-only too
    if connection.dialect.name == "postgresql":
        for table in tables:
            await connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        yield
        for table in tables:
            await connection.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
        return
    query = (
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
        "AND tbl_name IN ('audit_events', 'audit_cuts')"
    )
    triggers = (await connection.execute(text(query))).all()
    for name, _ in triggers:
        await connection.execute(text(f"DROP TRIGGER {name}"))
    yield
    for _, sql in triggers:
        await connection.execute(text(sql))


@pytest.fixture
async def sessionmaker(database_url: str) -> AsyncIterator[SessionMaker]:
    """A sessionmaker on a database emptied of every row before the test."""
    engine = create_engine(database_url)
    async with engine.begin() as connection, audit_trail_unlocked(connection):
        for table in reversed(SQLModel.metadata.sorted_tables):
            await connection.execute(table.delete())
        if connection.dialect.name == "postgresql":
            # Restart ids so tests never depend on the order they ran in.
            for table in SQLModel.metadata.sorted_tables:
                for column in table.primary_key.columns:
                    if column.autoincrement is True or (
                        column.autoincrement == "auto" and len(table.primary_key.columns) == 1
                    ):
                        await connection.execute(
                            text(
                                f"SELECT setval(pg_get_serial_sequence('{table.name}', "
                                f"'{column.name}'), 1, false)"
                            )
                        )
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def built_apps() -> dict[str, tuple[Litestar, dict[str, Any]]]:
    """Apps built so far in this process, by settings, each with its state as built."""
    return {}


@pytest.fixture
def app(
    settings: Settings,
    sessionmaker: SessionMaker,
    built_apps: dict[str, tuple[Litestar, dict[str, Any]]],
) -> Litestar:
    """The service's app on this test's settings, built once per process and
    settings: building one costs ~0.3 s of CPU (Litestar registering ~450
    routes), which ~2,500 tests would otherwise each pay. Each test gets it
    in the state it was built in, its per-process metrics empty."""
    key = repr(settings)
    if key not in built_apps:
        built = create_app(settings)
        built_apps[key] = (built, dict(built.state))
    built, as_built = built_apps[key]
    built.state.clear()
    built.state.update(as_built)
    built.state.latency.series.clear()
    built.state.message_counter = MessageCounter()
    return built


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


TokenFactory = Callable[[Role], Coroutine[Any, Any, str]]


@pytest.fixture
def make_token(sessionmaker: SessionMaker) -> TokenFactory:
    """Create a staff user of a role and return a bearer token for them."""

    async def factory(role: Role) -> str:
        user = await add_staff(sessionmaker, role=role)
        async with session_scope(sessionmaker) as session:
            return await auth_service.issue_token(session, user=user, name="test")

    return factory


@pytest.fixture
async def admin(
    client: AsyncTestClient[Litestar], make_token: TokenFactory
) -> AsyncTestClient[Litestar]:
    """The test client, authenticated as an admin."""
    client.headers["Authorization"] = f"Bearer {await make_token(Role.ADMIN)}"
    return client


@pytest.fixture
async def session(sessionmaker: SessionMaker) -> AsyncIterator[AsyncSession]:
    """A session for looking at what the API stored (read-only use)."""
    async with sessionmaker() as db_session:
        yield db_session


@pytest.fixture
def clock_start() -> datetime:
    """Where ``frozen_clock`` starts: now, unless a module overrides this."""
    return clock.now()


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch, clock_start: datetime) -> FrozenClock:
    """The service clock held at ``clock_start`` and moved only by the test."""
    held = FrozenClock(clock_start)
    monkeypatch.setattr(clock, "now", held.read)
    return held


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
