"""What the campaign benchmark's numbers say: the issue's targets met or
missed, and the observations the numbers support, worded by rule."""

from __future__ import annotations

import os
import statistics

from bench import report
from bench.campaign.results import Reference, Results, RunResult
from bench.seed import BENCH_TAG


def _verdict(met: bool) -> str:
    return "met" if met else "**missed**"


def _explain_misses(results: Results, one: RunResult | None, bare: Reference | None) -> list[str]:
    """An honest line per missed sending target, with what the numbers say dominates."""
    window = results.window
    if one is None or bare is None or window is None or not one.steady_rate:
        return []
    lines: list[str] = []
    missed = [
        text
        for text, failed in (
            ("2,000 msg/s while sending", one.steady_rate < 2000),
            (f"half the bare loop, {bare.rate / 2:,.0f} msg/s", one.steady_rate < bare.rate / 2),
        )
        if failed
    ]
    if missed:
        cpu = one.steady_cpu[0] if one.steady_cpu else 0.0
        per_worker = cpu / one.steady_rate
        per_loop = window.cpu / window.sends
        per_bare = (bare.cpu or 0.0) / bare.messages
        steps = sum(cost for _, cost in window.pieces)
        if cpu >= 0.9:
            bound = "CPU-bound"
        elif cpu >= 0.7:
            bound = "mostly CPU-bound"
        else:
            bound = "not CPU-bound (it waits on something)"
        rest = per_worker - per_loop
        if rest > 0.1 * per_worker:
            tail = (
                f"the remaining {report.seconds(rest)} is the batch's database work (loading "
                "each chunk of recipients, the gate re-check, the per-chunk UPDATE), the HDEL "
                "and arq."
            )
        else:
            tail = (
                "that is within noise of the whole worker's figure, so the batch's database "
                "work is not what costs the CPU here."
            )
        lines += [
            "",
            f"Missed ({'; '.join(missed)}): one worker sends {one.steady_rate:,.0f} msg/s "
            f"while sending, {bound}: {100 * cpu:.0f} % of a core, "
            f"{report.seconds(per_worker)} of CPU per message. Of that, aiosmtplib's own "
            f"`sendmail` costs about {report.seconds(per_bare)} (the bare loop's CPU per "
            f"message: alone it caps one core at {1 / per_bare:,.0f} msg/s; half the bare "
            f"loop's {bare.rate:,.0f} msg/s allows {report.seconds(2 / bare.rate)} per message "
            f"in all, {report.seconds(2 / bare.rate - per_bare)} beside `sendmail`); signing, "
            f"rendering, `build_message` and the journal `HSET` {report.seconds(steps)}; the "
            f"in-process send loop with its asyncio/pool overhead {report.seconds(per_loop)} "
            f"in all; {tail}",
        ]
    if one.wall_rate < 2000:
        lines += [
            "",
            f"Missed (end to end): {one.wall_rate:,.0f} msg/s from enqueue to done. Of the "
            f"{one.wall:.1f} s, {one.to_first:.1f} s pass before the first chunk is recorded: "
            f"arq picks the start job up {one.to_built:.2f} s after it is queued (it polls "
            f"every {results.worker['poll_delay']} s), the start job itself runs "
            f"{one.start_job:.2f} s (the audience count, a full pass over all contacts "
            "whatever the segment, the send list, then `pending_batches` and one enqueue "
            "per batch), and the batch jobs wait for the next poll.",
        ]
    return lines


