"""``consentry import robinson FILE [--extract-date YYYY-MM-DD] [--json]``.

Exit status: 0 when every line held a valid number, 1 when the extract was
loaded but some lines were not numbers (listed), 2 when nothing was loaded
(unreadable file, no valid number, a date in the future). The file is read
line by line, never whole, and loaded in one transaction.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Coroutine
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from service import clock
from service.crypto import DataCipher
from service.errors import InvalidInput
from service.robinson import service
from service.robinson.schemas import LoadReport
from service.settings import Settings

T = TypeVar("T")
RunDb = Callable[[Settings, Callable[[Any], Coroutine[Any, Any, T]]], T]
EXIT_SOME_BAD = 1
EXIT_NOTHING_LOADED = 2


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a date like 2026-11-30") from None


def add_commands(import_actions: Any, run_db: RunDb[Any]) -> None:
    """Register ``robinson`` under ``consentry import`` (``import_actions`` is
    that group's subparsers)."""
    robinson = import_actions.add_parser(
        "robinson",
        help="load ASML's do-not-call extract (one number per line, or CSV with a phone "
        "column); it replaces the extract in force (see docs/robinson.md)",
    )
    robinson.add_argument("file", metavar="FILE", type=Path)
    robinson.add_argument(
        "--extract-date",
        type=_date,
        default=None,
        metavar="YYYY-MM-DD",
        help="the day ASML made the extract (default: today); phone call lists are "
        "refused once it is older than CONSENTRY_ROBINSON_MAX_AGE_DAYS",
    )
    robinson.add_argument("--json", action="store_true", help="print the report as JSON")
    robinson.set_defaults(handler=partial(cmd_import_robinson, run_db=run_db))


def _fail(message: str, details: list[str] | None = None) -> NoReturn:
    print(f"consentry: {message}", file=sys.stderr)
    for line in details or []:
        print(f"  {line}", file=sys.stderr)
    raise SystemExit(EXIT_NOTHING_LOADED)


def summary(report: LoadReport) -> str:
    extract = report.extract
    lines = [
        f"{extract.file_name}: the extract of {extract.extract_date.isoformat()} is loaded "
        f"(#{extract.id}) and in force",
        f"  numbers {extract.number_count:,}; lines with a number {report.valid_lines:,}, "
        f"without {report.bad_lines:,}; numbers of the previous extract removed "
        f"{report.replaced_numbers:,}",
    ]
    lines += [f"line {problem.line}: {problem.message}" for problem in report.problems]
    if report.bad_lines > len(report.problems):
        lines.append(f"… and {report.bad_lines - len(report.problems):,} more bad lines")
    return "\n".join(lines)


def cmd_import_robinson(
    settings: Settings, args: argparse.Namespace, *, run_db: RunDb[Any]
) -> None:
    path: Path = args.file
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        _fail(f"{path}: cannot read the file ({exc.strerror or type(exc).__name__})")
    cipher = DataCipher(settings.data_key)

    async def work(session: Any) -> LoadReport:
        return await service.load(
            session,
            lines=handle,
            file_name=path.name,
            extract_date=args.extract_date or clock.today(),
            cipher=cipher,
        )

    try:
        with handle:
            report: LoadReport = run_db(settings, work)
    except InvalidInput as exc:
        _fail(
            f"{path.name}: {exc.detail}",
            [f"{name}: {message}" for name, message in exc.fields.items() if name != "file"],
        )
    print(report.model_dump_json(indent=2) if args.json else summary(report))
    if report.bad_lines:
        raise SystemExit(EXIT_SOME_BAD)
