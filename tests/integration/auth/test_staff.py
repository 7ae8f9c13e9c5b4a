"""Staff administration (service.auth.staff): disabling ends sessions and
tokens at once, the last admin cannot be locked out (also when two admins
race), one-time set-password links work once and expire, and a completed
sign-in is stamped."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlmodel import col, select

from service.auth import login, staff
from service.auth import service as auth_service
from service.auth.cookies import PLAIN_COOKIE
from service.db import SessionMaker, session_scope
from service.errors import Conflict, InvalidInput, NotFound
from service.models import ApiToken, RecoveryCode, StaffLink, StaffSession, User
from service.models.enums import Role, StaffLinkPurpose
from service.settings import Settings
from tests.integration.auth.browser import Browser
from tests.support.clock import FrozenClock
from tests.support.factories import PASSWORD, add_staff

Client = AsyncTestClient[Litestar]
NEW_PASSWORD = "a brand new passphrase"


async def _signed_in_both_ways(
    sessionmaker: SessionMaker, settings: Settings, user: User
) -> tuple[str, str]:
    """A real session cookie and a real bearer token of ``user``."""
    async with session_scope(sessionmaker) as session:
        opened = await login.open_complete_session(session, user=user, settings=settings)
        token = await auth_service.issue_token(session, user=user, name="script")
    return opened.token, token


async def _answers(client: Client, cookie: str, token: str) -> tuple[int, int]:
    page = await client.get(
        "/app/account", headers={"Cookie": f"{PLAIN_COOKIE}={cookie}"}, follow_redirects=False
    )
    api = await client.get("/api/v1/me/tokens", headers={"Authorization": f"Bearer {token}"})
    return page.status_code, api.status_code


async def test_disabling_refuses_the_next_request_of_its_session_and_token(
    client: Client, sessionmaker: SessionMaker, settings: Settings
) -> None:
    await add_staff(sessionmaker, role=Role.ADMIN)
    marketer = await add_staff(sessionmaker, role=Role.MARKETER)
    cookie, token = await _signed_in_both_ways(sessionmaker, settings, marketer)
    assert await _answers(client, cookie, token) == (200, 200)

    async with session_scope(sessionmaker) as session:
        assert marketer.id is not None
        ended = await staff.disable(session, user_id=marketer.id, by_user_id=None)
    assert ended.tokens_revoked == 1
    page, api = await _answers(client, cookie, token)
    assert page == 303  # to the login form
    assert api == 401

    # Enabling lets them sign in again, but revives neither.
    async with session_scope(sessionmaker) as session:
        _, changed = await staff.enable(session, user_id=marketer.id)
    assert changed
    assert await _answers(client, cookie, token) == (303, 401)
    async with sessionmaker() as session:
        rows = await session.exec(select(StaffSession).where(StaffSession.user_id == marketer.id))
        assert all(row.ended_at is not None for row in rows.all())
        tokens = await session.exec(select(ApiToken).where(ApiToken.user_id == marketer.id))
        assert all(row.revoked_at is not None for row in tokens.all())


async def test_a_role_change_takes_effect_at_the_next_request(
    client: Client, sessionmaker: SessionMaker, settings: Settings
) -> None:
    await add_staff(sessionmaker, role=Role.ADMIN)
    viewer = await add_staff(sessionmaker, role=Role.VIEWER)
    _, token = await _signed_in_both_ways(sessionmaker, settings, viewer)
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/v1/campaigns", headers=headers)).status_code == 200
    async with session_scope(sessionmaker) as session:
        assert viewer.id is not None
        _, before, after = await staff.set_role(session, user_id=viewer.id, role="caller")
    assert (before, after) == (Role.VIEWER, Role.CALLER)
    assert (await client.get("/api/v1/campaigns", headers=headers)).status_code == 403


async def test_the_last_admin_cannot_be_disabled_demoted_or_reset(
    sessionmaker: SessionMaker,
) -> None:
    only = await add_staff(sessionmaker, role=Role.ADMIN)
    await add_staff(sessionmaker, role=Role.MARKETER)
    assert only.id is not None
    for change in (
        lambda s: staff.disable(s, user_id=only.id, by_user_id=None),
        lambda s: staff.set_role(s, user_id=only.id, role=Role.VIEWER),
        lambda s: staff.reset_password(s, user_id=only.id, by_user_id=None),
    ):
        with pytest.raises(Conflict) as refused:
            async with session_scope(sessionmaker) as session:
                await change(session)
        assert refused.value.reason == "last_admin"
    async with sessionmaker() as session:
        user = await session.get(User, only.id)
        assert user is not None
        assert user.role is Role.ADMIN and user.disabled_at is None
        assert staff.has_password(user)
    # With a second admin, the first may go.
    await add_staff(sessionmaker, role=Role.ADMIN)
    async with session_scope(sessionmaker) as session:
        await staff.set_role(session, user_id=only.id, role=Role.VIEWER)


async def test_two_admins_disabling_each_other_at_once_leave_one(
    sessionmaker: SessionMaker,
) -> None:
    first = await add_staff(sessionmaker, role=Role.ADMIN)
    second = await add_staff(sessionmaker, role=Role.ADMIN)
    assert first.id is not None and second.id is not None
    async with sessionmaker() as one, sessionmaker() as other:
        await staff.disable(one, user_id=first.id, by_user_id=second.id)
        # The other transaction waits for the first one's lock...
        racing = asyncio.create_task(staff.disable(other, user_id=second.id, by_user_id=first.id))
        await asyncio.sleep(0.5)
        assert not racing.done()
        await one.commit()
        # ...and then sees that no admin would be left.
        with pytest.raises(Conflict) as refused:
            await racing
        assert refused.value.reason == "last_admin"
        await other.rollback()
    async with sessionmaker() as session:
        active = await session.exec(
            select(User).where(User.role == Role.ADMIN, col(User.disabled_at).is_(None))
        )
        assert [user.id for user in active.all()] == [second.id]


async def test_an_invitation_link_sets_a_password_once(
    client: Client, sessionmaker: SessionMaker, frozen_clock: FrozenClock
) -> None:
    async with session_scope(sessionmaker) as session:
        user, link = await staff.invite(
            session, email="New.Person@Example.fi", role="marketer", by_user_id=None
        )
    assert user.email == "new.person@example.fi"
    assert staff.state_of(user) is staff.StaffState.INVITED
    async with sessionmaker() as session:
        row = (await session.exec(select(StaffLink))).one()
        assert row.token_hash != link.token and link.token not in row.token_hash
        assert row.purpose is StaffLinkPurpose.INVITE
        assert row.expires_at - row.created_at == timedelta(hours=72)
    # No password works before the link is used.
    browser = Browser(client)
    assert (await browser.password(user.email, "x" * 12)).status_code == 401
    assert (await browser.password(user.email, staff.NO_PASSWORD)).status_code == 401

    with pytest.raises(InvalidInput) as short:
        async with session_scope(sessionmaker) as session:
            await staff.set_password(session, token=link.token, password="short")
    assert "password" in short.value.fields
    async with session_scope(sessionmaker) as session:
        await staff.set_password(session, token=link.token, password=NEW_PASSWORD)
    with pytest.raises(staff.LinkUnusable):
        async with session_scope(sessionmaker) as session:
            await staff.set_password(session, token=link.token, password="another passphrase")
    answer = await browser.password(user.email, NEW_PASSWORD)
    assert answer.status_code == 200
    assert answer.url.path == "/app/login/enrol"  # on to set up the second factor


async def test_a_link_expires_and_a_newer_one_replaces_it(
    sessionmaker: SessionMaker, frozen_clock: FrozenClock
) -> None:
    await add_staff(sessionmaker, role=Role.ADMIN)
    async with session_scope(sessionmaker) as session:
        user, first = await staff.invite(
            session, email="late@example.fi", role=Role.VIEWER, by_user_id=None
        )
    frozen_clock.advance(timedelta(hours=72, seconds=1))
    async with sessionmaker() as session:
        assert await staff.usable_link(session, first.token) is None
    assert user.id is not None
    async with session_scope(sessionmaker) as session:
        _, second = await staff.reset_password(session, user_id=user.id, by_user_id=None)
        _, third = await staff.reset_password(session, user_id=user.id, by_user_id=None)
    async with sessionmaker() as session:
        assert await staff.usable_link(session, second.token) is None
        assert await staff.usable_link(session, third.token) is not None
        for hostile in ("", "x", "../../etc", "a" * 43, third.token + "x"):
            assert await staff.usable_link(session, hostile) is None


async def test_a_reset_clears_password_second_factor_sessions_and_tokens(
    client: Client, sessionmaker: SessionMaker, settings: Settings
) -> None:
    await add_staff(sessionmaker, role=Role.ADMIN)
    person = await add_staff(sessionmaker, role=Role.MARKETER)
    assert person.id is not None
    cookie, token = await _signed_in_both_ways(sessionmaker, settings, person)
    async with session_scope(sessionmaker) as session:
        user = await session.get(User, person.id)
        assert user is not None
        user.totp_secret = "enrolled"
        await login.replace_recovery_codes(session, user_id=person.id, settings=settings)
    async with session_scope(sessionmaker) as session:
        ended, link = await staff.reset_password(session, user_id=person.id, by_user_id=None)
    assert ended.tokens_revoked == 1
    assert link.row.expires_at - link.row.created_at == timedelta(hours=24)
    assert await _answers(client, cookie, token) == (303, 401)
    async with sessionmaker() as session:
        user = await session.get(User, person.id)
        assert user is not None
        assert user.totp_secret is None and not staff.has_password(user)
        codes = await session.exec(select(RecoveryCode).where(RecoveryCode.user_id == person.id))
        assert all(code.used_at is not None for code in codes.all())
    assert (await Browser(client).password(person.email, PASSWORD)).status_code == 401


async def test_hostile_input_is_refused_with_the_field_named(sessionmaker: SessionMaker) -> None:
    await add_staff(sessionmaker, role=Role.ADMIN, email="taken@example.fi")
    for email in ("not an address", "", "a@b", "x" * 300 + "@example.fi"):
        with pytest.raises(InvalidInput) as bad:
            async with session_scope(sessionmaker) as session:
                await staff.invite(session, email=email, role="viewer", by_user_id=None)
        assert "email" in bad.value.fields
    with pytest.raises(InvalidInput) as role:
        async with session_scope(sessionmaker) as session:
            await staff.invite(session, email="new@example.fi", role="root", by_user_id=None)
    assert "role" in role.value.fields
    with pytest.raises(Conflict):
        async with session_scope(sessionmaker) as session:
            await staff.invite(session, email="TAKEN@example.fi", role="viewer", by_user_id=None)
    with pytest.raises(NotFound):
        async with session_scope(sessionmaker) as session:
            await staff.disable(session, user_id=999999, by_user_id=None)


async def test_a_completed_sign_in_is_stamped(
    client: Client, sessionmaker: SessionMaker, frozen_clock: FrozenClock
) -> None:
    person = await add_staff(sessionmaker, role=Role.VIEWER)
    browser = Browser(client)
    await browser.password(person.email, PASSWORD)
    async with sessionmaker() as session:
        user = await session.get(User, person.id)
        assert user is not None and user.last_sign_in_at is None  # the password alone: not yet
    await browser.enrol(frozen_clock.read())
    async with sessionmaker() as session:
        user = await session.get(User, person.id)
        assert user is not None and user.last_sign_in_at == frozen_clock.read()
