"""``consentry export contacts FILE.csv [--q TEXT] [--email E] [--tag T] [--language L]``.

The same file as ``GET /api/v1/contacts/export.csv``, written page by page.
The file is created readable by its owner only and never overwrites one
that exists; ``-`` writes to stdout. Each export is recorded in the audit
trail (actor ``system``, method ``CLI``) once the file is complete.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Coroutine
from functools import partial
from pathlib import Path
from typing import Any, NoReturn, TextIO, TypeVar

from service.audit.chain import Event, append
from service.db import create_sessionmaker
from service.exports import service
from service.exports.service import ContactFilter
from service.models.audit import AuditActor
from service.models.enums import Language
from service.settings import Settings
from service.validation import InvalidValue, normalize_email

T = TypeVar("T")
RunDb = Callable[[Settings, Callable[[Any], Coroutine[Any, Any, T]]], T]
EXIT_USAGE = 2
ROUTE = "consentry export contacts"


def add_commands(subparsers: Any, run_db: RunDb[Any]) -> None:
    """Register ``export contacts`` on the ``consentry`` command's subparsers."""
    actions = subparsers.add_parser("export", help="export data to files").add_subparsers(
        dest="export_command", required=True, metavar="WHAT"
    )
    contacts = actions.add_parser(
        "contacts",
        help="contacts as CSV: names, channels, tags and consent states; never identity "
        "codes (see docs/exports.md)",
    )
    contacts.add_argument("file", metavar="FILE.csv", help="the file to create, or - for stdout")
    contacts.add_argument("--q", default=None, help="a fragment of name, email or customer number")
    contacts.add_argument("--email", default=None, help="an exact email address")
    contacts.add_argument("--tag", default=None, help="contacts with this tag")
    contacts.add_argument(
        "--language", default=None, choices=[language.value for language in Language]
    )
    contacts.set_defaults(handler=partial(cmd_export_contacts, run_db=run_db))


def _fail(message: str) -> NoReturn:
    print(f"consentry: {message}", file=sys.stderr)
    raise SystemExit(EXIT_USAGE)


def _open(target: str) -> TextIO:
    if target == "-":
        return sys.stdout
    try:
        # O_EXCL: never over an existing file; 0600: it holds personal data.
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        _fail(f"{target}: the file exists; choose a new name")
    except OSError as exc:
        _fail(f"{target}: cannot create the file ({exc.strerror or type(exc).__name__})")
    return os.fdopen(fd, "w", encoding="utf-8", newline="")


def _filters(args: argparse.Namespace) -> ContactFilter:
    email = args.email
    if email is not None:
        try:
            email = normalize_email(email)
        except InvalidValue as exc:
            _fail(f"--email: {exc}")
    language = Language(args.language) if args.language else None
    return ContactFilter(q=args.q, email=email, tag=args.tag, language=language)


def cmd_export_contacts(
    settings: Settings, args: argparse.Namespace, *, run_db: RunDb[Any]
) -> None:
    filters = _filters(args)
    handle = _open(args.file)

    async def work(session: Any) -> int:
        total = await service.count(session, filters=filters)
        async for chunk in service.csv_chunks(create_sessionmaker(session.bind), filters=filters):
            handle.write(chunk)
        handle.flush()
        details: dict[str, Any] = {"filters": filters.names(), "contacts": total}
        if filters.language is not None:
            details["language"] = filters.language.value
        await append(
            session,
            Event(
                actor=AuditActor.SYSTEM,
                action="contact.export",
                method="CLI",
                route=ROUTE,
                status_code=200,
                details=details,
            ),
        )
        return total

    try:
        total = run_db(settings, work)
    except BaseException:
        if handle is not sys.stdout:
            handle.close()
            Path(args.file).unlink(missing_ok=True)  # a partial export is not left behind
        raise
    if handle is not sys.stdout:
        handle.close()
        print(f"consentry: {total:,} contacts written to {args.file}", file=sys.stderr)
