"""What a backup refuses, and what it holds: a damaged, changed or wrongly keyed
file, or one of another database, restores nothing and changes nothing; the
file holds no plaintext and only its owner may read it."""

from __future__ import annotations

import dataclasses
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from service.backup import fileformat, service
from service.backup.fileformat import BackupError, UnreadableBackup, WrongKey
from service.backup.service import create_backup, restore_backup
from service.db import SessionMaker, create_engine
from service.migrate import upgrade_async
from service.settings import Settings, load_settings
from tests.integration.backup.conftest import (
    Client,
    all_rows,
    dump_text,
    leftovers,
    split_chunks,
)
from tests.support.factories import MARKETING, add_contact

SMALL_CHUNKS = 4096
EMAIL = "piia.private@example.fi"
NAME = "Piia Private"


def flip_a_byte_in_the_middle(raw: bytes) -> bytes:
    middle = len(raw) // 2
    return raw[:middle] + bytes([raw[middle] ^ 0x01]) + raw[middle + 1 :]


def cut_the_last_chunk_short(raw: bytes) -> bytes:
    return raw[:-10]


def drop_the_last_chunk(raw: bytes) -> bytes:
    prefix, chunks = split_chunks(raw)
    return prefix + b"".join(chunks[:-1])


def swap_two_chunks(raw: bytes) -> bytes:
    prefix, chunks = split_chunks(raw)
    chunks[1], chunks[2] = chunks[2], chunks[1]
    return prefix + b"".join(chunks)


def drop_a_middle_chunk(raw: bytes) -> bytes:
    prefix, chunks = split_chunks(raw)
    return prefix + b"".join(chunks[:1] + chunks[2:])


def change_the_header(raw: bytes) -> bytes:
    # Same length, still valid JSON: only the chunks' authentication can tell.
    prefix, chunks = split_chunks(raw)
    header_at = len(fileformat.MAGIC) + 4
    header = fileformat.Header.decode(prefix[header_at:])
    changed = dataclasses.replace(header, created_at=header.created_at.replace(year=1999))
    assert len(changed.encode()) == len(header.encode())
    return prefix[:header_at] + changed.encode() + b"".join(chunks)


def read(path: Path) -> bytes:
    return path.read_bytes()


