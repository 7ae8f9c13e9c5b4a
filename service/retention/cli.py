"""What ``consentry retention plan`` and ``consentry retention run`` print,
and the run as the command carries it out (the commands live in service.cli)."""

from __future__ import annotations

import logging
import re
from datetime import date

from service import clock, rules
from service.crypto import DataCipher
from service.db import SessionMaker
from service.delivery.smtp import SmtpConfig, SmtpPool
from service.retention.runner import Tools, run_retention
from service.retention.schemas import Plan, RunReport
from service.settings import Settings
from service.tokens import TokenSigner

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_as_of(raw: str | None) -> date:
    """``--as-of``: a YYYY-MM-DD date; none means today in Helsinki.
    Raises ValueError with the message to show."""
    if raw is None:
        return clock.today()
    try:
        if not _ISO_DATE.fullmatch(raw):
            raise ValueError
        day = date.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{raw!r} is not a date; write it as YYYY-MM-DD") from None
    if not rules.EARLIEST_AS_OF <= day <= rules.LATEST_AS_OF:
        raise ValueError(f"must be a date from {rules.EARLIEST_AS_OF} to {rules.LATEST_AS_OF}")
    return day


def plan_table(plan: Plan) -> str:
    summary = plan.summary
    lines = [
        f"Retention plan for {plan.as_of}: {summary.due} due, {summary.skipped} skipped, "
        f"{summary.overdue} overdue"
    ]
    if not plan.items:
        lines.append("Nothing is due.")
        return "\n".join(lines)
    row = "{:<26} {:<21} {:<44} {:<10}  {:<10}  {}"
    lines.append(row.format("RULE", "ACTION", "SUBJECT", "DUE", "DEADLINE", "STATE"))
    for item in plan.items:
        if item.skipped_because is not None:
            state = f"skipped: {item.skipped_because.value}"
        else:
            state = "overdue" if item.overdue else "due"
        lines.append(
            row.format(
                item.rule.value,
                item.action.value,
                item.reference,
                str(item.due_on),
                str(item.deadline),
                state,
            )
        )
        if item.note:
            lines.append(f"    {item.note}")
    return "\n".join(lines)


def run_table(report: RunReport) -> str:
    lines = [
        f"Retention run for {report.as_of}: {report.done} done, {report.skipped} skipped, "
        f"{report.no_longer_due} no longer due, {report.failed} failed"
    ]
    for item in report.items:
        detail = f" ({item.detail})" if item.detail else ""
        lines.append(
            f"  {item.outcome.value:<14} {item.action.value:<21} {item.reference} "
            f"[{item.rule.value}]{detail}"
        )
    return "\n".join(lines)


async def run_today(sessionmaker: SessionMaker, settings: Settings) -> RunReport:
    """Today's run, with an SMTP connection of its own for the transfer notices."""
    # The printed report says what became of every item; the run's log lines
    # (for the worker) would only say it again on stderr.
    logger = logging.getLogger("consentry.retention")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    smtp = SmtpPool(SmtpConfig.from_settings(settings), size=1) if settings.smtp_host else None
    tools = Tools(
        settings=settings,
        cipher=DataCipher(settings.data_key),
        signer=TokenSigner(settings.secret_key, settings.previous_secret_keys),
        smtp=smtp,
    )
    try:
        return await run_retention(sessionmaker, today=clock.today(), tools=tools)
    finally:
        if smtp is not None:
            await smtp.close()
