"""``consentry user list|invite|disable|enable|set-role|reset-password``
in-process against the test database (both backends)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator

import pytest
from sqlmodel import col, select

from service.auth import staff
from service.cli import main
from service.db import SessionMaker, session_scope
from service.embedded import MailCatcher
from service.models import AuditEvent, User
from service.models.enums import Role
from service.settings import get_settings
from tests.support.factories import add_staff

LINK = re.compile(r"https?://\S+/app/set-password/[A-Za-z0-9_-]{43}")


@pytest.fixture(autouse=True)
def cli_env(
    monkeypatch: pytest.MonkeyPatch, settings_env: dict[str, str], database_url: str
) -> Iterator[None]:
    for name, value in {**settings_env, "CONSENTRY_DATABASE_URL": database_url}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CONSENTRY_SMTP_HOST", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def consentry(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    def call() -> int:
        try:
            main(list(args))
        except SystemExit as exc:
            return int(exc.code or 0)
        return 0

    code = await asyncio.to_thread(call)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def test_list_disable_enable_set_role(
    sessionmaker: SessionMaker, capsys: pytest.CaptureFixture[str]
) -> None:
    await add_staff(sessionmaker, role=Role.ADMIN, email="boss@example.fi")
    await add_staff(sessionmaker, role=Role.MARKETER, email="mia@example.fi")
    code, out, _ = await consentry(capsys, "user", "list", "--json")
    assert code == 0
    listed = {row["email"]: row for row in json.loads(out)}
    assert listed["mia@example.fi"]["role"] == "marketer"
    assert listed["mia@example.fi"]["state"] == "active"
    assert listed["mia@example.fi"]["last_sign_in_at"] is None
    assert listed["mia@example.fi"]["second_factor"] is False

    assert (await consentry(capsys, "user", "set-role", "mia@example.fi", "viewer"))[0] == 0
    code, out, _ = await consentry(capsys, "user", "disable", "MIA@example.fi")
    assert code == 0 and "disabled" in out
    code, out, _ = await consentry(capsys, "user", "list")
    assert re.search(r"mia@example.fi\s+viewer\s+disabled\s+never\s+no", out), out
    assert (await consentry(capsys, "user", "enable", "mia@example.fi"))[0] == 0

    async with sessionmaker() as session:
        rows = await session.exec(select(AuditEvent).order_by(col(AuditEvent.id)))
        events = [(row.action, row.details) for row in rows.all()]
    mia = next(e for e in events if e[0] == "user.set_role")[1]
    assert mia["role_before"] == "marketer" and mia["role_after"] == "viewer"
    assert {"user.disable", "user.enable"} <= {action for action, _ in events}
    assert "mia@" not in repr(events)


async def test_the_last_admin_and_bad_input_are_clear_errors(
    sessionmaker: SessionMaker, capsys: pytest.CaptureFixture[str]
) -> None:
    await add_staff(sessionmaker, role=Role.ADMIN, email="only@example.fi")
    for args in (
        ("disable", "only@example.fi"),
        ("set-role", "only@example.fi", "viewer"),
        ("reset-password", "only@example.fi"),
    ):
        code, _, err = await consentry(capsys, "user", *args)
        assert code == 1, args
        assert err.startswith("consentry: this would leave no active admin"), err
        assert "Traceback" not in err
    code, _, err = await consentry(capsys, "user", "disable", "nobody@example.fi")
    assert (code, err) == (1, "consentry: no user with this email\n")
    code, _, err = await consentry(capsys, "user", "disable", "not an address")
    assert code == 1 and "email" in err
    code, _, err = await consentry(capsys, "user", "set-role", "only@example.fi", "root")
    assert code == 2 and "invalid choice" in err
    code, _, err = await consentry(capsys, "user", "invite", "only@example.fi", "--role", "viewer")
    assert code == 1 and "already exists" in err


async def test_invite_and_reset_print_the_link_without_a_relay(
    sessionmaker: SessionMaker, capsys: pytest.CaptureFixture[str]
) -> None:
    await add_staff(sessionmaker, role=Role.ADMIN)
    code, out, _ = await consentry(capsys, "user", "invite", "new@example.fi", "--role", "caller")
    assert code == 0, out
    (url,) = LINK.findall(out)
    token = url.rsplit("/", 1)[1]
    async with sessionmaker() as session:
        assert await staff.usable_link(session, token) is not None
        events = repr((await session.exec(select(AuditEvent))).all())
    assert token not in events

    code, out, _ = await consentry(capsys, "user", "reset-password", "new@example.fi")
    assert code == 0
    (second,) = LINK.findall(out)
    async with sessionmaker() as session:
        assert await staff.usable_link(session, token) is None  # replaced
        assert await staff.usable_link(session, second.rsplit("/", 1)[1]) is not None


async def test_invite_mails_the_link_through_the_relay(
    sessionmaker: SessionMaker,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    smtp_server: MailCatcher,
) -> None:
    monkeypatch.setenv("CONSENTRY_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CONSENTRY_SMTP_PORT", str(smtp_server.port))
    get_settings.cache_clear()
    # The catcher is the session's: mail of an earlier backend's run is there too.
    before = len([m for m in smtp_server.messages() if m["To"] == "mailed.cli@example.fi"])
    code, out, _ = await consentry(
        capsys, "user", "invite", "mailed.cli@example.fi", "--role", "viewer"
    )
    assert code == 0
    assert "mailed to mailed.cli@example.fi" in out
    assert not LINK.findall(out)  # mailed, so not printed
    mails = [m for m in smtp_server.messages() if m["To"] == "mailed.cli@example.fi"]
    assert len(mails) == before + 1
    text = mails[-1].get_body(("plain",))
    assert text is not None
    assert LINK.findall(str(text.get_content()))
    async with session_scope(sessionmaker) as session:
        user = (await session.exec(select(User).where(User.email == "mailed.cli@example.fi"))).one()
        assert staff.state_of(user) is staff.StaffState.INVITED