def write(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Backups of many chunks, to move them around."""
    monkeypatch.setattr(fileformat, "CHUNK_SIZE", SMALL_CHUNKS)


@pytest.fixture
async def backup(
    admin: Client, backup_settings: Settings, tmp_path: Path, small_chunks: None
) -> Path:
    await add_contact(admin, consent=MARKETING, full_name=NAME, email=EMAIL)
    target = tmp_path / "a.backup"
    await create_backup(backup_settings, target)
    return target


@pytest.mark.parametrize(
    "damage",
    [
        flip_a_byte_in_the_middle,
        cut_the_last_chunk_short,
        drop_the_last_chunk,
        swap_two_chunks,
        drop_a_middle_chunk,
        change_the_header,
    ],
)
async def test_a_damaged_backup_restores_nothing(
    backup: Path,
    backup_settings: Settings,
    sessionmaker: SessionMaker,
    private_tmp: Path,
    opened: Any,
    damage: Callable[[bytes], bytes],
) -> None:
    raw = read(backup)
    assert len(split_chunks(raw)[1]) > 3
    opened(backup_settings, backup)  # the undamaged file opens
    # A contact changed since the backup: a restore would take it back.
    async with sessionmaker() as session:
        await session.exec(text("UPDATE contacts SET city = 'Since'"))  # type: ignore[call-overload]
        await session.commit()
    before = await all_rows(backup_settings.database_url)
    write(backup, damage(raw))

    with pytest.raises(UnreadableBackup, match=r"^a\.backup: damaged"):
        await restore_backup(backup_settings, backup)

    assert await all_rows(backup_settings.database_url) == before
    assert leftovers(private_tmp) == []


async def test_a_backup_made_with_another_data_key_restores_nothing(
    backup: Path, backup_settings: Settings, private_tmp: Path
) -> None:
    before = await all_rows(backup_settings.database_url)
    other = dataclasses.replace(backup_settings, data_key="another-data-key-" + "x" * 32)
    with pytest.raises(WrongKey, match="made with another CONSENTRY_DATA_KEY"):
        await restore_backup(other, backup)
    assert await all_rows(backup_settings.database_url) == before
    assert leftovers(private_tmp) == []


async def test_the_file_holds_no_plaintext_and_only_its_owner_reads_it(
    backup: Path, backup_settings: Settings, opened: Any
) -> None:
    assert mode(backup) == 0o600
    raw = read(backup)
    # The dump inside does hold them: the search below could find them.
    inside = dump_text(backup_settings, opened(backup_settings, backup))
    for needle in (EMAIL.encode(), NAME.encode()):
        assert needle in inside
        assert needle not in raw
    assert not [path for path in leftovers(backup.parent) if path.name.endswith(".tmp")]


async def reencrypted(settings: Settings, backup: Path, tmp_path: Path, **changes: str) -> Path:
    """The same dump, in a backup whose (authentic) header says something else."""
    plain = tmp_path / "plain"
    header = fileformat.decrypt(backup, plain, settings.data_key)
    forged = tmp_path / "forged.backup"
    new = fileformat.new_header(
        settings.data_key,
        database=changes.get("database", header.database),
        created_at=header.created_at,
        revision=changes.get("revision", header.revision),
    )
    fileformat.encrypt(plain, forged, new, settings.data_key)
    return forged


async def test_a_backup_of_another_kind_of_database_is_refused(
    backup: Path, backup_settings: Settings, tmp_path: Path
) -> None:
    kind = service.backend(backup_settings.database_url)
    other = "postgresql" if kind == "sqlite" else "sqlite"
    forged = await reencrypted(backup_settings, backup, tmp_path, database=other)
    before = await all_rows(backup_settings.database_url)
    with pytest.raises(BackupError, match=f"a backup of a {other} database"):
        await restore_backup(backup_settings, forged)
    assert await all_rows(backup_settings.database_url) == before


async def test_a_backup_from_a_newer_version_is_refused(
    backup: Path, backup_settings: Settings, tmp_path: Path
) -> None:
    forged = await reencrypted(backup_settings, backup, tmp_path, revision="9999")
    before = await all_rows(backup_settings.database_url)
    with pytest.raises(BackupError, match="revision 9999 is unknown"):
        await restore_backup(backup_settings, forged)
    assert await all_rows(backup_settings.database_url) == before


async def test_a_failure_after_loading_leaves_the_database_as_it_was(
    backup: Path,
    backup_settings: Settings,
    sessionmaker: SessionMaker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with sessionmaker() as session:
        await session.exec(text("UPDATE contacts SET city = 'Since'"))  # type: ignore[call-overload]
        await session.commit()
    await sessionmaker.kw["bind"].dispose()
    before = await all_rows(backup_settings.database_url)

    async def broken_migration(database_url: str) -> None:
        raise BackupError("migration failed")

    monkeypatch.setattr(service, "upgrade_async", broken_migration)
    with pytest.raises(BackupError, match="migration failed"):
        await restore_backup(backup_settings, backup)

    assert await all_rows(backup_settings.database_url) == before
    if kind_of(backup_settings) == "postgresql":
        assert not await side_schema_exists(backup_settings)


def kind_of(settings: Settings) -> str:
    return service.backend(settings.database_url)


async def side_schema_exists(settings: Settings) -> bool:
    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as connection:
            found = await connection.execute(
                text("SELECT 1 FROM pg_namespace WHERE nspname = 'consentry_pre_restore'")
            )
            return found.first() is not None
    finally:
        await engine.dispose()


async def test_postgresql_refuses_to_restore_over_an_interrupted_restore(
    postgres_url: str, settings_env: dict[str, str], tmp_path: Path
) -> None:
    await upgrade_async(postgres_url)
    settings = load_settings({**settings_env, "CONSENTRY_DATABASE_URL": postgres_url})
    backup = tmp_path / "pg.backup"
    await create_backup(settings, backup)
    engine = create_engine(postgres_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE SCHEMA consentry_pre_restore"))
        with pytest.raises(BackupError, match="an earlier restore was interrupted"):
            await restore_backup(settings, backup)
    finally:
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA IF EXISTS consentry_pre_restore"))
        await engine.dispose()


async def test_create_refuses_an_existing_file(
    backup: Path, backup_settings: Settings, tmp_path: Path
) -> None:
    before = read(backup)
    with pytest.raises(BackupError, match="exists; name a new file"):
        await create_backup(backup_settings, backup)
    assert read(backup) == before
    with pytest.raises(BackupError, match="no such directory"):
        await create_backup(backup_settings, tmp_path / "missing" / "b.backup")


async def test_sqlite_refuses_when_the_service_writes_during_the_restore(
    tmp_path: Path, settings_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'own.db'}"
    await upgrade_async(url)
    settings = load_settings({**settings_env, "CONSENTRY_DATABASE_URL": url})
    backup = tmp_path / "own.backup"
    await create_backup(settings, backup)
    real_upgrade = service.upgrade_async

    async def upgrade_while_the_service_erases(database_url: str) -> None:
        await real_upgrade(database_url)
        engine = create_engine(url)  # the live database, not the staging copy
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    text(
                        "INSERT INTO suppressions (value_hash, kind, reason, created_at) "
                        "VALUES ('during', 'email', 'erasure', '2026-01-01 00:00:00.000000')"
                    )
                )
        finally:
            await engine.dispose()

    monkeypatch.setattr(service, "upgrade_async", upgrade_while_the_service_erases)
    with pytest.raises(BackupError, match="the database changed during the restore"):
        await restore_backup(settings, backup)
    after = await all_rows(url)
    assert [row["value_hash"] for row in after["suppressions"]] == ["during"]


async def test_postgresql_restore_keeps_the_schema_owner_grants_and_triggers(
    postgres_url: str, settings_env: dict[str, str], tmp_path: Path
) -> None:
    await upgrade_async(postgres_url)
    settings = load_settings({**settings_env, "CONSENTRY_DATABASE_URL": postgres_url})
    schema = text(
        "SELECT nspowner::regrole::text, nspacl::text FROM pg_namespace WHERE nspname = 'public'"
    )
    engine = create_engine(postgres_url)
    try:
        async with engine.connect() as connection:
            before = (await connection.execute(schema)).one()
        await engine.dispose()
        backup = tmp_path / "pg.backup"
        await create_backup(settings, backup)
        await restore_backup(settings, backup)
        async with engine.connect() as connection:
            assert (await connection.execute(schema)).one() == before
            with pytest.raises(DBAPIError, match="audit_events is append-only"):
                await connection.execute(text("DELETE FROM audit_events"))
    finally:
        await engine.dispose()
