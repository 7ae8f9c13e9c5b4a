"""The import report: what went in, what was refused and why.

A problem names the line and the column, never the rejected value: it may be
an identity code, and the report is printed, logged and returned over HTTP.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from pydantic import BaseModel, Field


class RowProblem(BaseModel):
    line: int = Field(description="The line of the file the row starts on (the header is line 1).")
    field: str | None = Field(description="The column at fault, when one is.")
    reason: str = Field(
        description="invalid, suppressed, restricted, ambiguous, duplicate, "
        "duplicate_in_file, conflict"
    )
    message: str


class RowNote(BaseModel):
    """Something of a row that was left out although the row itself went in."""

    line: int
    field: str
    reason: str
    message: str


class ImportReport(BaseModel):
    file_name: str
    started_at: datetime
    dry_run: bool
    all_or_nothing: bool
    written: bool = Field(description="False when nothing was stored (dry run, or all-or-nothing).")
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: int = 0
    refused_by_reason: dict[str, int] = Field(default_factory=dict)
    consents_recorded: int = 0
    consents_skipped: int = 0
    consents_skipped_by_reason: dict[str, int] = Field(default_factory=dict)
    purchases_recorded: int = 0
    purchases_dropped: int = 0
    problems: list[RowProblem] = Field(default_factory=list)
    skipped_consents: list[RowNote] = Field(default_factory=list)
    dropped_purchases: list[RowNote] = Field(default_factory=list)

    def finish(self) -> ImportReport:
        """Fill the counts that follow from the lists."""
        refused_lines: dict[int, str] = {}
        for problem in self.problems:
            refused_lines.setdefault(problem.line, problem.reason)
        self.refused = len(refused_lines)
        self.refused_by_reason = dict(sorted(Counter(refused_lines.values()).items()))
        self.problems.sort(key=lambda p: p.line)
        self.skipped_consents.sort(key=lambda n: n.line)
        self.dropped_purchases.sort(key=lambda n: n.line)
        self.consents_skipped = len(self.skipped_consents)
        self.consents_skipped_by_reason = dict(
            sorted(Counter(note.reason for note in self.skipped_consents).items())
        )
        self.purchases_dropped = len(self.dropped_purchases)
        return self
