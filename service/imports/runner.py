"""Running an import: read and check every row, then write in chunks.

Each chunk is its own transaction, so a bad row never holds back the good
ones and an interrupted import keeps what it wrote. ``all_or_nothing`` and
``dry_run`` run every chunk in one transaction instead and roll it back
(always for a dry run; for all-or-nothing when any row was refused), so the
report says exactly what the import would have done, the database's own
refusals (suppressed, restricted …) included.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy.exc import IntegrityError

from service import clock
from service.auth.permissions import Permission
from service.crypto import DataCipher
from service.db import SessionMaker, session_scope
from service.imports import columns
from service.imports.columns import Row, RowParser
from service.imports.schemas import ImportReport, RowOutcome, RowProblem
from service.imports.service import Outcome, import_chunk
from service.labels import N_

CHUNK_ROWS = 1000
# (stage, rows done, rows in all): "checking" while reading, then "writing".
Progress = Callable[[str, int, int], None]


def _no_progress(stage: str, done: int, total: int) -> None:
    pass


def check_rows(
    raw: bytes,
    *,
    parser_for: Callable[[list[str]], RowParser],
    report: ImportReport,
    progress: Progress,
) -> list[Row]:
    """Every row checked against the schemas; the bad ones land in the report.

    Raises columns.UnreadableFile before any row when the file as a whole is
    not importable."""
    text = columns.decode(raw)
    header, records = columns.read(text)
    parser = parser_for(header)
    estimate = max(text.count("\n"), 1)
    good: list[Row] = []
    first_line: dict[tuple[str, str], int] = {}
    for line, cells, error in records:
        report.rows += 1
        if report.rows % CHUNK_ROWS == 0:
            progress("checking", report.rows, estimate)
        if cells is None:
            report.problems.append(
                RowProblem(line=line, field=None, reason="invalid", message=error or "bad row")
            )
            continue
        parsed = parser.parse(line, cells)
        if isinstance(parsed, list):
            report.problems += parsed
            continue
        if _repeated(parsed, first_line, report):
            continue
        good.append(parsed)
    progress("checking", report.rows, report.rows)
    return good


SAME_AS = {
    "email": N_("the same email as line %(line)s"),
    "personal_identity_code": N_("the same personal identity code as line %(line)s"),
}


def _repeated(row: Row, first_line: dict[tuple[str, str], int], report: ImportReport) -> bool:
    """A person twice in one file is a mistake in the file: which line wins
    would be a guess, so the later one is refused, naming the first."""
    keys = [("email", row.email), ("personal_identity_code", row.identity_code_hash)]
    for name, value in keys:
        if value is not None and (name, value) in first_line:
            report.problems.append(
                RowProblem.said(
                    line=row.line,
                    field=name,
                    reason="duplicate_in_file",
                    template=SAME_AS[name],
                    values={"line": first_line[(name, value)]},
                )
            )
            return True
    for name, value in keys:
        if value is not None:
            first_line[(name, value)] = row.line
    return False


def _merge(report: ImportReport, outcome: Outcome) -> None:
    report.created += outcome.created
    report.updated += outcome.updated
    report.unchanged += outcome.unchanged
    report.consents_recorded += outcome.consents_recorded
    report.purchases_recorded += outcome.purchases_recorded
    report.problems += outcome.problems
    report.skipped_consents += outcome.skipped
    report.dropped_purchases += outcome.dropped
    if report.lines is not None:
        report.lines += [
            RowOutcome(line=line, outcome=what) for line, what in outcome.lines.items()
        ]


async def run_import(
    sessionmaker: SessionMaker,
    *,
    raw: bytes,
    file_name: str,
    cipher: DataCipher,
    user_id: int | None = None,
    permissions: frozenset[Permission] | None = None,
    all_or_nothing: bool = False,
    dry_run: bool = False,
    with_lines: bool = False,
    progress: Progress = _no_progress,
) -> ImportReport:
    """``with_lines``: the report's ``lines`` say what became (or, for a dry
    run, would become) of every row, refused ones with their problems."""
    started_at = clock.now()
    report = ImportReport(
        file_name=file_name,
        started_at=started_at,
        dry_run=dry_run,
        all_or_nothing=all_or_nothing,
        written=False,
        lines=[] if with_lines else None,
    )
    rows = check_rows(
        raw,
        parser_for=lambda header: RowParser(header, file_name, started_at, cipher),
        report=report,
        progress=progress,
    )
    chunks = [rows[i : i + CHUNK_ROWS] for i in range(0, len(rows), CHUNK_ROWS)]
    done = 0
    if dry_run or all_or_nothing:
        async with sessionmaker() as session:
            for chunk in chunks:
                _merge(
                    report,
                    await import_chunk(
                        session,
                        rows=chunk,
                        cipher=cipher,
                        user_id=user_id,
                        permissions=permissions,
                    ),
                )
                done += len(chunk)
                progress("writing", done, len(rows))
            if dry_run or report.problems:
                await session.rollback()
            else:
                await session.commit()
                report.written = True
        return report.finish()
    for chunk in chunks:
        _merge(report, await _write_chunk(sessionmaker, chunk, cipher, user_id, permissions))
        done += len(chunk)
        progress("writing", done, len(rows))
    report.written = True
    return report.finish()


async def _write_chunk(
    sessionmaker: SessionMaker,
    chunk: Sequence[Row],
    cipher: DataCipher,
    user_id: int | None,
    permissions: frozenset[Permission] | None = None,
) -> Outcome:
    try:
        async with session_scope(sessionmaker) as session:
            return await import_chunk(
                session, rows=chunk, cipher=cipher, user_id=user_id, permissions=permissions
            )
    except IntegrityError:
        # Someone else wrote a contact of this chunk since we looked (an API
        # request, a second import): the chunk was rolled back. Row by row
        # now, so only the clashing row is refused.
        if len(chunk) == 1:
            return Outcome(
                problems=[
                    RowProblem(
                        line=chunk[0].line,
                        field=None,
                        reason="conflict",
                        message=N_(
                            "the row clashes with a contact written at the same time; "
                            "import it again"
                        ),
                    )
                ]
            )
    outcome = Outcome()
    for row in chunk:
        one = await _write_chunk(sessionmaker, [row], cipher, user_id, permissions)
        for name in ("created", "updated", "unchanged", "consents_recorded", "purchases_recorded"):
            setattr(outcome, name, getattr(outcome, name) + getattr(one, name))
        outcome.problems += one.problems
        outcome.skipped += one.skipped
        outcome.dropped += one.dropped
        outcome.lines.update(one.lines)
    return outcome
