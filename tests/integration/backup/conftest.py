"""Helpers for the backup tests: private temp dirs, table contents, a backup's insides."""

from __future__ import annotations

import dataclasses
import sqlite3
import subprocess
import tempfile
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlmodel import SQLModel

from service.backup import postgres
from service.backup.fileformat import MAGIC, decrypt
from service.db import create_engine
from service.settings import Settings

Client = AsyncTestClient[Litestar]


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """TMPDIR for this test, to show that no plaintext dump is left in it."""
    directory = tmp_path / "tmp"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


@pytest.fixture
def backup_settings(settings: Settings, tmp_path: Path) -> Settings:
    return dataclasses.replace(settings, backup_dir=tmp_path / "backups")


async def all_rows(database_url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, through a fresh engine (a PostgreSQL restore
    recreates the tables: pooled connections would remember the old ones)."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return {
                table.name: [dict(row._mapping) for row in await connection.execute(select(table))]
                for table in SQLModel.metadata.sorted_tables
            }
    finally:
        await engine.dispose()


def comparable(rows: list[dict[str, Any]]) -> list[str]:
    return sorted(repr(sorted(row.items())) for row in rows)


def leftovers(directory: Path) -> list[Path]:
    return list(directory.iterdir())


def split_chunks(raw: bytes) -> tuple[bytes, list[bytes]]:
    """A backup's bytes as (everything before the chunks, [each length-prefixed chunk])."""
    header_end = len(MAGIC) + 4 + int.from_bytes(raw[len(MAGIC) : len(MAGIC) + 4], "big")
    chunks, at = [], header_end
    while at < len(raw):
        length = int.from_bytes(raw[at : at + 4], "big")
        chunks.append(raw[at : at + 4 + length])
        at += 4 + length
    return raw[:header_end], chunks


@pytest.fixture
def opened(tmp_path: Path) -> Any:
    """``opened(settings, backup) -> Path``: the backup decrypted to a dump file."""
    count = iter(range(1000))

    def open_backup(settings: Settings, backup: Path) -> Path:
        plain = tmp_path / f"opened-{next(count)}"
        decrypt(backup, plain, settings.data_key)
        return plain

    return open_backup


def _pg_tools(settings: Settings) -> tuple[postgres.Tools, dict[str, str]]:
    # The tests' server is the newest installed one (tests/support/postgres.py).
    majors = [int(p.parent.name) for p in postgres.DEBIAN_ROOT.glob("*/bin")]
    return postgres.find_tools(max(majors), None), postgres.libpq_env(settings.database_url)


def dump_text(settings: Settings, plain: Path) -> bytes:
    """What a decrypted dump says, readably: the SQLite file, or pg_restore's SQL."""
    if settings.database_url.startswith("sqlite"):
        return plain.read_bytes()
    tools, env = _pg_tools(settings)
    command = [str(tools.pg_restore), "--file=-", str(plain)]
    return subprocess.run(command, env=env, capture_output=True, check=True).stdout


def table_in_dump(settings: Settings, plain: Path, table: str, column: str) -> list[str]:
    """One column of a table as the decrypted dump holds it."""
    if settings.database_url.startswith("sqlite"):
        with closing(sqlite3.connect(plain)) as connection:
            query = f"SELECT {column} FROM {table}"  # noqa: S608 - the tests' own names
            return [row[0] for row in connection.execute(query)]
    tools, env = _pg_tools(settings)
    command = [str(tools.pg_restore), "--data-only", f"--table={table}", "--file=-", str(plain)]
    script = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    lines = iter(script.splitlines())
    for line in lines:
        if line.startswith(f"COPY public.{table} "):
            names = line.split("(", 1)[1].split(")", 1)[0].split(", ")
            values = []
            for data in lines:
                if data == "\\.":
                    return values
                values.append(data.split("\t")[names.index(column)])
    raise AssertionError(f"no data for {table} in the dump")
