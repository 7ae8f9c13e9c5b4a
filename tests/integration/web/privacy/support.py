"""One client, any role: the call-list, privacy and audit page tests.

A test drives every role through the test's one client, switching its session
cookie, and the API through the same client with a bearer token (one client
per test: see tests/integration/web/conftest.py).
"""

from __future__ import annotations

import itertools

from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.auth import login
from service.auth.cookies import PLAIN_COOKIE
from service.db import SessionMaker, session_scope
from service.models.enums import Role
from service.settings import Settings
from tests.conftest import TokenFactory
from tests.support.factories import add_staff

Client = AsyncTestClient[Litestar]
_numbers = itertools.count(1)


class Staff:
    """The test's one client, signed in as whichever role is needed next."""

    def __init__(self, client: Client, sessionmaker: SessionMaker, settings: Settings) -> None:
        self.client = client
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.user_ids: dict[Role, int] = {}

    async def become(self, role: Role, language: str = "en") -> Client:
        """A new staff member of ``role`` who reads ``language``, signed in on
        the client (both factors)."""
        email = f"pages.{role.value}.{next(_numbers)}@example.fi"
        user = await add_staff(self.sessionmaker, role=role, email=email, language=language)
        async with session_scope(self.sessionmaker) as session:
            opened = await login.open_complete_session(session, user=user, settings=self.settings)
        assert user.id is not None
        self.user_ids[role] = user.id
        self.client.cookies.set(PLAIN_COOKIE, opened.token)
        return self.client


async def staff_client(
    client: Client,
    make_token: TokenFactory,
    sessionmaker: SessionMaker,
    settings: Settings,
) -> Staff:
    """The client, with an admin's bearer token for the API (pages ignore it)."""
    client.follow_redirects = False
    client.headers["Authorization"] = f"Bearer {await make_token(Role.ADMIN)}"
    return Staff(client, sessionmaker, settings)
