"""``consentry processors list|add|end``: the processors register from the command line.

``add`` derives ``outside_eea`` from ``--country`` and refuses a processor
outside the EU/EEA without ``--safeguard``; ``end`` records the day the
processing ended (the processor stays in the register, and leaves the
Art. 30 record and the notice). Each change is recorded in the audit trail.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Coroutine
from datetime import date
from typing import Any, TypeVar

from pydantic import ValidationError

from service import clock
from service.audit.chain import Event, append
from service.errors import InvalidInput
from service.models.audit import AuditActor
from service.processors import service
from service.processors.schemas import ProcessorCreate, ProcessorRead
from service.settings import Settings

T = TypeVar("T")
RunDb = Callable[[Settings, Callable[[Any], Coroutine[Any, Any, T]]], T]
_COLUMNS = ("id", "name", "service", "country", "outside_eea", "safeguard", "contract", "ended")


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise argparse.ArgumentTypeError("expected a date, YYYY-MM-DD") from None


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError("must be a processor id (a positive number)")
    return int(value)


def _event(action: str, route: str, processor_id: int | None) -> Event:
    return Event(
        actor=AuditActor.SYSTEM,
        action=action,
        method="CLI",
        route=route,
        status_code=200,
        details={"processor_id": processor_id},
    )


def _refused(error: InvalidInput) -> InvalidInput:
    problems = "; ".join(f"{name}: {text}" for name, text in error.fields.items())
    return InvalidInput(f"{error.detail}: {problems}" if problems else error.detail)


def _line(item: ProcessorRead) -> str:
    return "\t".join(
        (
            str(item.id),
            item.name,
            " ".join(item.service.split()),
            item.country,
            "yes" if item.outside_eea else "no",
            " ".join((item.safeguard or "-").split()),
            item.contract_date.isoformat() if item.contract_date else "-",
            item.ended_on.isoformat() if item.ended_on else "-",
        )
    )


def add_commands(subparsers: Any, run_db: RunDb[Any]) -> None:
    """Register ``processors list|add|end``."""
    processors = subparsers.add_parser(
        "processors", help="the processors register (GDPR 28, 30): who handles the data, where"
    ).add_subparsers(dest="processors_command", required=True, metavar="ACTION")

    listing = processors.add_parser("list", help="list processors by name")
    listing.add_argument("--active", action="store_true", help="only those not ended")
    listing.add_argument("--json", action="store_true", help="print the list as JSON")

    def cmd_list(settings: Settings, args: argparse.Namespace) -> None:
        async def work(session: Any) -> list[ProcessorRead]:
            rows = await service.list_(session, active_only=args.active)
            return [service.to_read(row) for row in rows]

        items = run_db(settings, work)
        if args.json:
            print(json.dumps([item.model_dump(mode="json") for item in items], indent=2))
            return
        print("\t".join(_COLUMNS))
        for item in items:
            print(_line(item))

    listing.set_defaults(handler=cmd_list)

    add = processors.add_parser("add", help="record a processor")
    add.add_argument("--name", required=True, help="the company")
    add.add_argument("--service", required=True, help="what it does for us")
    add.add_argument("--country", required=True, help="ISO 3166-1 alpha-2, e.g. FI or US")
    add.add_argument("--safeguard", default=None, help="required outside the EU/EEA")
    add.add_argument("--contract-date", type=_day, default=None, metavar="YYYY-MM-DD")
    add.add_argument(
        "--data-category", dest="data_categories", action="append", default=None,
        help="a category of data it handles (repeatable)",
    )  # fmt: skip

    def cmd_add(settings: Settings, args: argparse.Namespace) -> None:
        values = {
            "name": args.name,
            "service": args.service,
            "country": args.country,
            "safeguard": args.safeguard,
            "contract_date": args.contract_date,
            "data_categories": args.data_categories or [],
        }
        try:
            data = ProcessorCreate.model_validate(values)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in item['loc'])}: "
                f"{str(item['msg']).removeprefix('Value error, ')}"
                for item in error.errors()
            )
            raise InvalidInput(f"the processor was not recorded: {problems}") from None

        async def work(session: Any) -> ProcessorRead:
            try:
                row = await service.create(session, data=data, user_id=None)
            except InvalidInput as error:
                raise _refused(error) from None
            await append(session, _event("processor.create", "consentry processors add", row.id))
            return service.to_read(row)

        item = run_db(settings, work)
        where = "outside the EU/EEA" if item.outside_eea else "in the EU/EEA"
        print(f"consentry: processor {item.id} recorded ({item.name}, {item.country}, {where})")

    add.set_defaults(handler=cmd_add)

    end = processors.add_parser("end", help="record that a processor's processing ended")
    end.add_argument("id", type=_positive, metavar="ID")
    end.add_argument("--on", type=_day, default=None, metavar="YYYY-MM-DD", help="default: today")

    def cmd_end(settings: Settings, args: argparse.Namespace) -> None:
        on = args.on or clock.today()

        async def work(session: Any) -> ProcessorRead:
            row = await service.get(session, args.id)
            try:
                row = await service.end(session, processor=row, on=on)
            except InvalidInput as error:
                raise _refused(error) from None
            await append(session, _event("processor.end", "consentry processors end", row.id))
            return service.to_read(row)

        item = run_db(settings, work)
        print(f"consentry: processor {item.id} ({item.name}) ended on {on.isoformat()}")

    end.set_defaults(handler=cmd_end)
