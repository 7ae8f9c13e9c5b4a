"""Issue 13 item 11: the login page's ``next`` is a path inside /app or nothing. Control
characters (a CRLF would split the Location header), other sites and other paths of
this site fall back to /app."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.models.enums import Role
from service.web.login import _safe_next
from tests.integration.web.conftest import SignedIn

HOSTILE = [
    "/app/contacts\r\nSet-Cookie: session=stolen",
    "/app/contacts\n",
    "/app/\x00",
    "/app/\tcontacts",
    "/app/contacts\x85",
    "/app/contacts\u2028",
    "/app/contacts\u2029",
    "/app/contacts\x7f",
    "/app/contacts\x1b[2J",
    "https://evil.example/app",
    "//evil.example/app",
    "/\\evil.example",
    "/app\\..\\..\\",
    "/application",
    "/api/v1/contacts",
    "javascript:alert(1)",
    "/app contacts",
    "",
]
KEPT = [
    "/app",
    "/app/",
    "/app/contacts",
    "/app/contacts?tag=vip&page=2",
    "/app/contacts/7#timeline",
]


@pytest.mark.parametrize("target", HOSTILE, ids=repr)
def test_anything_but_a_clean_path_inside_app_falls_back_to_app(target: str) -> None:
    assert _safe_next(target) == "/app"


@pytest.mark.parametrize("target", KEPT)
def test_a_path_inside_app_is_kept(target: str) -> None:
    assert _safe_next(target) == target


@pytest.mark.parametrize(
    "target", ["/app/contacts\r\nSet-Cookie: x=1", "/app/x\u2028", "//evil.example"], ids=repr
)
async def test_the_login_page_redirects_a_signed_in_user_to_app(
    signed_in: SignedIn, target: str
) -> None:
    browser = await signed_in(Role.VIEWER)
    answer = await browser.get(f"/app/login?next={quote(target, safe='')}")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/app"
    assert "set-cookie: x" not in str(answer.headers).lower()


async def test_the_login_form_carries_only_a_safe_next(
    client: AsyncTestClient[Litestar],
) -> None:
    hostile = await client.get(f"/app/login?next={quote('/app/x' + chr(13) + chr(10), safe='')}")
    assert hostile.status_code == 200
    assert '<input type="hidden" name="next" value="/app">' in hostile.text
    kept = await client.get(f"/app/login?next={quote('/app/contacts', safe='')}")
    assert '<input type="hidden" name="next" value="/app/contacts">' in kept.text
