"""The API docs and the favicon come from this origin: the docs page loads no
script, style or image from anywhere else (it works offline and under a
policy of 'self' only), and every asset it names is served."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient


class _Assets(HTMLParser):
    """Every URL a page loads by itself: scripts, stylesheets, icons, images."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        url = named.get("src") if tag in {"script", "img"} else named.get("href")
        if tag in {"script", "img", "link"} and url:
            self.urls.append(url)
        self._in_script = tag == "script" and not named.get("src")

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False


@pytest.mark.parametrize("path", ["/schema", "/schema/swagger"])
async def test_the_docs_page_loads_only_from_this_origin(
    client: AsyncTestClient[Litestar], path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    html = response.text
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", html, re.I), "an external origin"
    assets = _Assets()
    assets.feed(html)
    assert assets.inline_scripts == 0  # the policy allows no inline script
    assert {u for u in assets.urls if u.endswith(".js")} >= {
        "/app/static/vendor/swagger-ui-5.35.0/swagger-ui-bundle.js",
        "/app/static/swagger-init.js",
    }
    for url in assets.urls:
        assert url.startswith("/"), url
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert asset.content
    schema = re.search(r'data-schema-url="([^"]+)"', html)
    assert schema is not None
    assert (await client.get(schema.group(1))).json()["info"]["title"] == "Consentry"


async def test_the_docs_policy_allows_this_origin_only(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/schema/swagger")
    (policy,) = response.headers.get_list("content-security-policy")
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'"
    for kind in ("script-src", "style-src", "connect-src"):
        assert directives[kind] == "'self'"
    assert directives["frame-ancestors"] == "'none'"


@pytest.mark.parametrize("path", ["/schema/redoc", "/schema/elements", "/schema/rapidoc"])
async def test_the_other_viewers_are_off(client: AsyncTestClient[Litestar], path: str) -> None:
    assert (await client.get(path)).status_code == 404


async def test_the_favicon_answers(client: AsyncTestClient[Litestar]) -> None:
    ico = await client.get("/favicon.ico")
    assert ico.status_code == 200
    assert ico.headers["content-type"] == "image/x-icon"
    assert ico.content[:4] == b"\x00\x00\x01\x00"  # an ICO header
    svg = await client.get("/app/static/favicon.svg")
    assert svg.status_code == 200
    assert svg.text.startswith("<svg")


@pytest.mark.parametrize("path", ["/app/login", "/p/not-a-token"])
async def test_pages_link_the_favicon_and_their_policy_lets_it_load(
    client: AsyncTestClient[Litestar], path: str
) -> None:
    response = await client.get(path)
    assert '<link rel="icon" href="/app/static/favicon.svg" type="image/svg+xml">' in response.text
    policies = response.headers.get_list("content-security-policy")
    assert any("img-src 'self'" in policy for policy in policies)
