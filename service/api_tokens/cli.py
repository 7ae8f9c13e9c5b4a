"""``consentry token issue|list|revoke``: API tokens from the command line.

``issue`` prints only the token on stdout, so ``TOKEN=$(consentry token issue …)``
works; ``list`` never shows a token or its hash (they cannot be recovered).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any, TypeVar

from service import clock
from service.auth import service as auth_service
from service.auth.schemas import MAX_EXPIRES_IN_DAYS
from service.auth.service import TokenListing
from service.models.enums import Role
from service.settings import Settings

T = TypeVar("T")
RunDb = Callable[[Settings, Callable[[Any], Coroutine[Any, Any, T]]], T]
_COLUMNS = ("id", "name", "user", "scope", "created", "expires", "last_used", "revoked")


def _days(value: str) -> int:
    try:
        days = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a whole number of days") from None
    if not 1 <= days <= MAX_EXPIRES_IN_DAYS:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_EXPIRES_IN_DAYS}")
    return days


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError("must be a token id (a positive number)")
    return int(value)


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.isoformat(timespec="seconds")


def _line(listing: TokenListing) -> str:
    token = listing.token
    fields = (
        str(token.id),
        token.name,
        listing.user_email,
        token.scope or "-",
        _when(token.created_at),
        _when(token.expires_at),
        _when(token.last_used_at),
        _when(token.revoked_at),
    )
    return "\t".join(fields)


def add_commands(subparsers: Any, run_db: RunDb[Any]) -> None:
    """Register ``token issue|list|revoke``; ``run_db`` runs work in one transaction."""
    token = subparsers.add_parser("token", help="API tokens").add_subparsers(
        dest="token_command", required=True, metavar="ACTION"
    )

    issue = token.add_parser("issue", help="print a new API bearer token for a user")
    issue.add_argument("email")
    issue.add_argument("--name", default="cli", help="a label to tell tokens apart")
    issue.add_argument(
        "--scope",
        choices=[role.value for role in Role],
        default=None,
        help="narrow the token to this role's permissions (at most the user's own)",
    )
    issue.add_argument("--expires-in-days", type=_days, default=None, metavar="DAYS")

    def cmd_issue(settings: Settings, args: argparse.Namespace) -> None:
        expires_at = (
            clock.now() + timedelta(days=args.expires_in_days) if args.expires_in_days else None
        )
        scope = Role(args.scope) if args.scope else None

        async def work(session: Any) -> str:
            user = await auth_service.get_user_by_email(session, args.email)
            return await auth_service.issue_token(
                session, user=user, name=args.name, expires_at=expires_at, scope=scope
            )

        print(run_db(settings, work))

    issue.set_defaults(handler=cmd_issue)

    listing = token.add_parser("list", help="list tokens (never the tokens themselves)")
    listing.add_argument("--email", default=None, help="only this user's tokens")

    def cmd_list(settings: Settings, args: argparse.Namespace) -> None:
        async def work(session: Any) -> list[TokenListing]:
            user_id = None
            if args.email is not None:
                user_id = (await auth_service.get_user_by_email(session, args.email)).id
            return await auth_service.list_tokens(session, user_id=user_id)

        rows = run_db(settings, work)
        print("\t".join(_COLUMNS))
        for row in rows:
            print(_line(row))

    listing.set_defaults(handler=cmd_list)

    revoke = token.add_parser("revoke", help="revoke a token for good")
    revoke.add_argument("id", type=_positive, metavar="ID")

    def cmd_revoke(settings: Settings, args: argparse.Namespace) -> None:
        async def work(session: Any) -> None:
            # From the console: no staff user to name as the one who revoked it.
            await auth_service.revoke_token(session, token_id=args.id, by_user_id=None)

        run_db(settings, work)
        print(f"consentry: token {args.id} revoked")

    revoke.set_defaults(handler=cmd_revoke)
