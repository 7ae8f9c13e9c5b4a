"""Signed-in browser sessions for testing the ``/app`` pages in-process.

``signed_in(role)`` makes a staff member of the role with a complete session
(both factors, made directly by the login service: the login pages have their
own tests in tests/integration/auth/test_login.py) and returns that person's
view of the test's one client: every request carries their session cookie.
One client for everyone, because each client starts the app's lifespan, and
several lifespans overwrite each other's engine and queue in ``app.state``
(a test with two of them hung while shutting them down). ``csrf(page)`` reads
a page's form token.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.auth import login
from service.auth.cookies import PLAIN_COOKIE
from service.db import SessionMaker, session_scope
from service.models.enums import Role
from service.settings import Settings
from tests.conftest import TokenFactory
from tests.integration.auth.browser import csrf_of
from tests.integration.web.privacy.support import Staff, staff_client
from tests.support.factories import add_staff

_numbers = itertools.count(1)


class Client:
    """One person's requests (a session cookie, or a bearer token) through the
    test's one client. Redirects are not followed: tests read them."""

    def __init__(self, client: AsyncTestClient[Litestar], headers: dict[str, str]) -> None:
        self._client = client
        self._headers = headers

    async def get(self, url: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return await self._client.get(
            url, headers={**self._headers, **(headers or {})}, follow_redirects=False
        )

    async def post(
        self, url: str, headers: dict[str, str] | None = None, **body: Any
    ) -> httpx.Response:
        return await self._client.post(
            url, headers={**self._headers, **(headers or {})}, follow_redirects=False, **body
        )

    async def patch(self, url: str, **body: Any) -> httpx.Response:
        return await self._client.patch(url, headers=self._headers, follow_redirects=False, **body)


SignedIn = Callable[[Role], Coroutine[Any, Any, Client]]


@pytest.fixture
def signed_in(
    client: AsyncTestClient[Litestar], sessionmaker: SessionMaker, settings: Settings
) -> SignedIn:
    """A staff member of the role with a complete session (both factors)."""

    async def make(role: Role) -> Client:
        email = f"web.{role.value}.{next(_numbers)}@example.fi"
        user = await add_staff(sessionmaker, role=role, email=email)
        async with session_scope(sessionmaker) as session:
            opened = await login.open_complete_session(session, user=user, settings=settings)
        return Client(client, {"Cookie": f"{PLAIN_COOKIE}={opened.token}"})

    return make


def csrf(page: httpx.Response) -> str:
    return csrf_of(page)


@pytest.fixture
async def staff(
    client: AsyncTestClient[Litestar],
    make_token: TokenFactory,
    sessionmaker: SessionMaker,
    settings: Settings,
) -> Staff:
    """The test's one client as any role in turn (see ``privacy/support.py``)."""
    return await staff_client(client, make_token, sessionmaker, settings)
