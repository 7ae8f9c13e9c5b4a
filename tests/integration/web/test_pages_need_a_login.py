"""The ``/app`` pages: nothing without a login, the role's areas in the menu."""

from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.models.enums import Role
from tests.integration.web.conftest import SignedIn


async def test_a_page_without_a_login_sends_to_the_login_form(
    client: AsyncTestClient[Litestar],
) -> None:
    client.follow_redirects = False
    answer = await client.get("/app/account")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/app/login?next=/app/account"


@pytest.mark.parametrize(
    ("role", "shown", "hidden"),
    [
        (Role.MARKETER, ["Contacts", "Campaigns"], ["Audit trail", "Privacy", "Call lists"]),
        (Role.CALLER, ["Call lists"], ["Contacts", "Campaigns", "Audit trail"]),
        (Role.PRIVACY_OFFICER, ["Contacts", "Privacy", "Audit trail"], ["Campaigns"]),
    ],
)
async def test_the_menu_shows_only_the_roles_areas(
    signed_in: SignedIn, role: Role, shown: list[str], hidden: list[str]
) -> None:
    home = await (await signed_in(role)).get("/app")
    assert home.status_code == 200
    assert "default-src 'none'" in home.headers["content-security-policy"]
    menu = home.text.split('<nav aria-label="Main">')[1].split("</nav>")[0]
    for label in shown:
        assert f">{label}</a>" in menu
    for label in hidden:
        assert f">{label}</a>" not in menu
