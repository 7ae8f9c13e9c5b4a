"""Issue 18 item 5: the staff pages, their refusals and the set-password
link speak Swedish to a Swedish admin and to the member they invite (the
invited member's language is the inviting admin's until they choose)."""

from __future__ import annotations

from email.message import EmailMessage

from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.auth import login
from service.auth.cookies import PLAIN_COOKIE
from service.db import SessionMaker, session_scope
from service.embedded import MailCatcher
from service.models.enums import Role
from service.settings import Settings
from tests.integration.web.conftest import Client, csrf
from tests.integration.web.staff.test_staff_pages import _link_in_mail
from tests.support.factories import add_staff

NEW_PASSWORD = "ett helt nytt lösenord"


async def _swedish_admin(
    client: AsyncTestClient[Litestar], sessionmaker: SessionMaker, settings: Settings
) -> Client:
    user = await add_staff(
        sessionmaker, role=Role.ADMIN, email="words.admin.sv@example.fi", language="sv"
    )
    async with session_scope(sessionmaker) as session:
        opened = await login.open_complete_session(session, user=user, settings=settings)
    return Client(client, {"Cookie": f"{PLAIN_COOKIE}={opened.token}"})


async def test_a_swedish_admin_invites_and_the_link_speaks_swedish(
    client: AsyncTestClient[Litestar],
    sessionmaker: SessionMaker,
    settings: Settings,
    smtp_server: MailCatcher,
) -> None:
    admin = await _swedish_admin(client, sessionmaker, settings)
    listing = await admin.get("/app/staff")
    assert '<option value="marketer" selected>Marknadsförare</option>' in listing.text
    assert "<td>Administratör</td>" in listing.text  # the role as a word, not a code
    token = csrf(listing)
    for email, role, words in (
        ("not an address", "viewer", "Den här e-postadressen kan inte användas."),
        ("ok.sv@example.fi", "root", "Välj en av rollerna."),
    ):
        refused = await admin.post(
            "/app/staff/invite", data={"email": email, "role": role, "csrf_token": token}
        )
        assert refused.status_code == 422
        assert words in refused.text, words
        assert "must be one of" not in refused.text

    invited = await admin.post(
        "/app/staff/invite",
        data={"email": "invited.sv@example.fi", "role": "viewer", "csrf_token": token},
    )
    assert invited.headers["location"] == "/app/staff?done=invited"
    assert "Inbjudan har skickats per e-post." in (await admin.get("/app/staff?done=invited")).text
    mails = [m for m in smtp_server.messages() if m["To"] == "invited.sv@example.fi"]
    assert mails and isinstance(mails[-1], EmailMessage)
    assert mails[-1]["Subject"] == "Du har bjudits in till Consentry"

    # The link's page speaks the member's language, whatever the browser asks.
    path = _link_in_mail(smtp_server, "invited.sv@example.fi")
    client.headers["Accept-Language"] = "en-GB"
    form = await client.get(path)
    assert '<html lang="sv">' in form.text
    assert "<title>Välj ditt lösenord · Consentry" in form.text
    assert "Minst 12 tecken." in form.text
    short = await client.post(path, data={"password": "kort", "password_again": "kort"})
    assert short.status_code == 422
    assert "Lösenordet är för kort: minst 12 tecken." in short.text
    differ = await client.post(
        path, data={"password": NEW_PASSWORD, "password_again": "något annat"}
    )
    assert "Lösenorden stämmer inte överens." in differ.text
    done = await client.post(
        path, data={"password": NEW_PASSWORD, "password_again": NEW_PASSWORD},
        follow_redirects=False,
    )  # fmt: skip
    assert done.headers["location"] == "/app/login?session=password_set"
    dead = await client.get(path)  # no account behind a spent link: the browser's language
    assert dead.status_code == 410 and '<html lang="en">' in dead.text
