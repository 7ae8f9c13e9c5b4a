"""``consentry notice --lang fi|en [--record | --dpia [--json]] [--format …] [--output FILE]``.

Prints the register's privacy notice (or, with ``--record``, the Article 30
record of processing) generated from the settings and the code, naming the
active processors of the processors register (service.processors). When the
database cannot be read (not migrated yet, say), the texts are made without
the register and a warning says so. ``--dpia`` prints a DPIA screening
(service.notice.dpia) from the database's counts and the settings; it needs
the database. Exit status 0 on success, 1 when the document cannot be made
or written, 2 on bad arguments or settings.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from service.models import Processor
from service.notice import dpia
from service.notice.content import LANGUAGES, placeholders
from service.notice.render import Document, Format, render
from service.notice.texts import NoticeIncomplete
from service.processors import service as processors
from service.settings import Settings

EXIT_FAILED = 1
EXIT_USAGE = 2
T = TypeVar("T")
RunDb = Callable[[Settings, Callable[[Any], Coroutine[Any, Any, T]]], T]


def add_commands(subparsers: Any, run_db: RunDb[Any]) -> None:
    """Register ``notice`` on the ``consentry`` command's subparsers."""
    notice = subparsers.add_parser(
        "notice",
        help="print the privacy notice (or the Article 30 record) generated from the settings",
    )
    notice.add_argument(
        "--lang", choices=LANGUAGES, default="fi", help="the language (default: fi)"
    )
    notice.add_argument(
        "--record",
        action="store_true",
        help="the record of processing activities (GDPR Article 30) instead of the notice",
    )
    notice.add_argument(
        "--dpia",
        action="store_true",
        help="a DPIA screening (GDPR 35, WP248 criteria) from the features in use",
    )
    notice.add_argument("--json", action="store_true", help="with --dpia: the screening as JSON")
    notice.add_argument(
        "--format",
        choices=[fmt.value for fmt in Format],
        default=Format.MARKDOWN.value,
        help="markdown (default) or a standalone html page",
    )
    notice.add_argument(
        "--output", type=Path, metavar="FILE", help="write to FILE instead of standard output"
    )

    def handler(settings: Settings, args: argparse.Namespace) -> None:
        cmd_notice(settings, args, run_db)

    notice.set_defaults(handler=handler)


def _fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    print(f"consentry: {message}", file=sys.stderr)
    raise SystemExit(code)


def write_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all: a failed write leaves
    any earlier file as it was."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def read_processors(settings: Settings, run_db: RunDb[Any]) -> list[Processor] | None:
    """The active processors, or None (with a warning) when the register cannot be read."""

    async def work(session: Any) -> list[Processor]:
        return list(await processors.list_(session, active_only=True))

    try:
        found: list[Processor] = run_db(settings, work)
        return found
    # Whatever stops the read (no tables yet, no server), the notice can still
    # be made: without the register, and saying so.
    except Exception as exc:
        # The first line only: the query reads no personal data, but a driver's
        # message can run long.
        reason = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        print(
            f"consentry: warning: the processors register could not be read ({reason}); "
            "the text names no processors",
            file=sys.stderr,
        )
        return None


def _screening(settings: Settings, args: argparse.Namespace, run_db: RunDb[Any]) -> str:
    async def work(session: Any) -> dpia.Evidence:
        return await dpia.gather(session, settings)

    screening = dpia.screen(run_db(settings, work), lang=args.lang)
    if args.json:
        return json.dumps(dpia.to_json(screening), indent=2, ensure_ascii=False) + "\n"
    return dpia.to_markdown(screening)


def cmd_notice(settings: Settings, args: argparse.Namespace, run_db: RunDb[Any]) -> None:
    if args.record and args.dpia:
        _fail("--record and --dpia: choose one", EXIT_USAGE)
    if args.json and not args.dpia:
        _fail("--json goes with --dpia", EXIT_USAGE)
    if args.dpia:
        text = _screening(settings, args, run_db)
        what = "DPIA screening"
    else:
        document = Document.RECORD if args.record else Document.NOTICE
        registered = read_processors(settings, run_db)
        try:
            text = render(
                settings,
                lang=args.lang,
                document=document,
                fmt=Format(args.format),
                processors=registered,
            )
        except NoticeIncomplete as exc:
            _fail(str(exc))
        for name in placeholders(settings):
            warning = f"consentry: warning: {name} is not set; the text shows a placeholder"
            print(warning, file=sys.stderr)
        what = "record of processing" if args.record else "privacy notice"
    if args.output is None:
        sys.stdout.write(text)
        return
    try:
        write_file(args.output, text)
    except OSError as exc:
        _fail(f"--output: cannot write {args.output}: {exc.strerror or exc}")
    print(f"consentry: wrote the {what} ({args.lang}, {args.format}) to {args.output}")
