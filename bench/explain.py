"""The plans of the gate's two big statements, for the benchmark's Markdown.

On PostgreSQL: ``EXPLAIN (ANALYZE, BUFFERS)`` of the audience count and of the
send list's ``INSERT … SELECT`` (run for real inside a transaction that is then
rolled back, so the plan is the one the service gets, writes included). On
SQLite: ``EXPLAIN QUERY PLAN`` of the same statements (SQLite cannot time them).

The statements come from ``service.campaigns.queries`` itself
(``audience_query``, ``send_list_insert``), with their bound parameters: the
plans are of the SQL the service sends, not of a hand-written copy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement, Executable
from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import run


class Explain(Executable, ClauseElement):
    """``EXPLAIN <options> <statement>``, keeping the statement's bound parameters."""

    inherit_cache = False

    def __init__(self, statement: Any, prefix: str) -> None:
        self.statement = statement
        self.prefix = prefix


@compiles(Explain)
def _compile_explain(element: Explain, compiler: SQLCompiler, **kw: Any) -> str:
    sql = compiler.process(element.statement, **kw)
    # An EXPLAIN returns rows, whatever it explains: without this the result of
    # an explained INSERT is handled as an INSERT's (no rows).
    compiler.isinsert = compiler.isupdate = compiler.isdelete = False
    return f"{element.prefix} {sql}"


@dataclass
class Plan:
    label: str
    lines: list[str]
    seconds: float | None = None  # PostgreSQL's "Execution Time"
    planning: float | None = None  # PostgreSQL's "Planning Time"

    def markdown(self) -> str:
        timing = ""
        if self.seconds is not None:
            timing = f" (execution {self.seconds * 1000:,.0f} ms"
            if self.planning is not None:
                timing += f", planning {self.planning * 1000:,.1f} ms"
            timing += ")"
        return "\n".join([f"{self.label}{timing}:", "", "```", *self.lines, "```"])


_TIME = re.compile(r"^(Planning|Execution) Time: ([\d.]+) ms")


async def explain(session: AsyncSession, label: str, statement: Any) -> Plan:
    """The plan of `statement` on this session's database; a write is rolled back."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        rows = (await run(session, Explain(statement, "EXPLAIN (ANALYZE, BUFFERS)"))).all()
        await session.rollback()
        lines = [str(row[0]) for row in rows]
        plan = Plan(label, [])
        for line in lines:
            found = _TIME.match(line)
            if found is None:
                plan.lines.append(line)
            elif found.group(1) == "Planning":
                plan.planning = float(found.group(2)) / 1000
            else:
                plan.seconds = float(found.group(2)) / 1000
        return plan
    rows = (await run(session, Explain(statement, "EXPLAIN QUERY PLAN"))).all()
    await session.rollback()
    return Plan(label, _sqlite_tree([(int(r[0]), int(r[1]), str(r[3])) for r in rows]))


def _sqlite_tree(rows: list[tuple[int, int, str]]) -> list[str]:
    """SQLite's (id, parent, detail) rows drawn as the indented tree its shell prints."""
    depth: dict[int, int] = {0: -1}
    lines = []
    for node, parent, detail in rows:
        depth[node] = depth.get(parent, -1) + 1
        lines.append("  " * depth[node] + detail)
    return lines


async def settings_in_force(session: AsyncSession) -> str:
    """The PostgreSQL settings that decide these plans, as the server has them."""
    names = ("jit", "plan_cache_mode", "work_mem", "shared_buffers", "random_page_cost")
    rows = (
        await run(
            session,
            text("SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(:names)"),
            {"names": list(names)},
        )
    ).all()
    return ", ".join(f"{name} = {value}" for name, value in sorted(rows))
