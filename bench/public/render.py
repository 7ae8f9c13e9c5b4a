"""The public-routes benchmark's section of BENCHMARKS.md, and its verdict."""

from __future__ import annotations

import os

from bench import report
from bench.public.data import AGGREGATE_SHARE, REPEAT_CONTACTS, ROUTES, UNTRACKED_SHARE
from bench.public.profile import PROFILE_RATE
from bench.public.run import ProcessRun, Results
from bench.public.servers import APP, CEILING_APP
from bench.public.wrk import WrkResult

TARGET = 2.0


def _ms(value: float) -> str:
    return f"{value * 1000:.1f} ms" if value == value else "?"


def _errors(result: WrkResult) -> str:
    parts = [f"{name} {n:,}" for name, n in result.errors.items() if n]
    return ", ".join(parts) if parts else "0"


def _cpu(result: WrkResult) -> str:
    if not result.seconds:
        return "?"
    shares = (result.server_cpu, result.redis_cpu, result.wrk_cpu)
    return " / ".join(f"{100 * cpu / result.seconds:.0f} %" for cpu in shares)


def verdicts(run_: ProcessRun) -> dict[str, tuple[float, float, bool]]:
    """Per public route: (ceiling req/s ÷ route req/s, route p99 ÷ ceiling p99, within 2x)."""
    out = {}
    for key, result in run_.results.items():
        ceiling_key = ROUTES[key].ceiling
        if ceiling_key is None or ceiling_key not in run_.results:
            continue
        ceiling = run_.results[ceiling_key]
        rate = ceiling.rate / result.rate if result.rate else float("inf")
        p99 = result.p99 / ceiling.p99 if ceiling.p99 else float("inf")
        out[key] = (rate, p99, rate <= TARGET and p99 <= TARGET)
    return out


