"""``consentry import contacts FILE.csv [--all-or-nothing] [--dry-run] [--json] [--rows]``.

Exit status: 0 when every row went in (or would, for a dry run), 1 when some
rows were refused or the import failed, 2 when the file cannot be read at all
(not UTF-8, an unknown column …). The report goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any, NoReturn, TextIO

from sqlalchemy.exc import OperationalError, ProgrammingError

from service.crypto import DataCipher
from service.db import create_engine, create_sessionmaker
from service.imports.columns import UnreadableFile
from service.imports.runner import run_import
from service.imports.schemas import ImportReport
from service.settings import Settings

EXIT_FAILED = 1
EXIT_USAGE = 2
# Above any spreadsheet's row limit (Excel: 1,048,576 rows) with room to spare.
MAX_FILE_BYTES = 1024 * 1024 * 1024


def add_commands(subparsers: Any) -> Any:
    """Register ``import contacts`` on the ``consentry`` command's subparsers;
    return the ``import`` group's subparsers, for other packages' imports."""
    actions = subparsers.add_parser("import", help="import data from files").add_subparsers(
        dest="import_command", required=True, metavar="WHAT"
    )
    contacts = actions.add_parser(
        "contacts",
        help="import or update contacts from a CSV file (UTF-8, header row; see docs/imports.md)",
    )
    contacts.add_argument("file", metavar="FILE.csv", type=Path)
    contacts.add_argument(
        "--all-or-nothing", action="store_true", help="write nothing when any row is refused"
    )
    contacts.add_argument(
        "--dry-run", action="store_true", help="check every row and report; write nothing"
    )
    contacts.add_argument("--json", action="store_true", help="print the report as JSON")
    contacts.add_argument(
        "--rows",
        action="store_true",
        help="report every row's outcome (created, updated, unchanged, refused) by line",
    )
    contacts.set_defaults(handler=cmd_import_contacts)
    return actions


def _fail(message: str, code: int) -> NoReturn:
    print(f"consentry: {message}", file=sys.stderr)
    raise SystemExit(code)


class ProgressLine:
    """A bar redrawn in place on a terminal; a plain line every 10% otherwise
    (a log file or a CI job must not fill with carriage returns)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.started = time.monotonic()
        self.last_step = -1

    def __call__(self, stage: str, done: int, total: int) -> None:
        rate = done / max(time.monotonic() - self.started, 1e-6)
        share = done / total if total else 1.0
        if self.tty:
            filled = int(share * 30)
            self.stream.write(
                f"\r{stage:>8} [{'#' * filled}{'.' * (30 - filled)}] {share:4.0%} "
                f"{done:,}/{total:,} rows, {rate:,.0f} rows/s "
            )
            if done >= total and stage == "writing":
                self.stream.write("\n")
            self.stream.flush()
            return
        step = int(share * 10)
        if step != self.last_step or done >= total:
            self.last_step = step
            print(
                f"consentry: {stage} {done:,}/{total:,} rows ({rate:,.0f} rows/s)",
                file=self.stream,
                flush=True,
            )
        if done >= total:
            self.last_step = -1
            self.started = time.monotonic()


def summary(report: ImportReport) -> str:
    would = "" if report.written else " (nothing written)" if not report.dry_run else " (dry run)"
    lines = [
        f"{report.file_name}: {report.rows:,} rows{would}",
        f"  created {report.created:,}, updated {report.updated:,}, "
        f"unchanged {report.unchanged:,}, refused {report.refused:,}"
        + (
            " (" + ", ".join(f"{k} {v:,}" for k, v in report.refused_by_reason.items()) + ")"
            if report.refused
            else ""
        ),
        f"  consents recorded {report.consents_recorded:,}, skipped {report.consents_skipped:,}"
        + (
            " ("
            + ", ".join(f"{k} {v:,}" for k, v in report.consents_skipped_by_reason.items())
            + ")"
            if report.consents_skipped
            else ""
        ),
        f"  purchases recorded {report.purchases_recorded:,}, dropped {report.purchases_dropped:,}",
    ]
    for problem in report.problems:
        where = f"{problem.field}: " if problem.field else ""
        lines.append(f"line {problem.line}: refused ({problem.reason}): {where}{problem.message}")
    for note in report.skipped_consents:
        lines.append(f"line {note.line}: {note.field} not applied ({note.reason}): {note.message}")
    for note in report.dropped_purchases:
        lines.append(f"line {note.line}: purchase dropped ({note.reason}): {note.message}")
    for outcome in report.lines or []:
        if outcome.outcome != "refused":  # the refused are listed above, with why
            lines.append(f"line {outcome.line}: {outcome.outcome}")
    return "\n".join(lines)


def cmd_import_contacts(settings: Settings, args: argparse.Namespace) -> None:
    path: Path = args.file
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            _fail(f"{path}: larger than {MAX_FILE_BYTES // 1024**2} MB", EXIT_USAGE)
        raw = path.read_bytes()
    except OSError as exc:
        _fail(f"{path}: cannot read the file ({exc.strerror or type(exc).__name__})", EXIT_USAGE)

    async def main() -> ImportReport:
        engine = create_engine(settings.database_url)
        try:
            return await run_import(
                create_sessionmaker(engine),
                raw=raw,
                file_name=path.name,
                cipher=DataCipher(settings.data_key),
                all_or_nothing=args.all_or_nothing,
                dry_run=args.dry_run,
                with_lines=args.rows,
                progress=ProgressLine(sys.stderr),
            )
        finally:
            await engine.dispose()

    try:
        report = asyncio.run(main())
    except UnreadableFile as exc:
        _fail(f"{path.name}: {exc.detail}; nothing was imported", EXIT_USAGE)
    except (OperationalError, ProgrammingError) as exc:
        if "no such table" in str(exc) or "does not exist" in str(exc):
            _fail("the database has no tables yet; run `consentry migrate`", EXIT_FAILED)
        # The type only: a database error quotes the values it failed on.
        _fail(f"the import failed ({type(exc).__name__}); rows of finished chunks stay", 1)
    print(report.model_dump_json(indent=2) if args.json else summary(report))
    if report.refused:
        raise SystemExit(EXIT_FAILED)
