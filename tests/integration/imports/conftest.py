"""Fixtures for the import tests: a helper that runs an import on the test database."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from service.crypto import DataCipher
from service.db import SessionMaker
from service.imports.runner import run_import
from service.imports.schemas import ImportReport
from service.settings import Settings

Importer = Callable[..., Coroutine[Any, Any, ImportReport]]


def csv_file(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def do_import(sessionmaker: SessionMaker, settings: Settings) -> Importer:
    async def run(raw: bytes, *, file_name: str = "people.csv", **options: Any) -> ImportReport:
        return await run_import(
            sessionmaker,
            raw=raw,
            file_name=file_name,
            cipher=DataCipher(settings.data_key),
            **options,
        )

    return run
