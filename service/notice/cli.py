"""``consentry notice --lang fi|en [--record] [--format markdown|html] [--output FILE]``.

Prints the register's privacy notice (or, with ``--record``, the Article 30
record of processing) generated from the settings and the code. Needs no
database. Exit status 0 on success, 1 when the notice cannot be made or
written, 2 on bad arguments or settings.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path
from typing import Any, NoReturn

from service.notice.content import LANGUAGES, placeholders
from service.notice.render import Document, Format, render
from service.notice.texts import NoticeIncomplete
from service.settings import Settings

EXIT_FAILED = 1


def add_commands(subparsers: Any) -> None:
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
        "--format",
        choices=[fmt.value for fmt in Format],
        default=Format.MARKDOWN.value,
        help="markdown (default) or a standalone html page",
    )
    notice.add_argument(
        "--output", type=Path, metavar="FILE", help="write to FILE instead of standard output"
    )
    notice.set_defaults(handler=cmd_notice)


def _fail(message: str) -> NoReturn:
    print(f"consentry: {message}", file=sys.stderr)
    raise SystemExit(EXIT_FAILED)


def write_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all: a failed write leaves
    any earlier file as it was."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def cmd_notice(settings: Settings, args: argparse.Namespace) -> None:
    document = Document.RECORD if args.record else Document.NOTICE
    try:
        text = render(settings, lang=args.lang, document=document, fmt=Format(args.format))
    except NoticeIncomplete as exc:
        _fail(str(exc))
    for name in placeholders(settings):
        warning = f"consentry: warning: {name} is not set; the text shows a placeholder"
        print(warning, file=sys.stderr)
    if args.output is None:
        sys.stdout.write(text)
        return
    try:
        write_file(args.output, text)
    except OSError as exc:
        _fail(f"--output: cannot write {args.output}: {exc.strerror or exc}")
    what = "record of processing" if args.record else "privacy notice"
    print(f"consentry: wrote the {what} ({args.lang}, {args.format}) to {args.output}")
