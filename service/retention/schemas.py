"""The retention plan and the report of a run, as served by the API and
printed by ``consentry retention plan --json`` (the same JSON in both).

Nothing here holds personal data: a subject is a kind and an id, or a count.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel

from service.rules import Rule


class Action(StrEnum):
    ERASE = "erase"
    TRANSFER = "transfer"
    DESTROY = "destroy"
    SEND_TRANSFER_NOTICE = "send_transfer_notice"
    DELETE = "delete"


class SkipReason(StrEnum):
    """Why a due item is listed but not carried out."""

    LEGAL_HOLD = "legal_hold"  # GDPR 17(3)(e)
    RESTRICTED = "restricted"  # GDPR 18
    # The transfer notice cannot reach the person (no email address, or the
    # address bounced): the profile is destroyed instead of handed over.
    NO_REACHABLE_EMAIL = "no_reachable_email"
    # A transfer is due but the vendor's key, name, country or (outside the
    # EU/EEA) safeguard is not configured: the profile stays kept, and the
    # note says what is missing.
    HANDOVER_NOT_CONFIGURED = "handover_not_configured"


class Subject(BaseModel):
    """What an item acts on: one row (``id``) or a number of rows (``count``)."""

    kind: str
    id: int | None = None
    count: int | None = None


class PlanItem(BaseModel):
    rule: Rule
    action: Action
    subject: Subject
    # The subject in words, as the record of the action will name it.
    reference: str
    # The first day the action is due.
    due_on: date
    # The day by which it must be done: 30 June for profile_no_account, the
    # due day itself for the others.
    deadline: date
    overdue: bool
    skipped_because: SkipReason | None = None
    # Why the item is what it is, when that is not plain from the rule.
    note: str | None = None


class PlanSummary(BaseModel):
    due: int  # items the run would carry out
    skipped: int
    overdue: int


class Plan(BaseModel):
    as_of: date
    items: list[PlanItem]
    summary: PlanSummary


class Outcome(StrEnum):
    DONE = "done"
    SKIPPED = "skipped"  # listed with skipped_because; nothing done
    NO_LONGER_DUE = "no_longer_due"  # changed, or done by another run, since the plan was made
    FAILED = "failed"


class RunItem(BaseModel):
    rule: Rule
    action: Action
    reference: str
    outcome: Outcome
    detail: str | None = None


class RunReport(BaseModel):
    as_of: date
    items: list[RunItem]
    done: int
    skipped: int
    no_longer_due: int
    failed: int
    # Not started: the run's time budget ran out (the worker queues another run).
    postponed: int = 0
