"""``consentry export contacts FILE [--format csv|json] [--q TEXT] [--email E]
[--tag T] [--language L] [--include-refused]``.

The same file as ``GET /api/v1/contacts/export.csv`` (or ``.json``), written
page by page. The file is created readable by its owner only and never
overwrites one that exists; ``-`` writes to stdout. People who refused
direct marketing are left out unless ``--include-refused`` is given (whoever
runs the command on the server holds every permission; the audit row says
which it was). The report on stderr says how many contacts were written and
how many were left out and why. Each export is recorded in the audit trail
(actor ``system``, method ``CLI``) once the file is complete, with the same
counts.
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
from service.exports.service import ContactFilter, Scope
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
        help="contacts as CSV or JSON: names, channels, tags, consent states and the gate's "
        "answer per channel; never identity codes (see docs/exports.md)",
    )
    contacts.add_argument("file", metavar="FILE", help="the file to create, or - for stdout")
    contacts.add_argument(
        "--format", default="csv", choices=["csv", "json"], help="csv (default) or json"
    )
    contacts.add_argument(
        "--include-refused",
        action="store_true",
        help="keep people under a ban on every channel, an objection or a suppression of "
        "their own (a privacy officer's export; recorded in the audit trail)",
    )
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


def _report(summary: dict[str, Any], target: str) -> str:
    reasons = summary["left_out_by_reason"]
    why = f" ({', '.join(f'{k}: {v}' for k, v in reasons.items())})" if reasons else ""
    report = f"{summary['contacts']:,} contacts written to {target}; "
    report += f"{summary['left_out']:,} left out{why}"
    if summary["refused_included"]:
        report += f"; {summary['refused_included']:,} who refused direct marketing included"
    return report


def cmd_export_contacts(
    settings: Settings, args: argparse.Namespace, *, run_db: RunDb[Any]
) -> None:
    filters = _filters(args)
    scope = Scope(filters, include_refused=args.include_refused)
    handle = _open(args.file)

    async def work(session: Any) -> dict[str, Any]:
        summary = await service.summary(session, scope=scope)
        sessionmaker = create_sessionmaker(session.bind)
        if args.format == "json":
            chunks = service.json_chunks(sessionmaker, scope=scope, summary=summary)
        else:
            chunks = service.csv_chunks(sessionmaker, scope=scope)
        async for chunk in chunks:
            handle.write(chunk)
        handle.flush()
        details: dict[str, Any] = {
            "filters": filters.names(),
            "format": args.format,
            **service.audit_counts(summary),
        }
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
        return summary

    try:
        summary = run_db(settings, work)
    except BaseException:
        if handle is not sys.stdout:
            handle.close()
            Path(args.file).unlink(missing_ok=True)  # a partial export is not left behind
        raise
    if handle is not sys.stdout:
        handle.close()
    print(f"consentry: {_report(summary, args.file)}", file=sys.stderr)
