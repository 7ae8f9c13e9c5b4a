"""``/health/live`` and ``/health/ready`` against real databases and a real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from arq.connections import ArqRedis
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis
from sqlalchemy import text

from service.app import create_app
from service.db import SessionMaker, create_engine
from service.embedded import EmbeddedRedis, free_port
from service.observability.health import script_heads
from service.settings import Settings
from tests.support.clock import FrozenClock
from workers import heartbeat

Client = AsyncTestClient[Litestar]


@pytest.fixture
async def beating(redis: ArqRedis) -> None:
    """A worker's fresh heartbeat, as a live worker leaves it."""
    await heartbeat.beat(redis)


async def test_live_answers_without_login(client: Client) -> None:
    response = await client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["cache-control"] == "no-store"


async def test_ready_when_database_is_current_redis_answers_and_a_worker_beats(
    client: Client, sessionmaker: SessionMaker, beating: None
) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok", "redis": "ok", "worker": "ok"},
        "failed": [],
        "problems": [],
    }


async def test_not_ready_while_the_heartbeat_is_stale(
    client: Client, redis: ArqRedis, frozen_clock: FrozenClock
) -> None:
    frozen_clock.advance(seconds=-25)
    await heartbeat.beat(redis)
    frozen_clock.advance(seconds=25)
    response = await client.get("/health/ready")
    live = await client.get("/health/live")
    assert response.status_code == 503
    assert response.json()["checks"]["worker"] == "stale"
    assert response.json()["failed"] == ["worker"]
    assert response.json()["problems"] == ["worker: no heartbeat for 25 s"]
    assert live.status_code == 200

    # Two intervals is still alive; the next beat makes it ready again.
    frozen_clock.advance(seconds=-19)
    await heartbeat.beat(redis)
    frozen_clock.advance(seconds=19)
    assert (await client.get("/health/ready")).status_code == 200


async def test_not_ready_without_any_heartbeat(client: Client, redis: ArqRedis) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["worker"] == "missing"
    assert response.json()["problems"] == ["worker: no heartbeat in the last 120 s"]


async def test_api_replicas_may_leave_the_worker_out(client: Client, redis: ArqRedis) -> None:
    """The probe of API replicas: public links must not go down with the workers."""
    response = await client.get("/health/ready", params={"skip": "worker"})
    assert response.status_code == 200, response.text
    assert response.json()["checks"]["worker"] == "skipped"
    assert response.json()["failed"] == [] and response.json()["problems"] == []
    assert (await client.get("/health/ready", params={"skip": "database"})).status_code == 422


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


async def test_not_ready_while_a_migration_is_missing(
    client: Client, behind: None, beating: None
) -> None:
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
        beat_client = Redis.from_url(url)
        try:
            await heartbeat.beat(beat_client)
        finally:
            await beat_client.aclose()
        app = create_app(replace(settings, redis_url=url))
        async with AsyncTestClient(app=app) as client:
            assert (await client.get("/health/ready")).status_code == 200
            server.stop()
            response = await client.get("/health/ready")
    finally:
        server.stop()
    assert response.status_code == 503
    assert response.json()["checks"]["redis"] == "failed"
    # The heartbeat lives in Redis: whether a worker is alive is unknown.
    assert response.json()["checks"]["worker"] == "unknown"
    assert response.json()["failed"] == ["redis", "worker"]


async def test_not_ready_when_the_database_does_not_answer(
    settings: Settings, beating: None
) -> None:
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
        "worker": "ok",
    }
    assert response.json()["failed"] == ["database", "migrations"]
    assert live.status_code == 200


async def test_redis_is_not_checked_when_none_is_configured(settings: Settings) -> None:
    app = create_app(replace(settings, redis_url=None))
    async with AsyncTestClient(app=app) as client:
        response = await client.get("/health/ready")
    assert response.status_code == 200
    assert response.json()["checks"]["redis"] == "not_configured"
    # No queue, so no worker to wait for.
    assert response.json()["checks"]["worker"] == "not_configured"


async def test_a_database_never_migrated_is_behind(settings: Settings, tmp_path: Path) -> None:
    empty = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    app = create_app(replace(settings, database_url=empty))
    async with AsyncTestClient(app=app) as client:
        response = await client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "ok"
    assert response.json()["checks"]["migrations"] == "behind"
