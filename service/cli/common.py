"""What every command shares: its errors, exit statuses and database transaction."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from types import FrameType
from typing import Any, NoReturn, TypeVar

from sqlalchemy.exc import OperationalError, ProgrammingError

from service.db import create_engine, create_sessionmaker, session_scope
from service.settings import Settings

EXIT_USAGE = 2
EXIT_FAILED = 1
T = TypeVar("T")


class CommandError(Exception):
    """A command cannot do what was asked; the message is the one line shown."""


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    print(f"consentry: {message}", file=sys.stderr)
    raise SystemExit(code)


def run_db(settings: Settings, work: Callable[[Any], Coroutine[Any, Any, T]]) -> T:
    """Run ``work(session)`` in one committed transaction on a fresh engine."""

    async def main() -> T:
        engine = create_engine(settings.database_url)
        try:
            async with session_scope(create_sessionmaker(engine)) as session:
                return await work(session)
        except (OperationalError, ProgrammingError) as exc:
            if "no such table" in str(exc) or "does not exist" in str(exc):
                raise CommandError(
                    "the database has no tables yet; run `consentry migrate`"
                ) from None
            raise
        finally:
            await engine.dispose()

    return asyncio.run(main())


def interrupt(signum: int, frame: FrameType | None) -> None:
    """A SIGTERM handler: stop as Ctrl-C does."""
    raise KeyboardInterrupt
