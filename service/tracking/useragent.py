"""Reduce a request's user agent and URLs to what the engagement log may keep.

The raw user agent string identifies a device far better than the browser and
OS families do, so it never leaves this module: callers get an ``Agent``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from urllib.parse import urlsplit

import ua_parser

from service.models.engagement import URL_MAX_LENGTH

# Longer strings are cut before parsing: the rules match near the start, and a
# huge header must not cost regex time or cache memory.
UA_PARSE_LIMIT = 1000
FAMILY_MAX_LENGTH = 64
MAJOR_MAX_LENGTH = 16

# Apple Mail Privacy Protection fetches every remote image through Apple's
# proxy when the message is delivered, opened or not, and that proxy sends
# exactly this user agent, with no platform or engine tokens.
APPLE_PRIVACY_PROXY_AGENT = "mozilla/5.0"

# Case-insensitive tokens of agents that fetch without a person behind the
# request. Each fetch would otherwise count as an open or a click.
AUTOMATED_TOKENS: dict[str, str] = {
    # Gmail loads images through its caching proxy, sometimes ahead of the
    # person opening the message, and serves later opens from the cache.
    "googleimageproxy": "Gmail image proxy",
    # Yahoo Mail does the same through its own proxy.
    "yahoomailproxy": "Yahoo Mail image proxy",
    # Outlook.com renders link previews by fetching the link.
    "bingpreview": "Outlook/Bing link preview",
    # Office apps probe a link before they hand it to the browser; the
    # browser's own request that follows is the person's click.
    "existence discovery": "Microsoft Office link probe",
    "protocol discovery": "Microsoft Office link probe",
    # Microsoft Defender Safe Links, when it names itself (it often poses as
    # a browser from Microsoft's networks, which a user agent cannot tell).
    "safelinks": "Microsoft Safe Links scanner",
    # Mail security gateways follow every link in a message at delivery.
    "barracuda": "Barracuda link scanner",
    "mimecast": "Mimecast link scanner",
    "proofpoint": "Proofpoint URL Defense scanner",
    "zscaler": "Zscaler link scanner",
    "symantec": "Symantec/Broadcom link scanner",
    "urlscan": "urlscan.io scanner",
}

# ua-parser's device family for crawlers, bots and spiders of every kind.
SPIDER_DEVICE = "Spider"


@dataclass(frozen=True, slots=True)
class Agent:
    browser_family: str | None
    browser_major: str | None
    os_family: str | None
    automated: bool


def describe(user_agent: str | None) -> Agent:
    """The browser and OS families of a user agent, and whether it is a machine."""
    if user_agent is None or not user_agent.strip():
        # Browsers and mail clients always send one; scripts and some
        # scanners do not.
        return Agent(None, None, None, automated=True)
    return _describe(user_agent.strip()[:UA_PARSE_LIMIT])


@functools.lru_cache(maxsize=4096)
def _describe(user_agent: str) -> Agent:
    # Few distinct agents open a campaign: most requests are cache hits.
    result = ua_parser.parse(user_agent)
    browser = result.user_agent
    family = browser.family if browser is not None and browser.family != "Other" else None
    major = browser.major if browser is not None else None
    os_family = result.os.family if result.os is not None and result.os.family != "Other" else None
    return Agent(
        browser_family=_cut(family, FAMILY_MAX_LENGTH),
        browser_major=_cut(major, MAJOR_MAX_LENGTH),
        os_family=_cut(os_family, FAMILY_MAX_LENGTH),
        automated=_automated(user_agent, result),
    )


def _automated(user_agent: str, result: ua_parser.Result) -> bool:
    lowered = user_agent.lower()
    if lowered == APPLE_PRIVACY_PROXY_AGENT:
        return True
    if any(token in lowered for token in AUTOMATED_TOKENS):
        return True
    return result.device is not None and result.device.family == SPIDER_DEVICE


def _cut(value: str | None, length: int) -> str | None:
    return value[:length] if value else None


def reduce_url(url: str | None) -> str | None:
    """``https://Example.fi:8443/a/b?q=1#x`` → ``https://example.fi:8443/a/b``.

    Query strings and fragments carry tokens, e-mail addresses and search
    terms, and user info carries credentials: only origin and path are kept.
    None for anything that is not an absolute http(s) URL.
    """
    if url is None:
        return None
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        port = parts.port  # raises ValueError for a port out of range
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not host or not _clean(host + parts.path):
        return None
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal
    origin = f"{scheme}://{host}" if port is None else f"{scheme}://{host}:{port}"
    return (origin + (parts.path or "/"))[:URL_MAX_LENGTH]


def _clean(text: str) -> bool:
    # Whitespace or control characters mean it was never a URL.
    return all(character.isprintable() and not character.isspace() for character in text)