def render(results: Results) -> str:
    load, population = results.load, results.population
    assert population is not None
    lines = [
        "## Public routes benchmark: one-click unsubscribe, open pixel, click "
        f"({'SQLite' if results.database == 'sqlite' else 'PostgreSQL'})",
        "",
        "The public routes under load from wrk on 127.0.0.1, each next to a minimal Litestar "
        "route measured in the same run (the ceiling), then every event accounted for in the "
        "database (`bench/public/`).",
        "",
        f"Command: `{results.command}`",
        "",
        f"Code measured: {results.code}.",
        "",
        report.machine_line(results.machine, results.started, results.seconds, results.load_after)
        + " wrk, the API processes and Redis share these CPUs.",
        "",
        f"Data: {results.contacts:,} contacts (bench/seed.py's mix), written in "
        f"{population.seed.seconds:.1f} s: {len(population.tracked):,} whose opens and clicks "
        f"the gate lets be stored (email tracking granted, nothing excluding them), "
        f"{len(population.untracked):,} others with an address, "
        f"{len(population.granted):,} with email marketing consent granted. Each process "
        "count gets a campaign of its own (sent, two links in its body). Its pixel tokens: "
        f"every tracked contact once, plus {UNTRACKED_SHARE:.0%} more of people not tracked; "
        f"its click tokens: every tracked contact on each link, plus {AGGREGATE_SHARE:.0%} "
        "more on links without a contact (sent to people not tracked); its one-click tokens: "
        "contacts with email consent granted, a share of its own (a withdrawal each, until "
        "wrk wraps around and repeats them).",
        "",
        f"Servers: `{results.uvicorn}` for the ceiling (`{CEILING_APP}`) and "
        f"the same with `{APP}` for the service, which runs with its default settings "
        + (
            "(SQLite with WAL, "
            if results.database == "sqlite"
            else "(on a throwaway PostgreSQL on 127.0.0.1, fsync off, "
        )
        + "the engagement stream in an embedded Redis with an AOF). Both run "
        "side by side and wrk loads one route at a time, each right after its ceiling. Load: "
        f"`{load.shown()}` (a Lua script walks the tokens, each thread its own stride), after "
        f"a {load.warmup} s warm-up per route on another campaign's tokens. p50 and p99 are "
        "wrk's latency per request. No worker runs during the load: the stream is drained "
        "afterwards. Target: each route within 2x of the ceiling of its method (requests/s at "
        "least half of it, p99 at most double), no error, every event accounted for.",
    ]
    for run_ in results.runs:
        name = f"{run_.processes} API process{'es' if run_.processes > 1 else ''}"
        checks = verdicts(run_)
        rows = []
        for key in ("ceiling-get", "pixel", "click", "ceiling-post", "one-click"):
            result = run_.results.get(key)
            if result is None:
                continue
            if key in checks:
                rate, p99, within = checks[key]
                tail = [
                    f"{rate:.2f}x",
                    f"{p99:.2f}x",
                    "**yes**" if within and not result.error_count else "**no**",
                ]
            else:
                tail = ["-", "-", "-"]
            rows.append(
                [
                    ROUTES[key].label,
                    report.num(result.requests),
                    f"**{report.num(result.rate)}**",
                    _ms(result.p50),
                    f"**{_ms(result.p99)}**",
                    _ms(result.max),
                    _errors(result),
                    _cpu(result),
                    f"{result.machine_busy:.0%}",
                    *tail,
                ]
            )
        lines += [
            "",
            f"### {name}",
            "",
            report.table(
                [
                    "route",
                    "requests",
                    "req/s",
                    "p50",
                    "p99",
                    "max",
                    "errors",
                    "CPU: server / Redis / wrk (one core = 100 %)",
                    "machine busy",
                    "ceiling req/s ÷ req/s",
                    "p99 ÷ ceiling p99",
                    "within 2x, no error",
                ],
                rows,
            ),
        ]
        if run_.probes:
            lines += ["", "Probes before the load: " + "; ".join(run_.probes) + "."]
        rows = []
        for account in run_.accounts:
            rows.append(
                [
                    account.kind,
                    report.num(account.answered),
                    report.num(account.published),
                    f"{account.in_flight:+,}",
                    f"{account.tracked:,} / {account.untracked:,} / {account.aggregate:,}",
                    report.num(account.storable),
                    report.num(account.stored),
                    report.num(account.stored_untracked),
                    "yes" if account.ok else "**no**",
                ]
            )
        lines += [
            "",
            "Events: wrk's answered requests (2xx/3xx), the campaign's entries in the stream, "
            "and the rows `events.drain` stored. Published - answered is the requests in "
            f"flight when wrk stopped: 0 to {results.load.connections} (one per connection), "
            "plus any wrk gave up on (timeouts, read errors), which the server may still have "
            "answered.",
            "",
            report.table(
                [
                    "kind",
                    "answered",
                    "published",
                    "published - answered",
                    "tracked / not tracked / aggregate",
                    "storable",
                    "stored",
                    "stored, not tracked",
                    "accounted for",
                ],
                rows,
            ),
        ]
        if run_.leftover:
            lines.append(f"Other campaigns' entries left in the stream: {run_.leftover:,}.")
        ledger_ = run_.ledger
        if ledger_ is not None:
            lines += [
                "",
                f"One-click: {ledger_.answered:,} answered with 2xx/3xx; wrk sent requests for "
                f"{ledger_.sent_contacts:,} distinct contacts "
                f"(of the run's {run_.unsubscribers:,}), "
                f"{ledger_.sure_contacts:,} of them surely completed. The ledger holds "
                f"{ledger_.events:,} one-click withdrawals of this campaign for "
                f"{ledger_.withdrawn:,} contacts ({ledger_.duplicates:,} duplicates), now "
                f"withdrawn: {ledger_.state_withdrawn:,}; surely completed but not withdrawn: "
                f"{ledger_.missing:,}; withdrawn without a request: {ledger_.unexpected:,}. "
                "Accounted for: " + ("yes." if ledger_.ok else "**no**."),
            ]
            if ledger_.answered + ledger_.errors > run_.unsubscribers:
                lines.append(
                    "wrk went through all of the run's tokens and repeated some: a repeat "
                    "answers 200 without writing, so the req/s above flatters the write path."
                )
        repeats = run_.repeats
        if repeats is not None:
            r = repeats.result
            spread = ", ".join(
                f"{n:,} with {rows} row{'s' if rows > 1 else ''}"
                for rows, n in sorted(repeats.rows.items())
            )
            lines += [
                "",
                f"Repeats: {REPEAT_CONTACTS:,} more contacts' one-click tokens, each "
                f"{repeats.copies} times in a row, so that the copies arrive together on different "
                f"connections, for {repeats.seconds} s (another campaign): {r.answered:,} "
                f"answered with 2xx/3xx, errors {_errors(r)}, p99 {_ms(r.p99)}; requests sent "
                f"for {repeats.contacts:,} contacts; ledger rows per contact: {spread or 'none'}; "
                f"duplicate withdrawals: **{repeats.duplicates:,}**. The contract: repeating the "
                "request answers 200 again and records nothing new.",
            ]
    if results.profiles:
        lines += [
            "",
            "### Where the time goes (1 API process, py-spy)",
            "",
            f"Each public route once more after its measurement, under `py-spy record "
            f"--rate {PROFILE_RATE} --gil` for {results.load.duration} s of the same load, with "
            "tokens of another campaign and contacts; sampling slows the process, so these runs "
            "are not in the tables above. With `--gil` a sample is taken only while Python "
            "code runs (holds the GIL): GIL busy is the share of the time it did; SQLite's and "
            "the kernel's own work, done without the GIL, is not in the samples. Own time: "
            "the package of the function running. Service functions and libraries: share of "
            "samples with them anywhere on the stack (inclusive, so they overlap).",
        ]
        for prof in results.profiles:
            packages = ", ".join(f"{name} {share:.0%}" for name, share in prof.packages)
            functions = "; ".join(f"`{name}` {share:.0%}" for name, share in prof.functions)
            libraries = ", ".join(f"{name} {share:.0%}" for name, share in prof.libraries)
            lines += [
                "",
                f"- {ROUTES[prof.route].label}: GIL busy {prof.busy:.0%} ({prof.samples:,} "
                f"samples, {prof.rate:,.0f} req/s while sampled).",
                f"  - Own time: {packages}.",
                f"  - Service functions: {functions}.",
                f"  - Libraries: {libraries or 'none'}.",
            ]
    lines += ["", "### Verdict", ""] + [f"- {line}" for line in summary(results)]
    return "\n".join(lines)


