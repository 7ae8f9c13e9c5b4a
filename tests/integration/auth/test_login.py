"""Interactive login (issue 6 item 1): password, second factor, sessions, CSRF,
timeouts, throttling with lockout, and the record of every attempt."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlmodel import col, select

from service.auth import login
from service.db import SessionMaker, session_scope
from service.models import AuditEvent, LoginAttempt, StaffSession, User
from service.models.enums import LoginOutcome, Role
from tests.integration.auth.browser import Browser, code_at, csrf_of
from tests.support.clock import FrozenClock
from tests.support.factories import PASSWORD, add_staff

EMAIL = "anna.admin@example.fi"
START = datetime(2026, 11, 25, 9, 0, 5, tzinfo=UTC)


@pytest.fixture
def clock_start() -> datetime:
    return START


@pytest.fixture
async def user(sessionmaker: SessionMaker) -> User:
    return await add_staff(sessionmaker, role=Role.ADMIN, email=EMAIL)


@pytest.fixture
def browser(client: AsyncTestClient[Litestar]) -> Browser:
    client.follow_redirects = False  # a test looks at every redirect itself
    return Browser(client)


async def _enrolled(browser: Browser, frozen_clock: FrozenClock) -> tuple[str, list[str]]:
    """Sign in for the first time, setting up the second factor; then sign out."""
    answer = await browser.password(EMAIL, PASSWORD)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/app/login/enrol")
    secret, codes, confirmed = await browser.enrol(frozen_clock.now)
    assert confirmed.status_code == 200, confirmed.text
    home = await browser.client.get("/app/")
    await browser.post_form("/app/logout", {"csrf_token": csrf_of(home)})
    frozen_clock.advance(seconds=30)  # the next code is a new step
    return secret, codes


async def _attempts(sessionmaker: SessionMaker) -> list[LoginOutcome]:
    async with sessionmaker() as session:
        rows = await session.exec(select(LoginAttempt).order_by(col(LoginAttempt.id)))
        return [row.outcome for row in rows.all()]


async def _audit_actions(sessionmaker: SessionMaker) -> list[tuple[str, int | None]]:
    async with sessionmaker() as session:
        rows = await session.exec(select(AuditEvent).order_by(col(AuditEvent.id)))
        return [(row.action, row.actor_user_id) for row in rows.all()]


async def test_first_login_enrols_the_second_factor_and_shows_recovery_codes(
    browser: Browser, user: User, frozen_clock: FrozenClock, sessionmaker: SessionMaker
) -> None:
    assert (await browser.client.get("/app/")).headers["location"] == "/app/login?next=/app"
    answer = await browser.password(EMAIL, PASSWORD)
    pending_token = browser.session_cookie()
    assert pending_token is not None
    # The password alone opens nothing: neither the pages nor the API.
    assert (await browser.client.get("/app/")).status_code == 303
    assert (await browser.client.get("/api/v1/me/tokens")).status_code == 401

    secret, codes, confirmed = await browser.enrol(frozen_clock.now)
    assert "They are shown only now" in confirmed.text
    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert browser.session_cookie() not in {None, pending_token}  # a new token once complete
    home = await browser.client.get("/app/")
    assert home.status_code == 200
    assert EMAIL in home.text
    assert (await browser.client.get("/api/v1/me/tokens")).status_code == 200

    async with sessionmaker() as session:
        stored = await session.get(User, user.id)
        assert stored is not None
        assert stored.totp_secret is not None
        assert secret not in stored.totp_secret  # encrypted at rest
        hashes = await session.exec(select(StaffSession.token_hash))
        assert pending_token not in hashes.all()  # only hashes of tokens are kept
    assert answer.status_code == 303
    assert await _attempts(sessionmaker) == [
        LoginOutcome.PASSWORD_ACCEPTED,
        LoginOutcome.SECOND_FACTOR_ACCEPTED,
    ]
    assert await _audit_actions(sessionmaker) == [
        ("login.password", user.id),
        ("auth.failure", None),  # the API refused the pending session
        ("login.enrolled", user.id),
    ]


async def test_the_pending_token_is_worthless_after_the_second_factor(
    browser: Browser, client: AsyncTestClient[Litestar], user: User, frozen_clock: FrozenClock
) -> None:
    secret, _ = await _enrolled(browser, frozen_clock)
    await browser.password(EMAIL, PASSWORD)
    pending = browser.session_cookie()
    assert (await browser.code(code_at(secret, frozen_clock.now))).status_code == 303
    client.cookies.set("consentry_session", pending or "")
    assert (await client.get("/app/")).status_code == 303


async def test_a_wrong_code_fails_and_a_code_works_once(
    browser: Browser, user: User, frozen_clock: FrozenClock, sessionmaker: SessionMaker
) -> None:
    secret, _ = await _enrolled(browser, frozen_clock)
    await browser.password(EMAIL, PASSWORD)
    good = code_at(secret, frozen_clock.now)
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    refused = await browser.code(wrong)
    assert refused.status_code == 401
    assert "The code is wrong" in refused.text
    assert (await browser.client.get("/app/")).status_code == 303

    assert (await browser.code(good)).headers["location"] == "/app"
    assert (await browser.client.get("/app/")).status_code == 200

    # The same code again, in the same 30 seconds, by someone who saw it.
    await browser.client.post(
        "/app/logout", data={"csrf_token": csrf_of(await browser.client.get("/app/"))}
    )
    await browser.password(EMAIL, PASSWORD)
    assert (await browser.code(good)).status_code == 401
    outcomes = await _attempts(sessionmaker)
    assert outcomes.count(LoginOutcome.SECOND_FACTOR_FAILED) == 2


async def test_a_recovery_code_signs_in_once(
    browser: Browser, user: User, frozen_clock: FrozenClock, sessionmaker: SessionMaker
) -> None:
    _, codes = await _enrolled(browser, frozen_clock)
    await browser.password(EMAIL, PASSWORD)
    typed = codes[3].lower().replace("-", " ")  # forgiving of case and separators
    answer = await browser.code(typed)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/app/account?recovery_used=1"
    account = await browser.client.get(answer.headers["location"])
    assert 'id="recovery-left">9<' in account.text

    await browser.post_form("/app/logout", {"csrf_token": csrf_of(account)})
    await browser.password(EMAIL, PASSWORD)
    assert (await browser.code(codes[3])).status_code == 401
    assert ("login.recovery_code", user.id) in await _audit_actions(sessionmaker)


async def test_wrong_passwords_lock_the_account_and_unknown_emails_alike(
    browser: Browser, user: User, frozen_clock: FrozenClock, sessionmaker: SessionMaker
) -> None:
    for _ in range(login.MAX_ACCOUNT_FAILURES):
        refused = await browser.password(EMAIL, "not the password")
        assert refused.status_code == 401
        assert "The email or the password is wrong." in refused.text
        frozen_clock.advance(seconds=10)
    locked = await browser.password(EMAIL, PASSWORD)  # even the right one
    assert locked.status_code == 429
    assert "Too many failed attempts" in locked.text
    assert browser.session_cookie() is None

    stranger = [
        (await browser.password("nobody@example.fi", "guess")).status_code
        for _ in range(login.MAX_ACCOUNT_FAILURES + 1)
    ]
    assert stranger == [401] * login.MAX_ACCOUNT_FAILURES + [429]

    frozen_clock.advance(minutes=15)  # the oldest counted failure leaves the window
    assert (await browser.password(EMAIL, PASSWORD)).status_code == 303
    outcomes = await _attempts(sessionmaker)
    assert outcomes.count(LoginOutcome.PASSWORD_FAILED) == 2 * login.MAX_ACCOUNT_FAILURES
    assert outcomes.count(LoginOutcome.THROTTLED) == 2
    actions = await _audit_actions(sessionmaker)
    assert actions.count(("login.failed", user.id)) == login.MAX_ACCOUNT_FAILURES
    assert actions.count(("login.failed", None)) == login.MAX_ACCOUNT_FAILURES


async def test_an_admin_unlock_lets_a_locked_account_in(
    browser: Browser, user: User, frozen_clock: FrozenClock, sessionmaker: SessionMaker
) -> None:
    for _ in range(login.MAX_ACCOUNT_FAILURES):
        await browser.password(EMAIL, "not the password")
    assert (await browser.password(EMAIL, PASSWORD)).status_code == 429
    async with session_scope(sessionmaker) as session:
        stored = await session.get(User, user.id)
        assert stored is not None
        await login.unlock(session, user=stored)
    frozen_clock.advance(seconds=1)
    assert (await browser.password(EMAIL, PASSWORD)).status_code == 303


async def test_many_failures_from_one_address_throttle_every_account(
    browser: Browser, user: User, frozen_clock: FrozenClock
) -> None:
    for number in range(login.MAX_ADDRESS_FAILURES):
        # Spread over accounts, none of which reaches its own limit.
        assert (await browser.password(f"guess{number}@example.fi", "x")).status_code == 401
    assert (await browser.password(EMAIL, PASSWORD)).status_code == 429


async def test_sessions_end_when_idle_and_after_the_absolute_limit(
    browser: Browser, user: User, frozen_clock: FrozenClock, settings: object
) -> None:
    secret, _ = await _enrolled(browser, frozen_clock)
    await browser.password(EMAIL, PASSWORD)
    await browser.code(code_at(secret, frozen_clock.now))
    frozen_clock.advance(minutes=29)
    assert (await browser.client.get("/app/")).status_code == 200
    frozen_clock.advance(minutes=31)  # idle for longer than the 30 minutes
    expired = await browser.client.get("/app/")
    assert expired.status_code == 303
    assert expired.headers["location"] == "/app/login?next=/app&session=expired"
    assert (await browser.client.get("/api/v1/me/tokens")).status_code == 401

    frozen_clock.advance(seconds=30)
    await browser.password(EMAIL, PASSWORD)
    await browser.code(code_at(secret, frozen_clock.now))
    for _ in range(12 * 3):  # busy all day: a page every 20 minutes for 12 hours
        assert (await browser.client.get("/app/")).status_code == 200
        frozen_clock.advance(minutes=20)
    assert (await browser.client.get("/app/")).status_code == 303


async def test_logout_ends_the_session_and_needs_the_csrf_token(
    browser: Browser, client: AsyncTestClient[Litestar], user: User, frozen_clock: FrozenClock
) -> None:
    secret, _ = await _enrolled(browser, frozen_clock)
    await browser.password(EMAIL, PASSWORD)
    await browser.code(code_at(secret, frozen_clock.now))
    token = browser.session_cookie()
    forged = await client.post("/app/logout", data={"csrf_token": "0" * 64})
    assert forged.status_code == 403
    assert (await client.get("/app/")).status_code == 200  # still signed in

    home = await client.get("/app/")
    ended = await client.post("/app/logout", data={"csrf_token": csrf_of(home)})
    assert ended.headers["location"] == "/app/login?session=ended"
    assert browser.session_cookie() is None
    client.cookies.set("consentry_session", token or "")
    assert (await client.get("/app/")).status_code == 303  # the old cookie is dead


async def test_forms_from_another_site_are_refused(
    browser: Browser, client: AsyncTestClient[Litestar], user: User, sessionmaker: SessionMaker
) -> None:
    page = await client.get("/app/login")
    form = {"email": EMAIL, "password": PASSWORD, "csrf_token": csrf_of(page)}
    cross = await client.post("/app/login", data=form, headers={"Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403
    no_token = await client.post("/app/login", data={"email": EMAIL, "password": PASSWORD})
    assert no_token.status_code == 403
    assert await _attempts(sessionmaker) == []  # rejected before any password was checked


async def test_the_api_takes_the_session_cookie_but_changes_need_the_csrf_header(
    browser: Browser, client: AsyncTestClient[Litestar], user: User, frozen_clock: FrozenClock
) -> None:
    secret, _ = await _enrolled(browser, frozen_clock)
    await browser.password(EMAIL, PASSWORD)
    await browser.code(code_at(secret, frozen_clock.now))
    csrf = csrf_of(await client.get("/app/"))
    body = {
        "full_name": "Maija Meikäläinen",
        "legal_basis": "customer_relationship",
        "source": "self",
    }
    assert (await client.post("/api/v1/contacts", json=body)).status_code == 403
    created = await client.post("/api/v1/contacts", json=body, headers={"X-CSRF-Token": csrf})
    assert created.status_code == 201, created.text


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/app", "/api/v1/contacts", "/app\\@evil.example"],
)
async def test_the_next_page_is_never_outside_the_app(
    browser: Browser, client: AsyncTestClient[Litestar], user: User, target: str
) -> None:
    page = await client.get("/app/login")
    answer = await client.post(
        "/app/login",
        data={"email": EMAIL, "password": PASSWORD, "csrf_token": csrf_of(page), "next": target},
    )
    assert answer.headers["location"] == "/app/login/enrol?next=/app"


async def test_a_disabled_user_cannot_sign_in_and_loses_open_sessions(
    browser: Browser, user: User, frozen_clock: FrozenClock, sessionmaker: SessionMaker
) -> None:
    secret, _ = await _enrolled(browser, frozen_clock)
    await browser.password(EMAIL, PASSWORD)
    await browser.code(code_at(secret, frozen_clock.now))
    async with session_scope(sessionmaker) as session:
        stored = await session.get(User, user.id)
        assert stored is not None
        stored.disabled_at = frozen_clock.now
        session.add(stored)
    assert (await browser.client.get("/app/")).status_code == 303
    assert (await browser.password(EMAIL, PASSWORD)).status_code == 401


async def test_a_reset_second_factor_makes_the_next_login_enrol_anew(
    browser: Browser, user: User, frozen_clock: FrozenClock, sessionmaker: SessionMaker
) -> None:
    _, codes = await _enrolled(browser, frozen_clock)
    async with session_scope(sessionmaker) as session:
        stored = await session.get(User, user.id)
        assert stored is not None
        await login.reset_second_factor(session, user=stored)
    answer = await browser.password(EMAIL, PASSWORD)
    assert answer.headers["location"].startswith("/app/login/enrol")
    page = await browser.client.get("/app/login/code")
    assert page.headers["location"] == "/app/login/enrol"  # no way around enrolment
    _, new_codes, _ = await browser.enrol(frozen_clock.now)
    assert not set(codes) & set(new_codes)


async def test_attempts_older_than_the_retention_are_deleted_at_a_sign_in(
    browser: Browser, user: User, frozen_clock: FrozenClock, sessionmaker: SessionMaker
) -> None:
    await browser.password(EMAIL, "not the password")
    frozen_clock.advance(days=89)
    await browser.password(EMAIL, "not the password either")
    frozen_clock.advance(days=2)
    await browser.password(EMAIL, PASSWORD)
    assert await _attempts(sessionmaker) == [
        LoginOutcome.PASSWORD_FAILED,  # 2 days old; the 91-day-old one is gone
        LoginOutcome.PASSWORD_ACCEPTED,
    ]
