"""``/app/staff`` and ``/app/set-password/{token}``: an admin invites,
changes roles, disables and resets through the pages; the invited person
sets a password from the mailed link; every change is audited."""

from __future__ import annotations

import re
from email.message import EmailMessage

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlmodel import col, select

from service.auth import staff
from service.db import SessionMaker
from service.embedded import MailCatcher
from service.models import AuditEvent, User
from service.models.enums import Role
from tests.integration.auth.browser import Browser
from tests.integration.web.conftest import SignedIn, csrf
from tests.integration.web.staff.conftest import PUBLIC_URL

NEW_PASSWORD = "a brand new passphrase"
_LINK = re.compile(re.escape(PUBLIC_URL) + r"(/app/set-password/[A-Za-z0-9_-]{43})")


def _link_in_mail(catcher: MailCatcher, address: str) -> str:
    found = []
    for message in catcher.messages():
        assert isinstance(message, EmailMessage)
        if message["To"] == address:
            text = message.get_body(("plain",))
            assert text is not None
            found.extend(_LINK.findall(str(text.get_content())))
    assert found, f"no link mailed to {address}"
    return found[-1]


async def _user(sessionmaker: SessionMaker, email: str) -> User:
    async with sessionmaker() as session:
        return (await session.exec(select(User).where(User.email == email))).one()


async def _actions(sessionmaker: SessionMaker) -> list[AuditEvent]:
    async with sessionmaker() as session:
        rows = await session.exec(select(AuditEvent).order_by(col(AuditEvent.id)))
        return [row for row in rows.all() if row.action.startswith("user.")]


async def test_only_admins_see_and_open_the_staff_page(signed_in: SignedIn) -> None:
    admin = await signed_in(Role.ADMIN)
    home = await admin.get("/app")
    assert ">Staff</a>" in home.text
    listing = await admin.get("/app/staff")
    assert listing.status_code == 200
    assert "web.admin." in listing.text
    for role in (Role.MARKETER, Role.PRIVACY_OFFICER):
        other = await signed_in(role)
        assert ">Staff</a>" not in (await other.get("/app")).text
        assert (await other.get("/app/staff")).status_code == 403
        refused = await other.post(
            "/app/staff/invite", data={"email": "x@example.fi", "role": "admin"}
        )
        assert refused.status_code == 403


