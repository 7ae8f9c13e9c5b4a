"""The audience count, the send list and their query plans, as the service
runs them (``queries.audience``, ``queries.build_send_list``,
``queries.pending_batches``)."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from bench import report
from bench.campaign.context import Bench
from bench.campaign.results import AudienceResult, BuildResult
from bench.cli import say
from bench.explain import explain, settings_in_force
from bench.seed import BENCH_TAG
from service import clock
from service.campaigns import queries
from service.campaigns import service as campaigns
from service.campaigns.service import gate_for
from service.db import SessionMaker, create_engine, create_sessionmaker, run
from service.models import Campaign, CampaignRecipient
from service.models.enums import CampaignChannel, Purpose
from service.settings import Settings


async def _limit(bench: Bench, session: Any, *, setting: str | None = None) -> None:
    """PostgreSQL only: a statement timeout (and a diagnostic setting) for this
    transaction alone."""
    if bench.results.database != "postgresql":
        return
    await run(
        session, text(f"SET LOCAL statement_timeout = {int(bench.args.query_timeout * 1000)}")
    )
    if setting:
        await run(session, text(f"SET LOCAL {setting}"))


async def _count(session: Any, gate: Any, *, raw: bool) -> tuple[int, int, dict[Any, int]]:
    """`queries.audience`, or with `raw` its statement alone, without the plan
    setting `audience` makes around it (for the diagnostics)."""
    if not raw:
        return await queries.audience(session, gate)
    total, eligible, *per_reason = (await run(session, queries.audience_query(gate))).one()
    found = zip(gate.reasons, per_reason, strict=True)
    return int(total), int(eligible), {reason: int(n) for reason, n in found if n}


async def _time_audience(
    bench: Bench,
    label: str,
    settings: Settings,
    tags: list[str],
    *,
    sessionmaker: SessionMaker | None = None,
    setting: str | None = None,
    raw: bool = False,
) -> None:
    """`queries.audience` for a campaign over all contacts, `--repeat` times."""
    times: list[float] = []
    outcome: tuple[int, int, dict[Any, int]] = (0, 0, {})
    timed_out = False
    for _ in range(bench.args.repeat):
        async with (sessionmaker or bench.sessionmaker)() as session:
            await _limit(bench, session, setting=setting)
            gate = _audience_gate(settings, tags)
            started = time.perf_counter()
            try:
                outcome = await _count(session, gate, raw=raw)
            except DBAPIError as exc:
                if "statement timeout" not in str(exc) and "canceling statement" not in str(exc):
                    raise
                timed_out = True
            times.append(time.perf_counter() - started)
            if timed_out:
                break
    total, eligible, excluded = outcome
    bench.results.audience.append(
        AudienceResult(
            label,
            times,
            total,
            eligible,
            {r.value: n for r, n in excluded.items()},
            timed_out,
        )
    )
    shown = (
        f"cancelled after {times[-1]:.0f} s (statement_timeout)"
        if timed_out
        else f"{report.spread(times)}; {eligible:,} of {total:,} eligible"
    )
    say(f"audience, {label}: {shown}")


async def measure_audience(bench: Bench) -> None:
    await _time_audience(
        bench, "all contacts, default frequency cap (4 in 30 days)", bench.default_settings, []
    )
    await _time_audience(bench, "all contacts, frequency cap off", bench.settings, [])
    if bench.send_tags:
        await _time_audience(
            bench,
            f"segment tag '{BENCH_TAG}' (the send runs' list), cap off",
            bench.settings,
            [BENCH_TAG],
        )
    if bench.results.database == "postgresql":
        await _time_audience(
            bench,
            "diagnostic: all contacts, default cap, with `SET LOCAL jit = on` (the server's "
            "default; the service's connections turn it off)",
            bench.default_settings,
            [],
            setting="jit = on",
        )


async def measure_audience_after(bench: Bench) -> None:
    """The default frequency cap again, now that campaign_recipients has rows: on the
    benchmark's pooled connections (which ran this query while the table was empty)
    and, on PostgreSQL, on a fresh connection too."""
    async with bench.sessionmaker() as session:
        rows = (
            await session.exec(select(func.count()).select_from(CampaignRecipient))  # type: ignore[call-overload]
        ).scalar_one()
    after = f"after the send runs ({rows:,} rows in campaign_recipients)"
    await measure_plans(bench, after=after)
    if bench.results.database != "postgresql":
        await _time_audience(
            bench, f"all contacts, default frequency cap, {after}", bench.default_settings, []
        )
        return
    await _time_audience(
        bench,
        f"all contacts, default frequency cap, {after}, on the pooled connections that ran "
        "it before",
        bench.default_settings,
        [],
    )
    fresh = create_engine(bench.database_url)
    try:
        await _time_audience(
            bench,
            f"all contacts, default frequency cap, {after}, on a fresh connection",
            bench.default_settings,
            [],
            sessionmaker=create_sessionmaker(fresh),
        )
    finally:
        await fresh.dispose()
    await _time_audience(
        bench,
        f"diagnostic: all contacts, default frequency cap, {after}, on the pooled "
        "connections, forced to a generic plan (`SET LOCAL plan_cache_mode = "
        "force_generic_plan`, what `queries.audience` keeps PostgreSQL from choosing)",
        bench.default_settings,
        [],
        setting="plan_cache_mode = force_generic_plan",
        raw=True,
    )


def _audience_gate(settings: Settings, tags: list[str]) -> Any:
    campaign = Campaign(
        id=0,
        name="audience",
        channel=CampaignChannel.EMAIL,
        purpose=Purpose.DIRECT_MARKETING,
        segment={"tags": tags},
    )
    return gate_for(campaign, settings, today=clock.today(), now=clock.now())


async def measure_plans(bench: Bench, *, after: str = "") -> None:
    """The plans of the audience count and of the send list's INSERT … SELECT (on
    PostgreSQL executed, then rolled back), as the service runs them."""
    results = bench.results
    when = f", {after}" if after else ""
    async with bench.sessionmaker() as session:
        if results.database == "postgresql" and not results.plan_settings:
            results.plan_settings = await settings_in_force(session)
        await _limit(bench, session)
        gate = _audience_gate(bench.default_settings, [])
        label = f"Audience count, all contacts, default frequency cap{when} (`queries.audience`)"
        results.plans.append(await explain(session, label, queries.audience_query(gate)))
    if after:
        return
    lists: list[tuple[str, Settings, list[str]]] = [
        ("all contacts, default frequency cap", bench.default_settings, [])
    ]
    if bench.send_tags:
        segment = f"the send runs' segment (tag '{BENCH_TAG}'), cap off"
        lists.append((segment, bench.settings, bench.send_tags))
    for label, settings, tags in lists:
        campaign_id = await bench.new_campaign("Plan", tags)
        async with bench.sessionmaker() as session:
            campaign = await campaigns.get(session, campaign_id)
            await _limit(bench, session)
            gate = gate_for(campaign, settings, today=clock.today(), now=clock.now())
            statement = queries.send_list_insert(
                gate, campaign_id=campaign_id, channel=campaign.channel
            )
            title = f"Send list, {label} (`queries.build_send_list`, INSERT … SELECT)"
            results.plans.append(await explain(session, title, statement))
    say(f"plans: {len(results.plans)} explained")


async def measure_build(bench: Bench) -> None:
    """The send list of a campaign over all contacts, as ``sending.start`` builds it:
    first into an empty campaign_recipients, then once more for a second campaign."""
    for label in ("first campaign (campaign_recipients empty)", "second campaign"):
        bench.results.builds.append(await _build_once(bench, label))


async def _build_once(bench: Bench, label: str) -> BuildResult:
    campaign_id = await bench.new_campaign("Build list", [])
    settings = bench.default_settings
    timed_out = False
    async with bench.sessionmaker() as session:
        campaign = await campaigns.get(session, campaign_id)
        await _limit(bench, session)
        gate = gate_for(campaign, settings, today=clock.today(), now=clock.now())
        started = time.perf_counter()
        try:
            rows = await queries.build_send_list(
                session, gate=gate, campaign_id=campaign_id, channel=campaign.channel
            )
        except DBAPIError as exc:
            if "statement timeout" not in str(exc) and "canceling statement" not in str(exc):
                raise
            timed_out, rows = True, 0
        inserted = time.perf_counter()
        if timed_out:
            await session.rollback()
        else:
            await session.commit()
        committed = time.perf_counter()
    async with bench.sessionmaker() as session:
        started_batches = time.perf_counter()
        batches = await queries.pending_batches(
            session, campaign_id=campaign_id, batch_size=settings.send_batch_size
        )
        batches_s = time.perf_counter() - started_batches
    say(
        f"send list, {label}: "
        + (
            f"cancelled after {inserted - started:.0f} s (statement_timeout)"
            if timed_out
            else f"{rows:,} rows in {inserted - started:.2f} s (+ commit "
            f"{committed - inserted:.2f} s); {len(batches)} batches listed in {batches_s:.2f} s"
        )
    )
    return BuildResult(
        label, rows, inserted - started, committed - inserted, len(batches), batches_s, timed_out
    )
