"""Reading one ``CONSENTRY_*`` value: text, a choice, a number, a port, a URL,
web origins, an email address, per-domain sending limits.

Each reader takes the environment and the name without its prefix, returns the
default when the variable is unset or blank, and raises :class:`SettingsError`
naming the variable when the value is bad. ``service.settings`` puts them
together into one Settings object.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from email.utils import parseaddr, quote
from enum import StrEnum
from typing import TypeVar
from urllib.parse import urlsplit

PREFIX = "CONSENTRY_"
E = TypeVar("E", bound=StrEnum)
# C0 and C1 control characters, DEL, and the Unicode line and paragraph
# separators: in a setting they end up in a header, a link or a log line,
# where a line break can add a header or forge a log entry.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# The characters that make a display name need quotes (RFC 5322 "specials").
_SPECIALS = re.compile(r'[][\\()<>@,:;".]')
# A receiving domain in a throttling rule: DNS labels of letters, digits and
# hyphens (an internationalised domain in its xn-- form).
_DOMAIN = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}")


class SettingsError(ValueError):
    """A setting has a bad value; the message names the variable."""


def text(environ: dict[str, str], name: str) -> str | None:
    value = environ.get(PREFIX + name, "").strip()
    return value or None


def choice(environ: dict[str, str], name: str, enum: type[E], default: E) -> E:
    raw = text(environ, name)
    if raw is None:
        return default
    try:
        return enum(raw.lower())
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise SettingsError(f"{PREFIX}{name}: must be one of {allowed}") from None


def port(environ: dict[str, str], name: str, default: int) -> int:
    raw = text(environ, name)
    if raw is None:
        return default
    # isdigit() alone admits digits such as "²" that int() refuses.
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 65535:
        raise SettingsError(f"{PREFIX}{name}: must be a port number from 1 to 65535")
    return int(raw)


def number(environ: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = text(environ, name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise SettingsError(f"{PREFIX}{name}: must be a whole number from {low} to {high}")
    return int(raw)


def url(
    environ: dict[str, str], name: str, default: str | None, schemes: tuple[str, ...]
) -> str | None:
    raw = text(environ, name)
    if raw is None:
        return default
    try:
        parts = urlsplit(raw)
    except ValueError:  # e.g. an unclosed "[" of an IPv6 host
        raise SettingsError(f"{PREFIX}{name}: not a valid URL") from None
    if parts.scheme not in schemes:
        raise SettingsError(f"{PREFIX}{name}: must be a URL starting with {' or '.join(schemes)}")
    if not parts.netloc and parts.scheme.startswith(("http", "redis")):
        raise SettingsError(f"{PREFIX}{name}: the URL has no host")
    return raw


def origins(environ: dict[str, str], name: str) -> tuple[str, ...]:
    """Comma-separated web origins, each ``scheme://host[:port]`` and nothing more."""
    found = []
    for item in (text(environ, name) or "").split(","):
        if not item.strip():
            continue
        try:
            parts = urlsplit(item.strip())
            parts.port  # noqa: B018  (raises on a port that is not a number)
        except ValueError:
            parts = urlsplit("")
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.path not in ("", "/")
            or parts.query
            or parts.fragment
        ):
            raise SettingsError(
                f"{PREFIX}{name}: {item.strip()!r} is not an origin like https://www.example.fi"
            )
        found.append(f"{parts.scheme}://{parts.netloc.lower()}")
    return tuple(found)


@dataclass(frozen=True, slots=True)
class DomainRule:
    """Sending limits shared by one or more receiving domains (a group, such
    as gmail.com and googlemail.com): messages in flight at once, and messages
    per second (None: only the global rate applies)."""

    domains: tuple[str, ...]
    concurrency: int
    rate: float | None


_RULE_FORM = "DOMAIN[|DOMAIN...]=CONCURRENCY[/RATE], e.g. example.com=2/10"


