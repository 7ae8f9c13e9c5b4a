"""``consentry user add|reset-second-factor|unlock``: staff users."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import Any

from service import running
from service.audit.chain import Event, append
from service.auth import login
from service.auth import service as auth_service
from service.cli.common import CommandError, run_db
from service.models import User
from service.models.audit import AuditActor
from service.models.enums import Role
from service.settings import Settings


def _read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat it: ") != first:
        raise CommandError("the passwords differ")
    return first


def cmd_user_add(settings: Settings, args: argparse.Namespace) -> None:
    password = _read_password()

    async def work(session: Any) -> User:
        return await auth_service.create_user(
            session,
            email=args.email,
            role=Role(args.role),
            password=password,
            language=args.language,
        )

    user = run_db(settings, work)
    print(f"consentry: user {user.email} added with role {user.role}")
    print(
        f"  sign in at {_sign_in_base(settings)}/app/login; "
        "the first sign-in sets up the second factor"
    )


def _sign_in_base(settings: Settings) -> str:
    """The configured public URL; without one, that of the `consentry run`
    (or `api`) running on this var dir, whose --port may not be the default."""
    if os.environ.get("CONSENTRY_PUBLIC_URL", "").strip():
        return settings.public_url
    return running.public_url_of_running_api(settings.var_dir) or settings.public_url


def _cli_event(action: str, args: argparse.Namespace, **details: Any) -> Event:
    """An audit row for a command run on the server (its operator has no staff id)."""
    command = f"consentry {args.command} {getattr(args, 'user_command', '')}".strip()
    return Event(
        actor=AuditActor.SYSTEM,
        action=action,
        method="CLI",
        route=command,
        status_code=200,
        details=details,
    )


def cmd_user_reset_second_factor(settings: Settings, args: argparse.Namespace) -> None:
    async def work(session: Any) -> None:
        user = await auth_service.get_user_by_email(session, args.email)
        await login.reset_second_factor(session, user=user)
        await append(session, _cli_event("user.second_factor_reset", args, user_id=user.id))

    run_db(settings, work)
    print(
        f"consentry: second factor of {args.email} removed and its sessions ended; "
        "the next sign-in sets up a new one"
    )


def cmd_user_unlock(settings: Settings, args: argparse.Namespace) -> None:
    async def work(session: Any) -> None:
        user = await auth_service.get_user_by_email(session, args.email)
        await login.unlock(session, user=user)
        await append(session, _cli_event("user.unlock", args, user_id=user.id))

    run_db(settings, work)
    print(f"consentry: failed sign-ins of {args.email} forgotten; it may sign in again")
