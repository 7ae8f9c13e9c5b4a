"""Carrying out the plan: ``consentry retention run`` and the daily worker job.

Each item runs in a transaction of its own, so a failure leaves no half
action and does not stop the others; each re-checks that it is still due
(see actions.py), so a second run the same day, or two runs at once, do
nothing twice.
"""

from __future__ import annotations

import logging
import time
import traceback
from datetime import date

from service.db import SessionMaker, session_scope
from service.errors import DomainError
from service.retention.actions import Result, Tools, carry_out
from service.retention.plan import plan
from service.retention.schemas import Outcome, PlanItem, RunItem, RunReport
from service.rules import Rule

__all__ = ["Tools", "run_retention"]

logger = logging.getLogger("consentry.retention")

# Profiles before contacts: a transfer due the same day as the person's
# erasure is still made (erasure would take the profile with it), and bulk
# deletions last, as they are the cheapest to repeat.
RUN_ORDER = {
    rule: index
    for index, rule in enumerate(
        (
            Rule.PROFILE_CONSENT_WITHDRAWN,
            Rule.PROFILE_TRANSFER_NOTICE,
            Rule.PROFILE_TRANSFER_2_YEARS,
            Rule.PROFILE_NO_ACCOUNT,
            Rule.CONTACT_5_YEARS,
            Rule.UNCONFIRMED_SIGNUPS,
            Rule.ENGAGEMENT_EVENTS,
            Rule.CALL_LISTS,
            Rule.CLOSED_REQUESTS,
            Rule.ANONYMOUS_SITE_CONSENTS,
            # Last: its own audit.cut event then follows every row the run wrote.
            Rule.AUDIT_TRAIL,
        )
    )
}


async def _one(sessionmaker: SessionMaker, item: PlanItem, *, today: date, tools: Tools) -> Result:
    try:
        async with session_scope(sessionmaker) as session:
            return await carry_out(session, item, today=today, tools=tools)
    except DomainError as exc:
        return Result(Outcome.FAILED, exc.detail)
    except Exception as exc:
        # The type and where, never the message: a database error quotes the
        # values it failed on, and those can be personal data.
        where = "".join(traceback.format_tb(exc.__traceback__))
        logger.error(
            "retention: %s %s failed: %s\n%s",
            item.action.value,
            item.reference,
            type(exc).__name__,
            where,
        )
        return Result(Outcome.FAILED, f"unexpected error ({type(exc).__name__})")


async def run_retention(
    sessionmaker: SessionMaker, *, today: date, tools: Tools, budget_seconds: float | None = None
) -> RunReport:
    """Carry out every item of ``today``'s plan that is not skipped.

    With ``budget_seconds``, no item after the first is started once that
    much time has passed: the items left are counted as ``postponed``, for a next run (each
    item re-checks that it is still due, so nothing is done twice).
    """
    started = time.monotonic()
    async with sessionmaker() as session:
        current = await plan(session, as_of=today, settings=tools.settings)
    done: list[RunItem] = []
    ordered = sorted(current.items, key=lambda item: RUN_ORDER[item.rule])
    postponed = 0
    for index, item in enumerate(ordered):
        # At least one item a run, so that a run always gets somewhere.
        if index and budget_seconds is not None and time.monotonic() - started > budget_seconds:
            postponed = len(ordered) - index
            break
        if item.skipped_because is not None:
            result = Result(Outcome.SKIPPED, item.skipped_because.value)
        else:
            result = await _one(sessionmaker, item, today=today, tools=tools)
        reference = result.reference or item.reference
        if result.outcome is Outcome.DONE:
            logger.info("retention: %s %s (%s)", item.action.value, reference, item.rule.value)
        elif result.outcome is Outcome.FAILED:
            logger.warning(
                "retention: %s %s failed: %s", item.action.value, reference, result.detail
            )
        done.append(
            RunItem(
                rule=item.rule,
                action=item.action,
                reference=reference,
                outcome=result.outcome,
                detail=result.detail,
            )
        )
    return RunReport(
        as_of=today,
        items=done,
        done=sum(item.outcome is Outcome.DONE for item in done),
        skipped=sum(item.outcome is Outcome.SKIPPED for item in done),
        no_longer_due=sum(item.outcome is Outcome.NO_LONGER_DUE for item in done),
        failed=sum(item.outcome is Outcome.FAILED for item in done),
        postponed=postponed,
    )
