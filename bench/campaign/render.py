"""The campaign benchmark's section of BENCHMARKS.md, from its results."""

from __future__ import annotations

import statistics

from bench import report
from bench.campaign.findings import findings, targets
from bench.campaign.results import Results
from bench.seed import BENCH_TAG, SMALL_TAG
from service.campaigns import sending


def render(results: Results) -> str:
    lines = [
        *_header(results),
        *_audience(results),
        *_plans(results),
        *_smtp(results),
        *_runs(results),
        *_cpu(results),
        *targets(results),
        *_profile(results),
    ]
    notes = [*findings(results), *results.notes]
    if notes:
        lines += ["", "### Findings from these numbers", ""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def _header(results: Results) -> list[str]:
    """The title, the command, the code, the machine and the data."""
    n = results.contacts
    db = "SQLite" if results.database == "sqlite" else "PostgreSQL"
    lines: list[str] = [
        f"## Campaign benchmark: {db}, {n:,} contacts",
        "",
        "Audience count, send-list build and end-to-end sending through real `consentry worker` "
        "processes to Postfix's `smtp-sink`, on a fresh migrated database "
        "(`bench/campaign/`).",
        "",
        f"Command: `{results.command}`",
        "",
        f"Code measured: {results.code}.",
        "",
        report.machine_line(results.machine, results.started, results.seconds, results.load_after),
    ]
    if results.database == "postgresql":
        lines.append(
            "PostgreSQL is the throwaway server of `tests/support/postgres.py` (fsync, "
            "synchronous_commit and full_page_writes off), VACUUM ANALYZEd after the load "
            "(as autovacuum soon would be)."
        )
    else:
        lines.append(
            "SQLite: one file in a temporary directory, the service's own pragmas (WAL, "
            "synchronous=NORMAL); no ANALYZE (the service never runs it)."
        )
    seed_stats = results.seed
    if seed_stats is not None:
        groups = seed_stats.groups
        share = {k: f"{100 * v / n:.1f} %" for k, v in groups.items()}
        lines += [
            "",
            f"Data: {n:,} contacts written in {seed_stats.seconds:.1f} s "
            f"({n / seed_stats.seconds:,.0f}/s): email consent granted {share.get('email_grant')}, "
            f"withdrawn {share.get('email_withdraw')}, active ban (all/email) "
            f"{share.get('ban_all')}/{share.get('ban_email')}, restricted "
            f"{share.get('restricted')}, objected {share.get('objected')}, beyond retention "
            f"{share.get('beyond_retention')}, business {share.get('business')}, customers "
            f"{share.get('customer')}, no email {share.get('no_email')}, suppressed "
            f"{share.get('suppressed')}; {seed_stats.consent_events:,} consent events, "
            f"{seed_stats.bans:,} bans (incl. lifted and non-marketing ones), "
            f"{seed_stats.tags:,} tags.",
        ]
    return lines


def _audience(results: Results) -> list[str]:
    """The audience counts and send-list builds, with the breakdown."""
    lines: list[str] = []
    lines += ["", "### Audience and send list", ""]
    rows = []
    cancelled = "**cancelled by statement_timeout after {:.0f} s**"
    for a in results.audience:
        if a.timed_out:
            rows.append([a.label, cancelled.format(a.times[-1]), "-"])
        else:
            rows.append([a.label, report.spread(a.times), f"{a.eligible:,} of {a.total:,}"])
    for build in results.builds:
        rows.append(
            [
                "send list over all contacts, default cap: `queries.build_send_list` "
                f"(INSERT … SELECT), {build.label}",
                cancelled.format(build.insert_s)
                if build.timed_out
                else f"{report.seconds(build.insert_s)} + commit {report.seconds(build.commit_s)}",
                "-" if build.timed_out else f"{build.rows:,} rows",
            ]
        )
        rows.append(
            [
                "its batches: `queries.pending_batches` (batch size "
                f"{results.worker['batch_size']:,}), {build.label}",
                report.seconds(build.batches_s),
                f"{build.batches:,} batches",
            ]
        )
    lines.append(report.table(["measurement", "time", "result"], rows))
    if results.audience:
        a = results.audience[0]
        lines += [
            "",
            "Breakdown (all contacts; a contact may have several reasons): "
            + ", ".join(f"{k} {v:,}" for k, v in a.excluded.items())
            + f"; eligible {a.eligible:,}.",
        ]
    return lines


def _plans(results: Results) -> list[str]:
    """The plans, folded: a line each in the open, the plans themselves in <details>."""
    if not results.plans:
        return []
    if results.database == "postgresql":
        intro = (
            "`EXPLAIN (ANALYZE, BUFFERS)` of the statements as `service.campaigns.queries` "
            "builds them, with their parameters, on the service's own connection settings; "
            "the send lists' INSERTs ran and were rolled back. Server: "
            f"{results.plan_settings} (jit as the service's connections set it). The index "
            "design behind them: docs/scaling.md."
        )
        rows = [
            [
                plan.label,
                report.seconds(plan.seconds) if plan.seconds is not None else "-",
                report.seconds(plan.planning) if plan.planning is not None else "-",
            ]
            for plan in results.plans
        ]
        table = report.table(["statement", "execution (EXPLAIN ANALYZE)", "planning"], rows)
    else:
        intro = (
            "`EXPLAIN QUERY PLAN` of the statements as `service.campaigns.queries` builds "
            "them (SQLite does not time a plan). The index design behind them: "
            "docs/scaling.md."
        )
        table = "\n".join(f"- {plan.label}" for plan in results.plans)
    return [
        "",
        "### Query plans",
        "",
        intro,
        "",
        table,
        "",
        "<details><summary>The plans</summary>",
        "",
        *(plan.markdown() + "\n" for plan in results.plans),
        "</details>",
    ]


def _smtp(results: Results) -> list[str]:
    """The SMTP references and the exactly-once window."""
    lines: list[str] = []
    if results.references or results.window:
        lines += ["", "### SMTP references (same sink, same run)", ""]
        rows = [
            [
                ref.label,
                f"{ref.messages:,}",
                report.seconds(ref.seconds),
                f"{ref.rate:,.0f}",
                f"{ref.accepted:,}",
            ]
            for ref in results.references
        ]
        lines.append(report.table(["client", "messages", "time", "msg/s", "sink counted"], rows))
    window = results.window
    if window is not None:
        w = window.windows
        lines += [
            "",
            "Exactly-once window we control: from `SmtpPool.send` returning SENT to the journal "
            "`HSET` returning, inside `batch.send_all` itself (4 connections, rendering "
            f"interleaved, no database, {results.loop} event loop), {window.sends:,} sends: p50 "
            f"{report.seconds(report.percentile(w, 50))}, p99 "
            f"{report.seconds(report.percentile(w, 99))}, max {report.seconds(max(w))} "
            f"(mean {report.seconds(statistics.fmean(w))}). That loop alone ran at "
            f"{window.sends / window.seconds:,.0f} msg/s; the service's messages averaged "
            f"{window.message_bytes:,.0f} bytes. For comparison, the same `HSET` alone, with "
            "nothing else on the event loop: p50 "
            f"{report.seconds(report.percentile(window.bare_hset, 50))}, p99 "
            f"{report.seconds(report.percentile(window.bare_hset, 99))} "
            f"({len(window.bare_hset):,} round trips).",
        ]
    return lines


def _runs(results: Results) -> list[str]:
    """The send runs through real worker processes."""
    n = results.contacts
    lines: list[str] = []
    if results.runs:
        lines += [
            "",
            "### End-to-end sending (real worker processes)",
            "",
            "Each run is a fresh campaign over the same contacts, on workers started for it, "
            "once the jobs they run at start-up have ended (waited "
            + ", ".join(f"{r.crons_s:.1f} s" for r in results.runs)
            + "); their start-up retention run is held off by taking its Redis lock (on this "
            "seed it would erase the 5 % beyond retention while the runs send). "
            "Recipients: the contacts "
            f"tagged `{BENCH_TAG}` ({results.send_contacts:,} of {n:,}, every k-th contact; "
            "the send list is the eligible ones among them)"
            + (
                f"; the 'small' run uses the {results.small_contacts:,} also tagged "
                f"`{SMALL_TAG}`, to compare peak memory."
                if results.small_contacts
                else "."
            )
            + f" Worker settings: defaults ({results.worker['connections']} SMTP connections, "
            f"batches of {results.worker['batch_size']:,}, arq max_jobs "
            f"{results.worker['max_jobs']}, poll every {results.worker['poll_delay']} s), "
            "frequency cap off. Rate = messages recorded after the first `sent_at` / (last "
            f"`sent_at` - first); `sent_at` is stamped per chunk of {sending.CHUNK} when its "
            "rows are written. Wall = start job enqueued → campaign `done` (its "
            "`finished_at`). CPU = share of one core (user + system from /proc) while "
            "sending (first to last `sent_at`) / from enqueue to done. Peak RSS = VmHWM just "
            "before the worker is stopped. One run per worker count: single runs are noisy on "
            "a shared machine, so judge them against the references measured in the same run.",
            "",
        ]
        rows = []
        for r in results.runs:
            rows.append(
                [
                    r.label,
                    f"{r.recipients:,} ({r.sent:,} sent, {r.skipped} skipped, {r.failed} failed"
                    + (f", {r.queued} queued" if r.queued else "")
                    + ")",
                    f"{r.sink_accepted:,}",
                    f"**{r.steady_rate:,.0f}**" if r.steady_rate else "n/a (one chunk)",
                    f"{r.wall:.1f} s ({r.wall_rate:,.0f}/s)",
                    f"{r.to_built:.2f} s / {r.start_job:.2f} s / {r.to_first:.2f} s",
                    ", ".join(f"{k / 1024:.0f}" for k in r.peak_rss_kib),
                    ", ".join(f"{100 * c:.0f} %" for c in r.steady_cpu)
                    + " / "
                    + ", ".join(f"{100 * c:.0f} %" for c in r.cpu_share),
                    ", ".join(str(b) for b in r.batches),
                    r.status + (f" ({r.error})" if r.error else ""),
                ]
            )
        lines.append(
            report.table(
                [
                    "run",
                    "send list",
                    "sink counted",
                    "msg/s",
                    "wall enqueue→done",
                    "enqueue→list claimed / start job ran / enqueue→first sent",
                    "peak RSS per worker (MiB)",
                    "CPU per worker: sending / enqueue→done",
                    "batch jobs per worker",
                    "status",
                ],
                rows,
            )
        )
    return lines


def _cpu(results: Results) -> list[str]:
    """CPU per message, step by step, then the larger wholes."""
    window = results.window
    lines: list[str] = []
    if window is not None:
        rows = [[label, report.seconds(cost), f"{1 / cost:,.0f}"] for label, cost in window.pieces]
        pieces = sum(cost for _, cost in window.pieces)
        rows.append(["these together", report.seconds(pieces), f"{1 / pieces:,.0f}"])
        bare_ref = next((r for r in results.references if r.cpu is not None), None)
        if bare_ref is not None and bare_ref.cpu:
            per = bare_ref.cpu / bare_ref.messages
            rows.append(
                [
                    "bare aiosmtplib `sendmail` of pre-built bytes (the reference loop's CPU)",
                    report.seconds(per),
                    f"{1 / per:,.0f}",
                ]
            )
        per = window.cpu / window.sends
        rows.append(
            [
                "`batch.send_all` in-process: all of the above + `SmtpPool.send` + journal "
                "`HSET`, no database",
                report.seconds(per),
                f"{1 / per:,.0f}",
            ]
        )
        single = next((r for r in results.runs if r.workers == 1 and "small" not in r.label), None)
        if single is not None and single.steady_cpu and single.steady_rate:
            per = single.steady_cpu[0] / single.steady_rate
            rows.append(
                [
                    "one `consentry worker`, end to end (CPU while sending / messages)",
                    report.seconds(per),
                    f"{1 / per:,.0f}",
                ]
            )
        lines += [
            "",
            "### CPU per message",
            "",
            "Process CPU time per message, each step timed alone in a loop (no profiler), "
            "then the larger wholes. The last column is the rate one core could reach if that "
            "were all it did.",
            "",
            report.table(["step", "CPU per message", "msg/s per core"], rows),
        ]
    return lines


def _profile(results: Results) -> list[str]:
    """Where one batch spends its time (cProfile)."""
    lines: list[str] = []
    prof = results.profile
    if prof is not None:
        lines += [
            "",
            "### Where a batch spends its time",
            "",
            f"cProfile of one `sending.send_batch` run in-process on the {results.loop} event "
            "loop (main thread only; SQLite queries run in aiosqlite's thread and show as "
            f"idle): {prof.recipients:,} messages "
            f"in {prof.wall:.2f} s under the profiler; the next batch, unprofiled, sent "
            f"{prof.unprofiled_recipients:,} in {prof.unprofiled_wall:.2f} s "
            f"({prof.unprofiled_recipients / prof.unprofiled_wall:,.0f} msg/s, one job at a "
            "time).",
            "",
            report.table(
                ["code (inclusive)", "seconds", "share of wall", "calls per message"],
                [
                    [
                        k,
                        f"{s:.3f}",
                        f"{s / prof.wall:.0%}",
                        "" if calls is None else f"{calls / max(1, prof.recipients):.1f}",
                    ]
                    for k, s, calls in prof.key
                ],
            ),
            "",
            report.table(
                ["by package (own time)", "seconds", "share of wall"],
                [[g, f"{s:.3f}", f"{s / prof.wall:.0%}"] for g, s in prof.groups],
            ),
            "",
            "<details><summary>Top functions by own time</summary>",
            "",
            report.table(
                ["function", "own s", "inclusive s"],
                [[f"`{name}`", f"{tt:.3f}", f"{ct:.3f}"] for name, tt, ct in prof.top],
            ),
            "",
            "</details>",
        ]
    return lines
