"""``/health/live`` and ``/health/ready`` against real databases and a real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text

from service.app import create_app
from service.db import SessionMaker, create_engine
from service.embedded import EmbeddedRedis, free_port
from service.observability.health import script_heads
from service.settings import Settings

Client = AsyncTestClient[Litestar]


async def test_live_answers_without_login(client: Client) -> None:
    response = await client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["cache-control"] == "no-store"


async def test_ready_when_database_is_current_and_redis_answers(
    client: Client, sessionmaker: SessionMaker
) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok", "redis": "ok"},
        "failed": [],
    }


@pytest.fixture
async def behind(database_url: str) -> AsyncIterator[None]:
    """The database one step from the newest revision, for the test's length."""
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            current = await connection.execute(text("SELECT version_num FROM alembic_version"))
            (head,) = current.one()
            await connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
        yield
    finally:
        async with engine.begin() as connection:
            await connection.execute(
                text("UPDATE alembic_version SET version_num = :head"), {"head": head}
            )
        await engine.dispose()


async def test_not_ready_while_a_migration_is_missing(client: Client, behind: None) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["migrations"] == "behind"
    assert body["checks"]["database"] == "ok"
    assert body["failed"] == ["migrations"]


async def test_the_head_is_the_one_migrate_applies(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
            assert frozenset(row[0] for row in rows) == script_heads()
    finally:
        await engine.dispose()


async def test_not_ready_when_redis_stops_answering(settings: Settings, tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "redis")
    url = server.start()
    try:
        app = create_app(replace(settings, redis_url=url))
        async with AsyncTestClient(app=app) as client:
            assert (await client.get("/health/ready")).status_code == 200
            server.stop()
            response = await client.get("/health/ready")
    finally:
        server.stop()
    assert response.status_code == 503
    assert response.json()["checks"]["redis"] == "failed"
    assert response.json()["failed"] == ["redis"]


async def test_not_ready_when_the_database_does_not_answer(settings: Settings) -> None:
    # Nothing listens on this port: the connection is refused at once.
    unreachable = f"postgresql+asyncpg://consentry:x@127.0.0.1:{free_port()}/consentry"
    app: Litestar = create_app(replace(settings, database_url=unreachable))
    async with AsyncTestClient(app=app) as client:
        response = await client.get("/health/ready")
        live = await client.get("/health/live")
    assert response.status_code == 503
    assert response.json()["checks"] == {
        "database": "failed",
        "migrations": "unknown",
        "redis": "ok",
    }
    assert response.json()["failed"] == ["database", "migrations"]
    assert live.status_code == 200


async def test_redis_is_not_checked_when_none_is_configured(settings: Settings) -> None:
    app = create_app(replace(settings, redis_url=None))
    async with AsyncTestClient(app=app) as client:
        response = await client.get("/health/ready")
    assert response.status_code == 200
    assert response.json()["checks"]["redis"] == "not_configured"


async def test_a_database_never_migrated_is_behind(settings: Settings, tmp_path: Path) -> None:
    empty = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    app = create_app(replace(settings, database_url=empty))
    async with AsyncTestClient(app=app) as client:
        response = await client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "ok"
    assert response.json()["checks"]["migrations"] == "behind"