def domain_rules(environ: dict[str, str], name: str) -> tuple[DomainRule, ...]:
    """Comma-separated rules ``DOMAIN[|DOMAIN…]=CONCURRENCY[/RATE]``.

    CONCURRENCY is a whole number from 1 to 1000, RATE messages per second
    (a decimal number above 0, at most 100000). A domain may appear once."""
    rules: list[DomainRule] = []
    seen: set[str] = set()
    for item in (text(environ, name) or "").split(","):
        if not item.strip():
            continue
        rule = item.strip()

        def bad(why: str, rule: str = rule) -> SettingsError:
            return SettingsError(f"{PREFIX}{name}: {rule!r}: {why} (the form is {_RULE_FORM})")

        left, equals, limits = rule.partition("=")
        if not equals:
            raise bad("no '='")
        domains = tuple(d.strip().lower().rstrip(".") for d in left.split("|"))
        for domain in domains:
            if not domain.isascii() or not _DOMAIN.fullmatch(domain):
                raise bad(f"{domain!r} is not a domain name")
            if domain in seen:
                raise bad(f"{domain} has a rule already")
            seen.add(domain)
        concurrency, slash, rate = (part.strip() for part in limits.partition("/"))
        if not (concurrency.isascii() and concurrency.isdigit() and 1 <= int(concurrency) <= 1000):
            raise bad("the concurrency must be a whole number from 1 to 1000")
        per_second = None
        if slash:
            try:
                per_second = float(rate)
            except ValueError:
                per_second = math.nan
            if not 0 < per_second <= 100_000:  # also refuses nan and inf
                raise bad("the rate must be a number of messages per second above 0")
        rules.append(DomainRule(domains, int(concurrency), per_second))
    return tuple(rules)


def parse_address(name: str, raw: str) -> tuple[str, str]:
    """``(display name, bare address)`` of ``addr`` or ``Name <addr>``.

    The domain is IDNA-encoded, since the envelope and Message-IDs need ASCII;
    the local part must be ASCII (a non-ASCII one needs SMTPUTF8, which not
    every relay offers).
    """
    display, address = parseaddr(raw)
    local, _, domain = address.rpartition("@")
    plain = "<" not in raw or raw.rstrip().endswith(">")
    if not (plain and local and domain and raw.count("<") <= 1) or any(
        c.isspace() or c in "<>" for c in address
    ):
        raise SettingsError(
            f"{PREFIX}{name}: must be an email address, optionally with a display name "
            '("Firma Oy <news@firma.fi>")'
        )
    if not local.isascii():
        raise SettingsError(f"{PREFIX}{name}: the part before @ must be ASCII")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise SettingsError(f"{PREFIX}{name}: {domain!r} is not a valid domain") from None
    return display.strip(), f"{local}@{domain}"


def with_display_name(display: str, address: str) -> str:
    """The header form: the name quoted where RFC 5322 needs it (message
    building encodes a non-ASCII name, RFC 2047)."""
    if not display:
        return address
    if _SPECIALS.search(display):
        display = f'"{quote(display)}"'
    return f"{display} <{address}>"


def address(environ: dict[str, str], name: str) -> str | None:
    """A bare address setting; a display name given with it is dropped."""
    raw = text(environ, name)
    return None if raw is None else parse_address(name, raw)[1]


def refuse_control_characters(environ: dict[str, str]) -> None:
    for name in sorted(environ):
        if name.startswith(PREFIX) and _CONTROL.search(environ[name]):
            # Never the value: it may be a key or a password.
            raise SettingsError(
                f"{name}: contains a control character (a line break, tab or other "
                "invisible character); remove it"
            )


# A DNS label: letters, digits and inner hyphens, at most 63 of them.
_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def is_dns_name(value: str) -> bool:
    """Whether ``value`` is a dot-separated DNS name (a domain, a DKIM selector)."""
    return bool(value) and all(_LABEL.fullmatch(part) for part in value.split("."))
