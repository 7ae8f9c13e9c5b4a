"""The import report: what went in, what was refused and why.

A problem names the line and the column, never the rejected value: it may be
an identity code, and the report is printed, logged and returned over HTTP.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, PrivateAttr


class RowProblem(BaseModel):
    line: int = Field(description="The line of the file the row starts on (the header is line 1).")
    field: str | None = Field(description="The column at fault, when one is.")
    reason: str = Field(
        description="invalid, suppressed, restricted, ambiguous, duplicate, "
        "duplicate_in_file, conflict"
    )
    message: str
    # How the staff pages say ``message`` in their language; never sent nor
    # documented (the API and the command line read ``message``, in English).
    # A message with numbers in it: its English template (marked ``N_``) and
    # the numbers. A schema's complaint: pydantic's error item (no input).
    _template: str | None = PrivateAttr(default=None)
    _values: dict[str, Any] = PrivateAttr(default_factory=dict)
    _error: dict[str, Any] | None = PrivateAttr(default=None)

    @classmethod
    def said(
        cls, *, line: int, field: str | None, reason: str, template: str, values: dict[str, Any]
    ) -> RowProblem:
        """A problem whose English is ``template % values``."""
        problem = cls(line=line, field=field, reason=reason, message=template % values)
        problem._template, problem._values = template, values
        return problem

    @classmethod
    def of_error(cls, *, line: int, field: str | None, error: dict[str, Any]) -> RowProblem:
        """A schema's complaint: pydantic's error item, its input left out."""
        message = str(error["msg"]).removeprefix("Value error, ")
        problem = cls(line=line, field=field, reason="invalid", message=message)
        problem._error = error
        return problem

    @property
    def template(self) -> str | None:
        return self._template

    @property
    def values(self) -> dict[str, Any]:
        return self._values

    @property
    def error(self) -> dict[str, Any] | None:
        return self._error


class RowNote(BaseModel):
    """Something of a row that was left out although the row itself went in."""

    line: int
    field: str
    reason: str
    message: str


class RowOutcome(BaseModel):
    """What became of one row (for a dry run: what would)."""

    line: int
    outcome: str = Field(description="created, updated, unchanged or refused")
    problems: list[RowProblem] = Field(
        default_factory=list, description="Why a refused row was refused."
    )
    notes: list[RowNote] = Field(
        default_factory=list,
        description="What of a row that went in was left out: a consent not applied, "
        "a purchase dropped.",
    )


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
    lines: list[RowOutcome] | None = Field(
        default=None,
        description="Every row's outcome by line, when asked for (`rows=true`, `--rows`).",
    )

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
        if self.lines is not None:
            self._gather_lines(refused_lines)
        return self

    def _gather_lines(self, refused_lines: dict[int, str]) -> None:
        by_line = {outcome.line: outcome for outcome in self.lines or []}
        for line in refused_lines:
            by_line.setdefault(line, RowOutcome(line=line, outcome="refused"))
        for problem in self.problems:
            by_line[problem.line].problems.append(problem)
        for note in (*self.skipped_consents, *self.dropped_purchases):
            if note.line in by_line:
                by_line[note.line].notes.append(note)
        self.lines = sorted(by_line.values(), key=lambda outcome: outcome.line)
