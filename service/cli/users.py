"""``consentry user …``: staff users: add, invite, list, disable, enable,
set-role, reset-password, reset-second-factor, unlock."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from datetime import datetime
from typing import Any

from service import clock, running
from service.audit.chain import Event, append
from service.auth import login, staff
from service.auth import service as auth_service
from service.cli.common import CommandError, run_db
from service.delivery import staff_mail
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


# -- staff administration (service.auth.staff) -------------------------------------------


def _when(moment: datetime | None) -> str:
    return moment.astimezone(clock.LOCAL_ZONE).strftime("%Y-%m-%d %H:%M") if moment else "never"


def cmd_user_list(settings: Settings, args: argparse.Namespace) -> None:
    async def work(session: Any) -> list[staff.StaffMember]:
        return await staff.list_staff(session)

    members = run_db(settings, work)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "id": member.id,
                        "email": member.email,
                        "role": member.role.value,
                        "state": member.state.value,
                        "last_sign_in_at": _iso(member.last_sign_in_at),
                        "second_factor": member.second_factor,
                        "password_set": member.password_set,
                        "created_at": _iso(member.created_at),
                    }
                    for member in members
                ],
                indent=2,
            )
        )
        return
    if not members:
        print("consentry: no staff users yet; add one with `consentry user add`")
        return
    width = max(len(member.email) for member in members)
    print(f"{'EMAIL':<{width}}  {'ROLE':<15}  {'STATE':<8}  {'LAST SIGN-IN':<16}  2FA")
    for member in members:
        print(
            f"{member.email:<{width}}  {member.role.value:<15}  {member.state.value:<8}  "
            f"{_when(member.last_sign_in_at):<16}  {'yes' if member.second_factor else 'no'}"
        )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


async def _user_id(session: Any, email: str) -> int:
    user = await auth_service.get_user_by_email(session, email)
    assert user.id is not None
    return user.id


def _user_id_of(settings: Settings, email: str) -> int:
    """Found in a transaction of its own, so the change's transaction takes
    its lock before it reads anything (service.auth.staff)."""

    async def work(session: Any) -> int:
        return await _user_id(session, email)

    return run_db(settings, work)


def cmd_user_disable(settings: Settings, args: argparse.Namespace) -> None:
    user_id = _user_id_of(settings, args.email)

    async def work(session: Any) -> staff.Ended:
        ended = await staff.disable(session, user_id=user_id, by_user_id=None)
        if ended.changed:
            await append(
                session,
                _cli_event(
                    "user.disable", args, user_id=user_id, tokens_revoked=ended.tokens_revoked
                ),
            )
        return ended

    ended = run_db(settings, work)
    if not ended.changed:
        print(f"consentry: {args.email} was already disabled")
        return
    print(
        f"consentry: {args.email} disabled; its sessions ended and "
        f"{ended.tokens_revoked} API token(s) revoked"
    )


def cmd_user_enable(settings: Settings, args: argparse.Namespace) -> None:
    user_id = _user_id_of(settings, args.email)

    async def work(session: Any) -> bool:
        _, changed = await staff.enable(session, user_id=user_id)
        if changed:
            await append(session, _cli_event("user.enable", args, user_id=user_id))
        return changed

    if not run_db(settings, work):
        print(f"consentry: {args.email} was not disabled")
        return
    print(
        f"consentry: {args.email} may sign in again; its old sessions and API tokens stay "
        "ended (issue new tokens with `consentry token issue`)"
    )


def cmd_user_set_role(settings: Settings, args: argparse.Namespace) -> None:
    user_id = _user_id_of(settings, args.email)

    async def work(session: Any) -> tuple[Role, Role]:
        _, before, after = await staff.set_role(session, user_id=user_id, role=args.role)
        await append(
            session,
            _cli_event(
                "user.set_role",
                args,
                user_id=user_id,
                role_before=before.value,
                role_after=after.value,
            ),
        )
        return before, after

    before, after = run_db(settings, work)
    print(f"consentry: {args.email} is now {after} (was {before}); it takes effect at once")


def _hand_over(settings: Settings, *, email: str, link: staff.Link, language: str) -> None:
    """Mail the link; print it when it could not be mailed."""
    url = link.url(_sign_in_base(settings))
    mailed = asyncio.run(
        staff_mail.mail_link(
            to=email, url=url, purpose=link.row.purpose, language=language, settings=settings
        )
    )
    hours = int(staff.LIFETIMES[link.row.purpose].total_seconds() // 3600)
    if mailed:
        print(f"  the set-password link was mailed to {email}; it works once, for {hours} hours")
        return
    print(
        f"  the link could not be mailed (no relay, or it refused); give it to {email} "
        f"yourself. It works once, for {hours} hours:"
    )
    print(f"  {url}")


def cmd_user_invite(settings: Settings, args: argparse.Namespace) -> None:
    async def work(session: Any) -> tuple[str, staff.Link, str]:
        user, link = await staff.invite(session, email=args.email, role=args.role, by_user_id=None)
        await append(
            session, _cli_event("user.invite", args, user_id=user.id, role_after=user.role.value)
        )
        return user.email, link, user.language

    email, link, language = run_db(settings, work)
    print(f"consentry: {email} invited with role {args.role}")
    _hand_over(settings, email=email, link=link, language=language)


def cmd_user_reset_password(settings: Settings, args: argparse.Namespace) -> None:
    user_id = _user_id_of(settings, args.email)

    async def work(session: Any) -> tuple[str, staff.Link, str, int]:
        ended, link = await staff.reset_password(session, user_id=user_id, by_user_id=None)
        await append(
            session,
            _cli_event(
                "user.reset_password",
                args,
                user_id=user_id,
                tokens_revoked=ended.tokens_revoked,
            ),
        )
        return ended.user.email, link, ended.user.language, ended.tokens_revoked

    email, link, language, revoked = run_db(settings, work)
    print(
        f"consentry: the password and second factor of {email} are cleared, its sessions "
        f"ended and {revoked} API token(s) revoked"
    )
    _hand_over(settings, email=email, link=link, language=language)
