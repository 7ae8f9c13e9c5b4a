"""The audit trail's retention (rule audit_trail): its oldest rows are cut
off with a recorded, verifiable cut, and the database lets nothing else go.
And the anonymous cookie decisions' retention (rule anonymous_site_consents)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import col, select

from service import clock, rules
from service.audit import chain
from service.audit.chain import Event
from service.db import SessionMaker, session_scope
from service.models import AuditCut, SiteConsentEvent
from service.models.audit import AuditActor
from service.models.enums import ConsentAction
from service.retention.runner import Tools
from service.settings import Settings, SettingsError, load_settings
from tests.conftest import audit_trail_unlocked
from tests.integration.audit.support import check, trail
from tests.integration.retention.conftest import START, actions, items_on, run_on
from tests.support.clock import FrozenClock
from tests.support.consentry_run import consentry, make_env

OLD = datetime(2019, 3, 1, 10, 0, tzinfo=UTC)  # more than six years before START
TODAY = START.date()


async def append(sessionmaker: SessionMaker, frozen_clock: FrozenClock, at: datetime) -> int:
    local = at.astimezone(clock.LOCAL_ZONE)
    frozen_clock.set(local.date(), at=local.time())
    async with session_scope(sessionmaker) as session:
        return await chain.append(
            session,
            Event(
                actor=AuditActor.SYSTEM,
                action="test.append",
                method="POST",
                route="/test",
                status_code=200,
            ),
        )


async def old_and_new(sessionmaker: SessionMaker, frozen_clock: FrozenClock) -> None:
    """Rows 1-4 written in 2019; 5 within retention; 6 as old as 1 (as a row a
    restore carried over keeps its time), 7 within retention."""
    for day in range(4):
        await append(sessionmaker, frozen_clock, OLD + timedelta(days=day))
    await append(sessionmaker, frozen_clock, START - timedelta(days=3))  # 5: within
    await append(sessionmaker, frozen_clock, OLD)  # 6: old again, but after a kept row
    await append(sessionmaker, frozen_clock, START - timedelta(days=1))  # 7


async def raw(sessionmaker: SessionMaker, statement: str, *, unlocked: bool = False) -> None:
    engine = sessionmaker.kw["bind"]
    async with engine.begin() as connection:
        if unlocked:
            async with audit_trail_unlocked(connection):
                await connection.execute(text(statement))
        else:
            await connection.execute(text(statement))


async def cuts(sessionmaker: SessionMaker) -> list[AuditCut]:
    async with sessionmaker() as session:
        return list((await session.exec(select(AuditCut).order_by(col(AuditCut.id)))).all())


async def cut_once(
    sessionmaker: SessionMaker, settings: Settings, tools: Tools, frozen_clock: FrozenClock
) -> str:
    """Rows of 2019, cut by tonight's run; the anchor (the last removed row's hash)."""
    await old_and_new(sessionmaker, frozen_clock)
    anchor = (await trail(sessionmaker))[3].row_hash
    [item] = await items_on(sessionmaker, settings, TODAY, "audit_trail")
    assert (item.action, item.subject.count, item.reference) == ("delete", 4, "4 audit events")
    report = await run_on(sessionmaker, tools, frozen_clock, TODAY)
    assert [(i.rule, i.outcome) for i in report.items] == [("audit_trail", "done")]
    return anchor


async def test_the_oldest_rows_are_cut_with_a_recorded_anchor_and_the_rest_verifies(
    sessionmaker: SessionMaker, settings: Settings, tools: Tools, frozen_clock: FrozenClock
) -> None:
    anchor = await cut_once(sessionmaker, settings, tools, frozen_clock)

    kept = await trail(sessionmaker)
    # A prefix only: row 6 is as old, but follows a row within retention.
    assert [row.id for row in kept] == [5, 6, 7, 8]
    assert kept[0].prev_hash == anchor
    [cut] = await cuts(sessionmaker)
    assert (cut.removed_through_id, cut.removed_count, cut.anchor_hash) == (4, 4, anchor)
    assert cut.retention_days == settings.audit_retention_days == 2190
    assert cut.oldest_removed_at == OLD
    assert cut.newest_removed_at == OLD + timedelta(days=3)
    # The cut is itself an event of the trail, naming what it removed.
    assert kept[-1].action == "audit.cut"
    assert kept[-1].details == {
        "removed_through_id": 4,
        "removed_count": 4,
        "anchor_hash": anchor,
        "retention_days": 2190,
    }
    assert (await actions(sessionmaker))[0][:3] == (
        "audit_trail",
        "delete",
        "4 audit events through #4",
    )
    result = await check(sessionmaker)
    assert result.intact, result
    assert (result.events, result.newest_id) == (4, 8)
    assert result.cut is not None and result.cut.removed_through_id == 4
    # A second run the same night has nothing more to cut.
    assert await items_on(sessionmaker, settings, TODAY, "audit_trail") == []


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM audit_events WHERE id = 5",
        "DELETE FROM audit_events WHERE id = 8",
        "DELETE FROM audit_events",
        "UPDATE audit_events SET action = 'x' WHERE id = 5",
        "UPDATE audit_cuts SET removed_through_id = 8",
        "DELETE FROM audit_cuts",
    ],
)
async def test_the_database_lets_no_row_go_that_no_cut_covers(
    sessionmaker: SessionMaker,
    settings: Settings,
    tools: Tools,
    frozen_clock: FrozenClock,
    statement: str,
) -> None:
    await cut_once(sessionmaker, settings, tools, frozen_clock)
    with pytest.raises(DBAPIError, match="is append-only"):
        await raw(sessionmaker, statement)
    assert [row.id for row in await trail(sessionmaker)] == [5, 6, 7, 8]
    assert len(await cuts(sessionmaker)) == 1


async def test_without_a_cut_no_row_may_be_deleted(
    sessionmaker: SessionMaker, frozen_clock: FrozenClock
) -> None:
    await old_and_new(sessionmaker, frozen_clock)
    with pytest.raises(DBAPIError, match="audit_events is append-only"):
        await raw(sessionmaker, "DELETE FROM audit_events WHERE id = 1")
    assert len(await trail(sessionmaker)) == 7


@pytest.mark.parametrize(
    ("statement", "broken", "problem"),
    [
        # The anchor altered (by someone past the triggers).
        ("UPDATE audit_cuts SET anchor_hash = 'ffff'", 5, "anchor of the retention cut"),
        # The first kept row removed without a cut.
        ("DELETE FROM audit_events WHERE id = 5", 6, "anchor of the retention cut"),
        # A row in the middle removed without a cut.
        ("DELETE FROM audit_events WHERE id = 6", 7, "changed or removed"),
        # A cut's record rewritten to cover more than the retention removed.
        ("UPDATE audit_cuts SET removed_through_id = 5", 6, "anchor of the retention cut"),
    ],
)
async def test_tampering_with_the_cut_or_the_kept_part_fails_verification(
    sessionmaker: SessionMaker,
    settings: Settings,
    tools: Tools,
    frozen_clock: FrozenClock,
    statement: str,
    broken: int,
    problem: str,
) -> None:
    await cut_once(sessionmaker, settings, tools, frozen_clock)
    await raw(sessionmaker, statement, unlocked=True)
    result = await check(sessionmaker)
    assert not result.intact
    assert result.broken_id == broken
    assert problem in (result.problem or "")


async def test_a_cut_recorded_outside_the_retention_fails_verification(
    sessionmaker: SessionMaker, frozen_clock: FrozenClock
) -> None:
    """Someone inserts a cut row (the triggers allow inserts) to delete rows
    the retention never cut: the trail holds no audit.cut event for it."""
    await old_and_new(sessionmaker, frozen_clock)
    rows = await trail(sessionmaker)
    async with session_scope(sessionmaker) as session:
        session.add(
            AuditCut(
                removed_through_id=5,
                removed_count=5,
                anchor_hash=rows[4].row_hash,
                retention_days=2190,
                cut_at=START,
            )
        )
    await raw(sessionmaker, "DELETE FROM audit_events WHERE id <= 5")
    result = await check(sessionmaker)
    assert not result.intact
    assert "no audit.cut event" in (result.problem or "")


async def test_zero_keeps_the_trail_for_ever(
    sessionmaker: SessionMaker, settings: Settings, frozen_clock: FrozenClock
) -> None:
    await old_and_new(sessionmaker, frozen_clock)
    environ = {
        "CONSENTRY_DATABASE_URL": settings.database_url,
        "CONSENTRY_SECRET_KEY": settings.secret_key,
        "CONSENTRY_AUDIT_RETENTION_DAYS": "0",
    }
    forever = load_settings(environ)
    assert forever.audit_retention_days == 0
    assert await items_on(sessionmaker, forever, TODAY, "audit_trail") == []
    with pytest.raises(SettingsError, match="AUDIT_RETENTION_DAYS"):
        load_settings({**environ, "CONSENTRY_AUDIT_RETENTION_DAYS": "30"})


# -- anonymous cookie decisions -------------------------------------------------------


async def decision(sessionmaker: SessionMaker, at: datetime, contact_id: int | None) -> int:
    async with session_scope(sessionmaker) as session:
        row = SiteConsentEvent(
            visitor="v" * 22,
            contact_id=contact_id,
            category="analytics",
            action=ConsentAction.GRANT,
            occurred_at=at,
        )
        session.add(row)
        await session.flush()
        assert row.id is not None
        return row.id


async def test_anonymous_cookie_decisions_go_after_the_cookie_and_a_margin(
    sessionmaker: SessionMaker,
    settings: Settings,
    tools: Tools,
    frozen_clock: FrozenClock,
    new_contact: object,
) -> None:
    days = settings.visit_cookie_days + rules.SITE_CONSENT_MARGIN_DAYS
    contact_id = await new_contact()  # type: ignore[operator]
    due_day = TODAY - timedelta(days=days + 1)
    old_anonymous = await decision(sessionmaker, rules.local_midnight(due_day), None)
    old_linked = await decision(sessionmaker, rules.local_midnight(due_day), contact_id)
    # Still within the cookie's life and the margin.
    recent = await decision(sessionmaker, rules.local_midnight(TODAY - timedelta(days=days)), None)

    [item] = await items_on(sessionmaker, settings, TODAY, "anonymous_site_consents")
    assert (item.subject.count, item.due_on) == (1, TODAY)
    assert item.reference == "1 anonymous cookie decision"
    await run_on(sessionmaker, tools, frozen_clock, TODAY)

    async with sessionmaker() as session:
        left = (await session.exec(select(col(SiteConsentEvent.id)))).all()
    assert sorted(left) == sorted([old_linked, recent])
    assert old_anonymous not in left
    assert (await actions(sessionmaker))[-1][:3] == (
        "anonymous_site_consents",
        "delete",
        "1 anonymous cookie decision",
    )


async def test_the_command_reports_the_cut_and_fails_on_an_altered_anchor(
    sessionmaker: SessionMaker,
    settings: Settings,
    tools: Tools,
    frozen_clock: FrozenClock,
    database_url: str,
    tmp_path: Path,
) -> None:
    anchor = await cut_once(sessionmaker, settings, tools, frozen_clock)
    env = make_env(tmp_path, CONSENTRY_DATABASE_URL=database_url)
    intact = consentry(env, "audit", "verify")
    assert intact.returncode == 0, intact.stderr
    first, cut, newest = intact.stdout.splitlines()
    assert first == "audit trail intact: 4 events"
    assert cut.startswith("retention cut: events up to #4 (4 in the last cut) removed on ")
    assert cut.endswith(f"after 2190 days; the kept events verified from its anchor {anchor}")
    assert newest.startswith("newest: 8:")

    await raw(sessionmaker, "UPDATE audit_cuts SET anchor_hash = 'ffff'", unlocked=True)
    broken = consentry(env, "audit", "verify")
    assert broken.returncode == 1
    assert "the anchor of the retention cut through event #4" in broken.stderr
