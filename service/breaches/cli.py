"""``consentry breach add|list|show|update``: the breach register from the command line.

Times are ISO 8601 (``2026-03-02T09:30``, ``now``); a time without an offset
is Helsinki time. The same rules as the API apply: a notification after the
72 hours needs ``--delay-reason``, closing an unnotified breach
``--not-notified-reason``. Each change is recorded in the audit trail
(``breach.create``, ``breach.update``; method ``CLI``).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from service import clock
from service.audit.chain import Event, append
from service.breaches import service
from service.breaches.schemas import BreachCreate, BreachRead, BreachUpdate, local_moment
from service.errors import InvalidInput
from service.models.audit import AuditActor
from service.models.enums import BreachRisk
from service.settings import Settings

T = TypeVar("T")
RunDb = Callable[[Settings, Callable[[Any], Coroutine[Any, Any, T]]], T]
Schema = TypeVar("Schema", bound=BaseModel)

# (option, field, help); times and lists are converted below.
_TEXTS = (
    ("--nature", "nature", "what happened, by categories and numbers; never names"),
    ("--consequences", "likely_consequences", "the likely consequences"),
    ("--measures", "measures", "measures taken or proposed"),
    ("--reference", "authority_reference", "the authority's case number"),
    ("--delay-reason", "delay_reason", "why the authority was notified after 72 hours"),
    ("--not-notified-reason", "not_notified_reason", "why the authority was not notified"),
    ("--people-informed-how", "people_informed_how", "how the people were informed"),
)
_TIMES = (
    ("--discovered-at", "discovered_at", "when the company became aware of it"),
    ("--occurred-at", "occurred_at", "when it happened"),
    ("--notified-at", "authority_notified_at", "when the authority was notified"),
    ("--people-informed-at", "people_informed_at", "when the people were informed (Art. 34)"),
    ("--closed-at", "closed_at", "when the breach was closed"),
)
_COUNTS = (
    ("--approx-people", "approx_people", "about how many people"),
    ("--approx-records", "approx_records", "about how many records"),
)
_LISTS = (
    ("--data-category", "data_categories", "a category of data (repeatable)"),
    ("--people-category", "people_categories", "a category of people (repeatable)"),
)


def moment(value: str) -> datetime:
    """An ISO time, or ``now``; without an offset it is Helsinki time."""
    try:
        return local_moment(value)
    except ValueError:
        raise argparse.ArgumentTypeError("expected an ISO time, e.g. 2026-03-02T09:30") from None


def _count(value: str) -> int:
    if not value.isdigit():
        raise argparse.ArgumentTypeError("must be a whole number, 0 or more")
    return int(value)


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError("must be a breach id (a positive number)")
    return int(value)


def _add_fields(parser: argparse.ArgumentParser) -> None:
    for option, dest, text in _TEXTS:
        parser.add_argument(option, dest=dest, default=None, help=text)
    for option, dest, text in _TIMES:
        parser.add_argument(option, dest=dest, type=moment, default=None, help=text)
    for option, dest, text in _COUNTS:
        parser.add_argument(option, dest=dest, type=_count, default=None, help=text)
    for option, dest, text in _LISTS:
        parser.add_argument(option, dest=dest, action="append", default=None, help=text)
    parser.add_argument("--risk", choices=[r.value for r in BreachRisk], default=None)


def _given(args: argparse.Namespace) -> dict[str, Any]:
    names = [dest for _, dest, _ in (*_TEXTS, *_TIMES, *_COUNTS, *_LISTS)] + ["risk"]
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def _parse(schema: type[Schema], values: dict[str, Any]) -> Schema:
    try:
        return schema.model_validate(values)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in item['loc']) or 'input'}: "
            f"{str(item['msg']).removeprefix('Value error, ')}"
            for item in error.errors()
        )
        raise InvalidInput(f"the breach was not recorded: {problems}") from None


def _refused(error: InvalidInput) -> InvalidInput:
    """The service's refusal as the one line the command prints: every field named."""
    problems = "; ".join(f"{name}: {text}" for name, text in error.fields.items())
    return InvalidInput(f"{error.detail}: {problems}" if problems else error.detail)


def _event(action: str, route: str, breach_id: int | None) -> Event:
    return Event(
        actor=AuditActor.SYSTEM,
        action=action,
        method="CLI",
        route=route,
        status_code=200,
        details={"breach_id": breach_id},
    )


def _when(value: datetime | None) -> str:
    if value is None:
        return "-"
    return value.astimezone(clock.LOCAL_ZONE).isoformat(timespec="minutes")