async def test_invite_mail_set_password_sign_in(
    signed_in: SignedIn,
    client: AsyncTestClient[Litestar],
    sessionmaker: SessionMaker,
    smtp_server: MailCatcher,
) -> None:
    admin = await signed_in(Role.ADMIN)
    listing = await admin.get("/app/staff")
    answer = await admin.post(
        "/app/staff/invite",
        data={"email": "invited.web@example.fi", "role": "marketer", "csrf_token": csrf(listing)},
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/app/staff?done=invited"
    shown = await admin.get("/app/staff")
    assert "invited.web@example.fi" in shown.text and "invited" in shown.text
    path = _link_in_mail(smtp_server, "invited.web@example.fi")

    # The link's page needs no login; a wrong second password is named. (A dead
    # link's page knows no account: it speaks the browser's language.)
    client.headers["Accept-Language"] = "en-GB"
    form = await client.get(path)
    assert form.status_code == 200
    assert "invited.web@example.fi" in form.text
    differ = await client.post(
        path, data={"password": NEW_PASSWORD, "password_again": "something else"}
    )
    assert differ.status_code == 422
    assert 'id="password_again-error"' in differ.text
    short = await client.post(path, data={"password": "short", "password_again": "short"})
    assert short.status_code == 422
    assert 'id="password-error"' in short.text
    done = await client.post(
        path,
        data={"password": NEW_PASSWORD, "password_again": NEW_PASSWORD},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/app/login?session=password_set"
    # Used: the link is dead, a clear page, not an error.
    for again in (await client.get(path), await client.post(path, data={"password": "x" * 20})):
        assert again.status_code == 410
        assert "already used" in again.text
    answer = await Browser(client).password("invited.web@example.fi", NEW_PASSWORD)
    assert answer.url.path == "/app/login/enrol"

    actions = [(row.action, row.details) for row in await _actions(sessionmaker)]
    invited = await _user(sessionmaker, "invited.web@example.fi")
    assert ("user.invite", {"user_id": invited.id, "role_after": "marketer"}) in actions
    assert any(action == "user.password_set" for action, _ in actions)
    trail = repr(await _actions(sessionmaker))
    assert "invited.web" not in trail and NEW_PASSWORD not in trail
    assert path.rsplit("/", 1)[1] not in trail


async def test_role_disable_enable_and_reset_through_the_pages(
    signed_in: SignedIn, sessionmaker: SessionMaker, smtp_server: MailCatcher
) -> None:
    admin = await signed_in(Role.ADMIN)
    marketer = await signed_in(Role.MARKETER)
    person = (await _user_candidates(sessionmaker, "web.marketer."))[-1]
    page = await admin.get(f"/app/staff/{person.id}")
    token = csrf(page)
    role = await admin.post(
        f"/app/staff/{person.id}/role", data={"role": "viewer", "csrf_token": token}
    )
    assert role.status_code == 303
    assert (await marketer.get("/app/campaigns/new")).status_code == 403  # a viewer now
    bad_role = await admin.post(
        f"/app/staff/{person.id}/role", data={"role": "root", "csrf_token": token}
    )
    assert bad_role.status_code == 422
    assert 'id="role-error"' in bad_role.text

    confirm = await admin.get(f"/app/staff/{person.id}/disable")
    assert confirm.status_code == 200
    assert f"Disable {person.email}" in confirm.text
    disabled = await admin.post(f"/app/staff/{person.id}/disable", data={"csrf_token": token})
    assert disabled.status_code == 303
    assert (await marketer.get("/app")).status_code == 303  # signed out at once
    enabled = await admin.post(f"/app/staff/{person.id}/enable", data={"csrf_token": token})
    assert enabled.status_code == 303
    assert (await marketer.get("/app")).status_code == 303  # the session stays ended

    reset = await admin.post(f"/app/staff/{person.id}/reset", data={"csrf_token": token})
    assert reset.status_code == 303
    assert _link_in_mail(smtp_server, person.email)
    user = await _user(sessionmaker, person.email)
    assert not staff.has_password(user)

    events = {row.action: row.details for row in await _actions(sessionmaker)}
    assert events["user.set_role"] == {
        "user_id": person.id,
        "role_before": "marketer",
        "role_after": "viewer",
    }
    assert {"user.disable", "user.enable", "user.reset_password"} <= set(events)


async def _user_candidates(sessionmaker: SessionMaker, prefix: str) -> list[User]:
    async with sessionmaker() as session:
        rows = await session.exec(
            select(User).where(col(User.email).startswith(prefix)).order_by(col(User.id))
        )
        return list(rows.all())


async def test_the_last_admin_is_refused_on_the_page(
    signed_in: SignedIn, sessionmaker: SessionMaker
) -> None:
    admin = await signed_in(Role.ADMIN)
    me = (await _user_candidates(sessionmaker, "web.admin."))[-1]
    token = csrf(await admin.get(f"/app/staff/{me.id}"))
    for path, data in (
        (f"/app/staff/{me.id}/disable", {}),
        (f"/app/staff/{me.id}/reset", {}),
        (f"/app/staff/{me.id}/role", {"role": "viewer"}),
    ):
        refused = await admin.post(path, data={**data, "csrf_token": token})
        assert refused.status_code == 409, path
        assert "no active admin" in refused.text
    assert (await admin.get("/app/staff")).status_code == 200  # still signed in, still admin


async def test_forms_without_csrf_or_with_hostile_values_change_nothing(
    signed_in: SignedIn, client: AsyncTestClient[Litestar], sessionmaker: SessionMaker
) -> None:
    admin = await signed_in(Role.ADMIN)
    listing = await admin.get("/app/staff")
    no_csrf = await admin.post(
        "/app/staff/invite", data={"email": "nocsrf@example.fi", "role": "viewer"}
    )
    assert no_csrf.status_code == 403
    token = csrf(listing)
    for email, role, field in (
        ("not an address", "viewer", "email"),
        ("ok@example.fi", "root", "role"),
        ("x" * 5000, "viewer", "email"),
    ):
        answer = await admin.post(
            "/app/staff/invite", data={"email": email, "role": role, "csrf_token": token}
        )
        assert answer.status_code == 422, answer.text
        assert f'id="invite-{field}-error"' in answer.text
    assert (await admin.get("/app/staff/999999")).status_code == 404
    missing = await admin.post("/app/staff/999999/disable", data={"csrf_token": token})
    assert missing.status_code == 404
    for token_path in ("x", "a" * 43, "%00", "a" * 5000):
        answer = await client.get(f"/app/set-password/{token_path}")
        assert answer.status_code == 410
        posted = await client.post(f"/app/set-password/{token_path}", data={"password": "x"})
        assert posted.status_code == 410
    cross = await client.post(
        "/app/set-password/" + "a" * 43,
        data={"password": NEW_PASSWORD},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert cross.status_code == 403
    async with sessionmaker() as session:
        emails = [user.email for user in (await session.exec(select(User))).all()]
    assert "nocsrf@example.fi" not in emails and "ok@example.fi" not in emails