def targets(results: Results) -> list[str]:
    """The issue's targets against what was measured, and what a miss comes from."""
    n = results.contacts
    lines: list[str] = []
    lines += ["", "### Targets", ""]
    rows = []
    sqlite_all = next((a for a in results.audience if a.label.startswith("all contacts")), None)
    if sqlite_all is not None:
        median = statistics.median(sqlite_all.times)
        scaled = median * 1_000_000 / n
        if results.database == "sqlite" and n >= 1_000_000:
            verdict = _verdict(median < 10)
        elif results.database == "sqlite":
            verdict = f"not measured at 1M; linear estimate {scaled:.1f} s: " + (
                "would be met" if scaled < 10 else "**would be missed**"
            )
        else:
            verdict = f"(target is for SQLite; linear estimate at 1M {scaled:.1f} s)"
        rows.append(
            [
                "audience of 1M contacts counted in under 10 s on SQLite",
                f"{report.seconds(median)} for {n:,}",
                verdict,
            ]
        )
    one = next((r for r in results.runs if r.workers == 1 and "small" not in r.label), None)
    bare = next((r for r in results.references if r.label.startswith("bare")), None)
    source = next((r for r in results.references if "smtp-source" in r.label), None)
    if one is not None:
        rows.append(
            [
                "one worker process ≥ 2,000 messages/s end to end",
                f"{one.steady_rate:,.0f} msg/s steady; {one.wall_rate:,.0f} msg/s enqueue→done",
                _verdict(one.steady_rate >= 2000 and one.wall_rate >= 2000),
            ]
        )
        if bare is not None:
            rows.append(
                [
                    "one worker ≥ half the bare aiosmtplib loop",
                    f"{one.steady_rate / bare.rate:.0%} of {bare.rate:,.0f} msg/s",
                    _verdict(one.steady_rate >= bare.rate / 2),
                ]
            )
        if source is not None:
            rows.append(
                [
                    "(for reference) one worker vs smtp-source",
                    f"{one.steady_rate / source.rate:.1%} of {source.rate:,.0f} msg/s",
                    "",
                ]
            )
    small = next((r for r in results.runs if "small" in r.label), None)
    if one is not None and small is not None and one.peak_rss_kib and small.peak_rss_kib:
        big_rss, small_rss = one.peak_rss_kib[0], small.peak_rss_kib[0]
        rows.append(
            [
                "memory flat in campaign size",
                f"peak RSS {small_rss / 1024:.0f} MiB for {small.sent:,} messages, "
                f"{big_rss / 1024:.0f} MiB for {one.sent:,}",
                _verdict(big_rss <= small_rss * 1.1),
            ]
        )
    if results.skip_send:
        rows.append(["sending targets", "not measured (`--skip-send`: audience and list only)", ""])
    lines.append(report.table(["target (from the issue)", "measured", "verdict"], rows))
    lines += _explain_misses(results, one, bare)
    return lines


def _start_job_share(results: Results, audience_s: float) -> str:
    """How much of the 1-worker run's start job the audience count explains."""
    one = next((r for r in results.runs if r.workers == 1 and "small" not in r.label), None)
    if one is None or not one.start_job:
        return ""
    return (
        f" In the 1-worker run the start job ran {one.start_job:.2f} s, of which the "
        f"segment's audience count is about {audience_s:.2f} s."
    )


def bench_runs(results: Results) -> int:
    """How often the default-cap audience ran on the pooled connections before the sends."""
    return sum(
        len(a.times)
        for a in results.audience
        if "default cap" in a.label or "default frequency cap (" in a.label
    )