def summary(results: Results) -> list[str]:
    out = []
    for run_ in results.runs:
        checks = verdicts(run_)
        name = f"{run_.processes} process{'es' if run_.processes > 1 else ''}"
        for key, (rate, p99, within) in checks.items():
            result = run_.results[key]
            ok = within and not result.error_count
            reasons = []
            if rate > TARGET:
                reasons.append(f"{rate:.1f}x fewer requests/s than the ceiling")
            if p99 > TARGET:
                reasons.append(f"p99 {p99:.1f}x the ceiling's")
            if result.error_count:
                reasons.append(f"{result.error_count:,} errors ({_errors(result)})")
            out.append(
                f"{name}, {ROUTES[key].label}: "
                + ("target met." if ok else "target **missed**: " + ", ".join(reasons) + ".")
            )
        events_ok = all(a.ok for a in run_.accounts) and (
            run_.ledger is not None and run_.ledger.ok
        )
        out.append(f"{name}: every event accounted for: " + ("yes." if events_ok else "**no**."))
        if run_.repeats is not None:
            dup = run_.repeats.duplicates
            out.append(
                f"{name}: concurrent repeats of a one-click POST: "
                + (
                    "one withdrawal each, no error."
                    if run_.repeats.ok
                    else f"**{dup:,} duplicate withdrawals** in the ledger, "
                    f"{run_.repeats.result.error_count:,} errors."
                )
            )
    cpus = os.cpu_count() or 1
    crowded = [r.processes for r in results.runs if r.processes + 1 > cpus]
    if crowded:
        shown = ", ".join(map(str, crowded))
        out.append(
            f"This machine has {cpus} CPUs for wrk ({results.load.threads} threads), Redis and "
            f"the API processes: the {shown}-process runs share CPUs with the load generator "
            "and measure contention as much as the service."
        )
    busy = [r.machine_busy for run_ in results.runs for r in run_.results.values()]
    if busy and max(busy) >= 0.9:
        out.append(
            f"The machine's {cpus} CPUs were {min(busy):.0%} to {max(busy):.0%} busy during "
            "the measurements (wrk, Redis and the servers, and any other work): the figures "
            "are bounded by the machine as much as by the service; compare routes only with "
            "their ceiling from the same run."
        )
    return out
