"""The campaign benchmark's findings, as measured, before they are written up."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bench.explain import Plan
from bench.seed import SeedStats


@dataclass
class AudienceResult:
    label: str
    times: list[float]
    total: int
    eligible: int
    excluded: dict[str, int]
    timed_out: bool = False


@dataclass
class BuildResult:
    label: str
    rows: int
    insert_s: float
    commit_s: float
    batches: int
    batches_s: float
    timed_out: bool = False


@dataclass
class Reference:
    label: str
    messages: int
    seconds: float
    accepted: int  # by the sink's counter
    cpu: float | None = None  # CPU seconds of this process, when it is the client

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


@dataclass
class WindowResult:
    sends: int
    windows: list[float]
    seconds: float
    message_bytes: float
    bare_hset: list[float]
    cpu: float
    pieces: list[tuple[str, float]]  # (step, seconds per message), no profiler


@dataclass
class RunResult:
    label: str
    workers: int
    segment: str
    status: str
    recipients: int = 0
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    queued: int = 0
    steady_rate: float = 0.0  # first to last sent_at
    wall: float = 0.0  # start job enqueued to campaign done
    to_built: float = 0.0  # enqueue to list build claimed
    to_first: float = 0.0  # enqueue to first recorded sent_at
    sink_accepted: int = 0
    peak_rss_kib: list[int] = field(default_factory=list)
    cpu_share: list[float] = field(default_factory=list)  # CPU s / wall s, per worker
    steady_cpu: list[float] = field(default_factory=list)  # the same, while sending
    batches: list[int] = field(default_factory=list)  # batch jobs each worker finished
    start_job: float = 0.0  # the start job's own run time, from arq's log
    crons_s: float = 0.0  # waited for the start-up cron jobs before the run
    error: str = ""

    @property
    def wall_rate(self) -> float:
        return self.sent / self.wall if self.wall else 0.0


@dataclass
class ProfileResult:
    recipients: int
    wall: float
    unprofiled_recipients: int
    unprofiled_wall: float
    groups: list[tuple[str, float]]
    key: list[tuple[str, float, int | None]]
    top: list[tuple[str, float, float]]


@dataclass
class Results:
    command: str
    database: str
    contacts: int
    machine: dict[str, str]
    started: datetime
    seed: SeedStats | None = None
    audience: list[AudienceResult] = field(default_factory=list)
    builds: list[BuildResult] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    window: WindowResult | None = None
    runs: list[RunResult] = field(default_factory=list)
    profile: ProfileResult | None = None
    plans: list[Plan] = field(default_factory=list)
    plan_settings: str = ""
    send_contacts: int = 0
    small_contacts: int = 0
    skip_send: bool = False
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    load_after: str = ""
    worker: dict[str, Any] = field(default_factory=dict)  # the worker settings in force
    loop: str = ""
    code: str = ""
