"""User agents reduced to families with machines flagged, and URLs reduced to origin + path."""

from __future__ import annotations

import dataclasses

import pytest

from service.tracking.useragent import Agent, describe, reduce_url

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)
SAFARI_IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
OUTLOOK = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17029; Pro)"
GOOGLE_IMAGE_PROXY = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
)
YAHOO_PROXY = "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html"
BARRACUDA = "Barracuda Sentinel (EE)"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
APPLE_PRIVACY_PROXY = "Mozilla/5.0"
MIMECAST_POSING_AS_CHROME = CHROME_WINDOWS + " Mimecast"


@pytest.mark.parametrize(
    ("user_agent", "expected"),
    [
        (CHROME_WINDOWS, Agent("Chrome", "120", "Windows", automated=False)),
        (SAFARI_IOS, Agent("Mobile Safari", "17", "iOS", automated=False)),
        (FIREFOX_LINUX, Agent("Firefox", "121", "Linux", automated=False)),
        (OUTLOOK, Agent("Outlook", "2016", "Windows", automated=False)),
        (GOOGLE_IMAGE_PROXY, Agent("GmailImageProxy", None, "Windows", automated=True)),
        (YAHOO_PROXY, Agent("YahooMailProxy", None, None, automated=True)),
        (BARRACUDA, Agent(None, None, None, automated=True)),
        (GOOGLEBOT, Agent("Googlebot", "2", None, automated=True)),
        (APPLE_PRIVACY_PROXY, Agent(None, None, None, automated=True)),
        (MIMECAST_POSING_AS_CHROME, Agent("Chrome", "120", "Windows", automated=True)),
        (None, Agent(None, None, None, automated=True)),
        ("   ", Agent(None, None, None, automated=True)),
    ],
    ids=[
        "chrome-windows",
        "safari-ios",
        "firefox-linux",
        "outlook",
        "google-image-proxy",
        "yahoo-proxy",
        "barracuda",
        "googlebot",
        "apple-privacy-proxy",
        "mimecast",
        "missing",
        "blank",
    ],
)
def test_describe_classifies_real_user_agents(user_agent: str | None, expected: Agent) -> None:
    assert describe(user_agent) == expected


def test_an_agent_holds_families_only_and_bounds_their_length() -> None:
    assert [field.name for field in dataclasses.fields(Agent)] == [
        "browser_family",
        "browser_major",
        "os_family",
        "automated",
    ]
    agent = describe("Mozilla/5.0 (X11; Linux x86_64) " + "Z" * 10_000 + "/1.0")
    for value in (agent.browser_family, agent.browser_major, agent.os_family):
        assert value is None or len(value) <= 64


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://example.fi/offer/2026?utm_source=mail&email=a@b.fi#top",
            "https://example.fi/offer/2026",
        ),
        ("HTTP://Example.FI", "http://example.fi/"),
        ("https://user:secret@example.fi:8443/a", "https://example.fi:8443/a"),
        ("https://[2001:db8::1]/p?q=1", "https://[2001:db8::1]/p"),
        ("  https://example.fi/x  ", "https://example.fi/x"),
        ("https://example.fi/" + "a" * 600, "https://example.fi/" + "a" * 481),
        ("mailto:maija@example.fi", None),
        ("javascript:alert(1)", None),
        ("ftp://example.fi/file", None),
        ("/relative/path", None),
        ("https://", None),
        ("https://example.fi:99999/", None),
        ("https://[::1/", None),
        ("https://exa mple.fi/", None),
        ("not a url", None),
        ("", None),
        (None, None),
    ],
)
def test_reduce_url_keeps_origin_and_path_only(url: str | None, expected: str | None) -> None:
    reduced = reduce_url(url)
    assert reduced == expected
    assert reduced is None or len(reduced) <= 500