def findings(results: Results) -> list[str]:
    """Observations the numbers above support, worded by rule, not by hand."""
    out = []
    by_label = {a.label: a for a in results.audience}
    capped = next((a for a in results.audience if "default frequency cap (" in a.label), None)
    uncapped = by_label.get("all contacts, frequency cap off")
    segment = next((a for a in results.audience if a.label.startswith("segment")), None)
    jit_on = next((a for a in results.audience if "jit = on" in a.label), None)
    if capped and jit_on and not jit_on.timed_out:
        on, off = statistics.median(jit_on.times), statistics.median(capped.times)
        out.append(
            f"PostgreSQL's JIT (on by default) would cost the audience count "
            f"{report.seconds(on - off)} ({report.seconds(on)} with `jit = on`, "
            f"{report.seconds(off)} as the service runs it, with `jit = off`): the gate's "
            "subqueries make the planner's cost estimate far exceed `jit_above_cost`, so each "
            "count would compile code first; the service's connections turn JIT off "
            "(service/db.py)."
            if on > off
            else f"PostgreSQL's JIT made no difference here ({report.seconds(on)} with "
            f"`jit = on`, {report.seconds(off)} with it off, as the service runs it)."
        )
    if capped and uncapped:
        on, off = statistics.median(capped.times), statistics.median(uncapped.times)
        afters = [a for a in results.audience if "after the send runs" in a.label]
        after = next((a for a in afters if not a.timed_out and "pooled" not in a.label), None)
        share = 100 * (on / off - 1)
        cost = (
            f"adds {share:.0f} % to the audience count with an empty campaign_recipients"
            if share >= 5
            else "makes no measurable difference to the audience count with an empty "
            f"campaign_recipients ({report.seconds(on)} with it, {report.seconds(off)} "
            "without, medians)"
        )
        out.append(
            "The frequency cap (the contacts with enough messages in the window, aggregated "
            f"once and joined) {cost}"
            + (f"; after the send runs it takes {report.spread(after.times)}." if after else ".")
        )
        pooled = next((a for a in afters if "pooled" in a.label), None)
        if pooled is not None and after is not None:
            slow = pooled.timed_out or statistics.median(pooled.times) > 5 * statistics.median(
                after.times
            )
            if slow:
                took = (
                    f"was cancelled after {pooled.times[-1]:.0f} s"
                    if pooled.timed_out
                    else f"took {report.spread(pooled.times)}"
                )
                out.append(
                    "The same audience query, on the benchmark's pooled connections that had "
                    f"run it while campaign_recipients was empty, {took}; on a fresh "
                    f"connection it took {report.spread(after.times)}. asyncpg prepares each "
                    "statement once per connection and PostgreSQL switches a prepared "
                    "statement to a generic plan after five runs; planned for an empty table, "
                    "that plan stays until an ANALYZE of the table invalidates it."
                )
            elif results.database == "postgresql":
                generic = next((a for a in afters if "generic" in a.label), None)
                out.append(
                    "On the pooled connections that had run the audience count "
                    f"{bench_runs(results)} times while campaign_recipients was empty, it took "
                    f"{report.spread(pooled.times)} after the send runs, as on a fresh "
                    f"connection ({report.spread(after.times)}): `queries.audience` has "
                    "PostgreSQL plan each count afresh (`plan_cache_mode = force_custom_plan` "
                    "around it), so no plan made for the empty table is kept"
                    + (
                        "; forced to the generic plan it took "
                        + (
                            f"more than {generic.times[-1]:.0f} s (cancelled)"
                            if generic.timed_out
                            else report.spread(generic.times)
                        )
                        + "."
                        if generic is not None
                        else "."
                    )
                )
    if segment and uncapped:
        seg_s, all_s = statistics.median(segment.times), statistics.median(uncapped.times)
        lists = [p for p in results.plans if p.label.startswith("Send list")]
        timed = [p for p in lists if p.seconds is not None]
        out.append(
            f"A segment does not make the audience count cheaper: the '{BENCH_TAG}' "
            f"segment ({segment.eligible:,} eligible) takes {report.seconds(seg_s)}, the "
            f"whole register {report.seconds(all_s)}, because its breakdown counts every "
            "reason over every contact. "
            + (
                "The send list does start from the segment (the tag's index, `Gate.within`)"
                + (
                    f": {report.seconds(timed[-1].seconds or 0)} for the segment's, "
                    f"{report.seconds(timed[0].seconds or 0)} for the whole register's "
                    "(EXPLAIN ANALYZE above)."
                    if len(timed) >= 2
                    else "."
                )
                if results.database == "postgresql"
                else "SQLite's send list walks every contact too, testing the tag first "
                "(EXPLAIN QUERY PLAN above)."
            )
            + _start_job_share(results, statistics.median(segment.times))
        )
    if len(results.builds) >= 2:
        first, second = results.builds[0], results.builds[1]
        if first.timed_out or first.insert_s > 3 * second.insert_s:
            took = (
                f"was cancelled after {first.insert_s:.0f} s"
                if first.timed_out
                else f"took {report.seconds(first.insert_s)}"
            )
            out.append(
                f"The first send list built into an empty campaign_recipients {took}, the second "
                f"{report.seconds(second.insert_s)}. The INSERT … SELECT reads "
                "campaign_recipients itself (the frequency cap's correlated COUNT); planned "
                "while the table is empty, that COUNT is a sequential scan, and it rescans the "
                "growing table for each contact: quadratic in the list size."
            )
    small = next((r for r in results.runs if "small" in r.label), None)
    if small is not None and small.steady_rate and small.wall_rate < small.steady_rate / 2:
        out.append(
            f"Small campaigns are dominated by fixed latency: {small.sent:,} messages at "
            f"{small.steady_rate:,.0f} msg/s while sending, but {small.wall:.1f} s from enqueue "
            f"to done ({small.to_first:.1f} s before the first chunk is recorded)."
        )
    cpus = os.cpu_count() or 1
    crowded = [r.workers for r in results.runs if r.workers > cpus]
    if crowded:
        out.append(
            f"This machine has {cpus} CPUs, shared by the workers, smtp-sink, Redis and the "
            f"database: the {', '.join(map(str, crowded))}-worker runs measure contention, "
            "not scaling."
        )
    multi = [r for r in results.runs if r.workers > 1 and r.batches]
    for run_ in multi:
        if max(run_.batches) >= 2 * max(1, min(run_.batches)):
            out.append(
                f"{run_.label}: batch jobs per worker {', '.join(map(str, run_.batches))}; each "
                f"worker takes up to {results.worker['max_jobs']} batch jobs at a time (arq "
                f"max_jobs) from {sum(run_.batches)} batches of "
                f"{results.worker['batch_size']:,}, so the work is spread unevenly."
            )
    return out
