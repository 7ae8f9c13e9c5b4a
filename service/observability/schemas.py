"""What the health check answers and what ``consentry status --json`` prints.

Numbers, states and times only: nothing here names a person."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from service.contacts.queries import RegisterProblems
from service.models.enums import CampaignStatus

CheckState = Literal[
    "ok", "failed", "timeout", "behind", "unknown", "not_configured", "stale", "missing", "skipped"
]


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    # database, migrations, redis, worker: "ok", or why not.
    checks: dict[str, CheckState]
    failed: list[str] = Field(default_factory=list)
    # One line per failed check that has more to say ("worker: no heartbeat for 25 s").
    problems: list[str] = Field(default_factory=list)


class CampaignProgress(BaseModel):
    id: int
    name: str
    status: CampaignStatus
    send_at: datetime | None
    started_at: datetime | None
    # Rows of the send list (zero until the list is built).
    total: int
    queued: int
    sent: int
    skipped: int
    failed: int
    # Failed rows by reason (service.models.enums.FailureReason).
    failures: dict[str, int] = {}
    # Why a paused campaign stopped: staff's word, or the sender's (a batch
    # that kept failing, a run of refusals, a template that cannot be used).
    pause_reason: str | None = None

    @property
    def done(self) -> int:
        return self.sent + self.skipped + self.failed


class QueueState(BaseModel):
    """The Redis side; ``reachable`` False leaves every number None."""

    reachable: bool
    # Why not, in one line (no Redis configured, connection refused …).
    error: str | None = None
    # Jobs in the queue: due now, and deferred to a later time.
    depth: int | None = None
    ready: int | None = None
    deferred: int | None = None
    # Opens, clicks and visits queued in Redis, not yet stored by a worker.
    engagement_waiting: int | None = None


class WorkerState(BaseModel):
    heartbeat_at: datetime | None = None
    age_seconds: float | None = None
    # None: unknown (Redis unreachable).
    alive: bool | None = None
    # alive; stale (the newest heartbeat is older than two intervals); none (no
    # heartbeat in the key's lifetime); unknown (Redis unreachable).
    state: Literal["alive", "stale", "none", "unknown"] = "unknown"


class RetentionState(BaseModel):
    # The worker's nightly run, as arq keeps its result (for a day).
    last_run_at: datetime | None = None
    last_run: dict[str, int | str] | None = None
    # The newest action any run recorded in the database (retention_actions).
    last_action_at: datetime | None = None
    last_action_rule: str | None = None


class BackupState(BaseModel):
    directory: str
    last_at: datetime | None = None
    file: str | None = None
    size_bytes: int | None = None


class Status(BaseModel):
    as_of: datetime
    campaigns: list[CampaignProgress]
    queue: QueueState
    worker: WorkerState
    retention: RetentionState
    backup: BackupState
    # Stored contacts that today's input checks would refuse, by problem (counts only).
    register_problems: RegisterProblems = Field(default_factory=RegisterProblems)
