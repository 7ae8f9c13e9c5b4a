"""``consentry migrate``, ``retention plan|run`` and ``audit verify``: the
schema, the retention rules and the audit trail, from the command line.
"""

from __future__ import annotations

import argparse
from typing import Any

from service.cli.common import EXIT_USAGE, CommandError, fail, run_db
from service.db import create_sessionmaker
from service.settings import Settings


def cmd_migrate(settings: Settings, _: argparse.Namespace) -> None:
    from service.migrate import upgrade

    upgrade(settings.database_url)
    print("consentry: database is at the newest revision")


def cmd_retention_plan(settings: Settings, args: argparse.Namespace) -> None:
    from service.retention import cli as retention_cli
    from service.retention.plan import plan

    try:
        as_of = retention_cli.parse_as_of(args.as_of)
    except ValueError as exc:
        fail(f"--as-of: {exc}", EXIT_USAGE)

    async def work(session: Any) -> Any:
        return await plan(session, as_of=as_of, settings=settings)

    result = run_db(settings, work)
    print(result.model_dump_json(indent=2) if args.json else retention_cli.plan_table(result))


def cmd_retention_run(settings: Settings, args: argparse.Namespace) -> None:
    from service.retention import cli as retention_cli

    async def work(session: Any) -> Any:
        # Each item needs a transaction of its own: a sessionmaker on the
        # engine of this (otherwise unused) session.
        return await retention_cli.run_today(create_sessionmaker(session.bind), settings)

    report = run_db(settings, work)
    print(report.model_dump_json(indent=2) if args.json else retention_cli.run_table(report))
    if report.failed:
        raise CommandError(
            f"{report.failed} retention action(s) failed; the next run tries them again"
        )


def cmd_audit_verify(settings: Settings, args: argparse.Namespace) -> None:
    from service.audit.verify import verify

    async def work(session: Any) -> Any:
        return await verify(session, anchor=args.anchor)

    result = run_db(settings, work)
    if not result.intact:
        raise CommandError(f"audit trail broken at event #{result.broken_id}: {result.problem}")
    print(f"audit trail intact: {result.events} events")
    if result.cut is not None:
        cut = result.cut
        print(
            f"retention cut: events up to #{cut.removed_through_id} ({cut.removed_count} in the "
            f"last cut) removed on {cut.cut_at:%Y-%m-%d} after {cut.retention_days} days; "
            f"the kept events verified from its anchor {cut.anchor_hash}"
        )
    if result.newest_id is not None:
        # Noted down elsewhere, it lets a later run (--anchor) tell a cut-off tail.
        print(f"newest: {result.newest_id}:{result.newest_hash}")
