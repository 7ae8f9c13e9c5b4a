"""The ``consentry`` command (CONTRACT.md, "Command line").

Every command validates its input and the settings first; a problem prints one
line, ``consentry: …``, and exits non-zero, never a traceback.

The whole command tree is built here (:func:`build_parser`). The commands
live beside it: ``users`` (user), ``run``, ``servers`` (worker, api, inbound)
and ``maintenance`` (migrate, retention, audit); the rest in their domains'
``cli`` modules (token, backup, import, export, status, notice).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy.engine import make_url

from service import i18n, private
from service.api_tokens import cli as token_commands
from service.backup import cli as backup_commands
from service.breaches import cli as breach_commands
from service.cli import dkim as dkim_commands
from service.cli.common import EXIT_FAILED, EXIT_USAGE, CommandError, fail, run_db
from service.cli.maintenance import (
    cmd_audit_verify,
    cmd_migrate,
    cmd_retention_plan,
    cmd_retention_run,
)
from service.cli.run import UVICORN_STARTUP_FAILURE, cmd_run
from service.cli.servers import (
    REDIS_RETRY_FIRST_SECONDS,
    REDIS_RETRY_MAX_SECONDS,
    cmd_api,
    cmd_inbound,
    cmd_worker,
)
from service.cli.users import (
    cmd_user_add,
    cmd_user_disable,
    cmd_user_enable,
    cmd_user_invite,
    cmd_user_list,
    cmd_user_reset_password,
    cmd_user_reset_second_factor,
    cmd_user_set_role,
    cmd_user_unlock,
)
from service.embedded import EmbeddedServiceError
from service.errors import DomainError
from service.exports import cli as export_commands
from service.imports import cli as import_commands
from service.models.enums import Role
from service.notice import cli as notice_commands
from service.observability import cli as status_commands
from service.processors import cli as processor_commands
from service.robinson import cli as robinson_commands
from service.settings import Settings, SettingsError, get_settings

__all__ = [
    "EXIT_FAILED",
    "EXIT_USAGE",
    "REDIS_RETRY_FIRST_SECONDS",
    "REDIS_RETRY_MAX_SECONDS",
    "UVICORN_STARTUP_FAILURE",
    "CommandError",
    "build_parser",
    "cmd_api",
    "cmd_audit_verify",
    "cmd_inbound",
    "cmd_migrate",
    "cmd_retention_plan",
    "cmd_retention_run",
    "cmd_run",
    "cmd_user_add",
    "cmd_user_disable",
    "cmd_user_enable",
    "cmd_user_invite",
    "cmd_user_list",
    "cmd_user_reset_password",
    "cmd_user_reset_second_factor",
    "cmd_user_set_role",
    "cmd_user_unlock",
    "cmd_worker",
    "main",
]


def _anchor(value: str) -> tuple[int, str]:
    number, _, digest = value.partition(":")
    if (
        not number.isdigit()
        or len(digest) != 64
        or not all(c in "0123456789abcdef" for c in digest)
    ):
        raise argparse.ArgumentTypeError("expected ID:SHA256, as `audit verify` prints it")
    return int(number), digest


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="consentry", description="Consentry: a consent-gated marketing register."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="migrate, then run the API, a worker and local services")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8000)
    run.set_defaults(handler=cmd_run)

    commands.add_parser("migrate", help="apply database migrations").set_defaults(
        handler=cmd_migrate
    )
    commands.add_parser("worker", help="run queue workers only").set_defaults(handler=cmd_worker)
    api = commands.add_parser(
        "api", help="serve the API only, in one or more processes (no embedded services)"
    )
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int, default=8000)
    api.add_argument("--workers", type=int, default=1, help="API processes (default 1)")
    api.add_argument(
        "--forwarded-allow-ips",
        default=None,
        metavar="IPS",
        help="proxies whose X-Forwarded-For is trusted (default: uvicorn's, 127.0.0.1)",
    )
    api.set_defaults(handler=cmd_api)
    commands.add_parser(
        "inbound", help="receive mailto unsubscribes and delivery reports by SMTP"
    ).set_defaults(handler=cmd_inbound)

    user = commands.add_parser("user", help="staff users").add_subparsers(
        dest="user_command", required=True, metavar="ACTION"
    )
    add = user.add_parser("add", help="add a staff user (password from stdin or a prompt)")
    add.add_argument("email")
    add.add_argument("--role", required=True, choices=[role.value for role in Role])
    add.add_argument(
        "--language",
        choices=list(i18n.LANGUAGES),
        default=i18n.DEFAULT,
        help="the language of the user's staff pages (default: %(default)s; they may change it)",
    )
    add.set_defaults(handler=cmd_user_add)
    reset = user.add_parser(
        "reset-second-factor",
        help="remove a user's second factor (lost phone); the next sign-in enrols a new one",
    )
    reset.add_argument("email")
    reset.set_defaults(handler=cmd_user_reset_second_factor)
    unlock = user.add_parser(
        "unlock", help="forget a user's failed sign-ins so a locked account may sign in again"
    )
    unlock.add_argument("email")
    unlock.set_defaults(handler=cmd_user_unlock)
    roles = [role.value for role in Role]
    listing = user.add_parser(
        "list", help="every staff user: email, role, state, last sign-in, second factor"
    )
    listing.add_argument("--json", action="store_true", help="print the list as JSON")
    listing.set_defaults(handler=cmd_user_list)
    invite = user.add_parser(
        "invite", help="add a staff user without a password and mail a one-time set-password link"
    )
    invite.add_argument("email")
    invite.add_argument("--role", required=True, choices=roles)
    invite.set_defaults(handler=cmd_user_invite)
    disable = user.add_parser(
        "disable", help="disable a user: its sessions end and its API tokens are revoked at once"
    )
    disable.add_argument("email")
    disable.set_defaults(handler=cmd_user_disable)
    enable = user.add_parser(
        "enable", help="let a disabled user sign in again (old sessions and tokens stay ended)"
    )
    enable.add_argument("email")
    enable.set_defaults(handler=cmd_user_enable)
    set_role = user.add_parser("set-role", help="change a user's role; it takes effect at once")
    set_role.add_argument("email")
    set_role.add_argument("role", choices=roles)
    set_role.set_defaults(handler=cmd_user_set_role)
    reset_password = user.add_parser(
        "reset-password",
        help="clear a user's password and second factor, end its sessions and tokens, "
        "and mail a one-time set-password link",
    )
    reset_password.add_argument("email")
    reset_password.set_defaults(handler=cmd_user_reset_password)

    retention = commands.add_parser(
        "retention", help="the privacy notice's retention rules"
    ).add_subparsers(dest="retention_command", required=True, metavar="ACTION")
    retention_plan = retention.add_parser(
        "plan", help="list every action the retention rules call for on a date; changes nothing"
    )
    retention_plan.add_argument(
        "--as-of", default=None, metavar="YYYY-MM-DD", help="the date (default: today)"
    )
    retention_plan.add_argument("--json", action="store_true", help="print the plan as JSON")
    retention_plan.set_defaults(handler=cmd_retention_plan)
    retention_run = retention.add_parser("run", help="carry out today's retention plan")
    retention_run.add_argument("--json", action="store_true", help="print the report as JSON")
    retention_run.set_defaults(handler=cmd_retention_run)

    audit = commands.add_parser("audit", help="the audit trail").add_subparsers(
        dest="audit_command", required=True, metavar="ACTION"
    )
    audit_verify = audit.add_parser(
        "verify",
        help="walk the audit trail's hash chain; exit 1 at the first changed or lost event",
    )
    audit_verify.add_argument(
        "--anchor",
        type=_anchor,
        default=None,
        metavar="ID:SHA256",
        help="an event noted from an earlier run: fail unless it is still there, unchanged",
    )
    audit_verify.set_defaults(handler=cmd_audit_verify)

    token_commands.add_commands(commands, run_db)
    backup_commands.add_commands(commands)
    import_actions = import_commands.add_commands(commands)
    robinson_commands.add_commands(import_actions, run_db)
    export_commands.add_commands(commands, run_db)
    status_commands.add_commands(commands, run_db)
    notice_commands.add_commands(commands, run_db)
    breach_commands.add_commands(commands, run_db)
    processor_commands.add_commands(commands, run_db)
    dkim_commands.add_commands(commands)
    return parser


def _make_private(settings: Settings) -> None:
    """What an older version (or another umask) left readable to others is
    made private now, with one line saying what."""
    database = make_url(settings.database_url)
    sqlite_file = (
        Path(database.database)
        if database.get_backend_name() == "sqlite" and database.database not in (None, ":memory:")
        else None
    )
    others = [settings.backup_dir, settings.profile_transfer_dir]
    try:
        changed = private.tighten(private.installation_paths(settings.var_dir, sqlite_file, others))
    except OSError as exc:  # not our file, say: the command itself will tell
        print(f"consentry: cannot make {exc.filename} private: {exc.strerror}", file=sys.stderr)
        return
    line = private.tighten_line(changed)
    if line is not None:
        print(f"consentry: {line}", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    # Whatever this process and its children create without a mode of its
    # own (SQLite's WAL and shared-memory files, Redis's dump) is private.
    private.restrict_umask()
    args = build_parser().parse_args(argv)
    if getattr(args, "port", 1) not in range(1, 65536):
        fail("--port: must be a port number from 1 to 65535", EXIT_USAGE)
    if getattr(args, "expires_in_days", None) is not None and args.expires_in_days < 1:
        fail("--expires-in-days: must be at least 1", EXIT_USAGE)
    try:
        settings = get_settings()
    except SettingsError as exc:
        fail(str(exc), EXIT_USAGE)
    _make_private(settings)
    try:
        args.handler(settings, args)
    except (CommandError, DomainError, EmbeddedServiceError) as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        raise SystemExit(130) from None