def flag(item: BreachRead) -> str:
    """The register's warning, as the web page shows it."""
    if item.overdue:
        return "OVERDUE"
    if item.due_soon:
        return "due soon"
    if item.people_to_inform:
        return "inform people"
    return "-"


_COLUMNS = ("id", "discovered", "risk", "authority_due", "notified", "closed", "flag", "nature")


def _line(item: BreachRead) -> str:
    nature = " ".join(item.nature.split())
    return "\t".join(
        (
            str(item.id),
            _when(item.discovered_at),
            item.risk.value,
            _when(item.authority_due_at),
            _when(item.authority_notified_at),
            _when(item.closed_at),
            flag(item),
            nature if len(nature) <= 60 else nature[:59] + "…",
        )
    )


def _show(item: BreachRead) -> str:
    lines = []
    for name, value in item.model_dump(mode="json").items():
        lines.append(f"{name}: {'-' if value is None or value == [] else value}")
    return "\n".join(lines)


def add_commands(subparsers: Any, run_db: RunDb[Any]) -> None:
    """Register ``breach add|list|show|update``."""
    breach = subparsers.add_parser(
        "breach", help="the breach register (GDPR 33(5)): document every personal-data breach"
    ).add_subparsers(dest="breach_command", required=True, metavar="ACTION")

    add = breach.add_parser(
        "add", help="document a breach; prints its id and when the authority is due"
    )
    _add_fields(add)
    add.add_argument("--json", action="store_true", help="print the breach as JSON")

    def cmd_add(settings: Settings, args: argparse.Namespace) -> None:
        data = _parse(BreachCreate, _given(args))

        async def work(session: Any) -> BreachRead:
            try:
                row = await service.create(session, data=data, user_id=None)
            except InvalidInput as error:
                raise _refused(error) from None
            await append(session, _event("breach.create", "consentry breach add", row.id))
            return service.to_read(row)

        item = run_db(settings, work)
        if args.json:
            print(item.model_dump_json(indent=2))
            return
        print(
            f"consentry: breach {item.id} recorded; the authority is due by "
            f"{_when(item.authority_due_at)} (72 hours after discovery)"
        )

    add.set_defaults(handler=cmd_add)

    listing = breach.add_parser("list", help="list breaches, the ones still to notify first")
    listing.add_argument("--open", action="store_true", help="only breaches not closed")
    listing.add_argument("--overdue", action="store_true", help="only overdue ones")
    listing.add_argument("--json", action="store_true", help="print the list as JSON")

    def cmd_list(settings: Settings, args: argparse.Namespace) -> None:
        async def work(session: Any) -> list[BreachRead]:
            rows, _ = await service.list_(
                session,
                open_=True if args.open else None,
                overdue=True if args.overdue else None,
                limit=10_000,
                offset=0,
            )
            return [service.to_read(row) for row in rows]

        items = run_db(settings, work)
        if args.json:
            print(json.dumps([item.model_dump(mode="json") for item in items], indent=2))
            return
        print("\t".join(_COLUMNS))
        for item in items:
            print(_line(item))

    listing.set_defaults(handler=cmd_list)

    show = breach.add_parser("show", help="one breach, every field")
    show.add_argument("id", type=_positive, metavar="ID")
    show.add_argument("--json", action="store_true", help="print it as JSON")

    def cmd_show(settings: Settings, args: argparse.Namespace) -> None:
        async def work(session: Any) -> BreachRead:
            return service.to_read(await service.get(session, args.id))

        item = run_db(settings, work)
        print(item.model_dump_json(indent=2) if args.json else _show(item))

    show.set_defaults(handler=cmd_show)

    update = breach.add_parser(
        "update", help="add what became known: the notification, people informed, closing"
    )
    update.add_argument("id", type=_positive, metavar="ID")
    _add_fields(update)
    update.add_argument("--json", action="store_true", help="print the breach as JSON")

    def cmd_update(settings: Settings, args: argparse.Namespace) -> None:
        data = _parse(BreachUpdate, _given(args))
        if not data.model_fields_set:
            raise InvalidInput("nothing to change: give at least one field")

        async def work(session: Any) -> BreachRead:
            row = await service.get(session, args.id)
            try:
                row = await service.update(session, breach=row, data=data)
            except InvalidInput as error:
                raise _refused(error) from None
            await append(session, _event("breach.update", "consentry breach update", row.id))
            return service.to_read(row)

        item = run_db(settings, work)
        if args.json:
            print(item.model_dump_json(indent=2))
            return
        print(f"consentry: breach {item.id} updated ({flag(item)})")

    update.set_defaults(handler=cmd_update)
