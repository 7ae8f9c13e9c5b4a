"""A browser's view of the login pages for tests: forms, their CSRF tokens, cookies."""

from __future__ import annotations

import html
import re
from datetime import datetime
from typing import Any

import httpx
import pyotp
from litestar import Litestar
from litestar.testing import AsyncTestClient

_CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')
_SECRET = re.compile(r'<code class="secret" id="secret">([A-Z2-7 ]+)</code>')
_CODES = re.compile(r"<li><code>([0-9A-Z-]{14})</code></li>")


def csrf_of(page: httpx.Response) -> str:
    found = _CSRF.search(page.text)
    assert found is not None, "the page has no form with a CSRF token"
    return html.unescape(found.group(1))


def code_at(secret: str, moment: datetime) -> str:
    return pyotp.TOTP(secret).at(moment)


class Browser:
    """Drives the login pages the way a person's browser does (cookies kept,
    and a language asked for: before sign-in the pages speak the browser's
    language, Finnish when it names none)."""

    def __init__(self, client: AsyncTestClient[Litestar], *, language: str = "en-GB") -> None:
        self.client = client
        client.headers["Accept-Language"] = language

    async def post_form(self, path: str, form: dict[str, str], **kwargs: Any) -> httpx.Response:
        return await self.client.post(path, data=form, **kwargs)

    async def password(self, email: str, password: str) -> httpx.Response:
        page = await self.client.get("/app/login")
        assert page.status_code == 200
        return await self.post_form(
            "/app/login",
            {"email": email, "password": password, "csrf_token": csrf_of(page), "next": "/app"},
        )

    async def enrol(self, moment: datetime) -> tuple[str, list[str], httpx.Response]:
        """Scan the QR code (read the key), answer with its code: the secret,
        the recovery codes shown, and the answer."""
        page = await self.client.get("/app/login/enrol")
        assert page.status_code == 200, page.text
        assert "<svg" in page.text  # the QR code, inline
        found = _SECRET.search(page.text)
        assert found is not None
        secret = found.group(1).replace(" ", "")
        answer = await self.post_form(
            "/app/login/enrol",
            {"code": code_at(secret, moment), "csrf_token": csrf_of(page)},
        )
        return secret, _CODES.findall(answer.text), answer

    async def code(self, code: str) -> httpx.Response:
        page = await self.client.get("/app/login/code")
        assert page.status_code == 200, page.text
        return await self.post_form("/app/login/code", {"code": code, "csrf_token": csrf_of(page)})

    def session_cookie(self) -> str | None:
        return self.client.cookies.get("consentry_session")
