"""What every hook checks before it believes a request, and the small readers
of the providers' JSON that never raise on a bad value.

A request is refused (401, nothing changes) when it is not signed by the
provider, when its timestamp is more than ``REPLAY_WINDOW`` away from now
(either way), or when its token or signature was taken before: a signed
request captured on the way cannot be played again. The provider's own event
id de-duplicates on top of that, in the database.

A provider's body is its own JSON, and any field may be missing or of
another type; the readers here answer None for what is not there, so one bad
event in a batch is skipped and the others are taken.
"""

from __future__ import annotations

import hashlib
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import Redis

from service import clock, json_limits
from service.validation import InvalidValue, normalize_email

REPLAY_WINDOW = timedelta(minutes=5)
# A token is remembered as long as a request carrying it could still be
# fresh: its timestamp may be up to the window ahead of now or behind it.
SEEN_SECONDS = 2 * int(REPLAY_WINDOW.total_seconds()) + 60
_SEEN_PREFIX = "consentry:hook-seen:"
# Without Redis (a single dev process) the tokens are kept in memory, at
# most this many.
_MEMORY_LIMIT = 10_000
# delivery_events.provider_event_id
MAX_EVENT_ID = 200
# The diagnostic is read to classify, never stored whole.
MAX_DIAGNOSTIC = 1000
_STATUS = re.compile(r"(?<![\d.])([245]\.\d{1,3}\.\d{1,3})(?![\d.])")
_MAX_MESSAGE_ID = 998  # one header line (RFC 5322)


class Refused(Exception):
    """Not authenticated, stale or replayed: 401, and nothing changes. The
    message says which, never a value from the request."""


class Malformed(Exception):
    """Authenticated (or not yet known to be) but not a body this hook reads: 400."""


def load_json(body: bytes) -> Any:
    try:
        return json_limits.loads(body)
    except json_limits.BadJson as exc:
        raise Malformed(str(exc)) from None


def unix_time(raw: object) -> datetime:
    """A timestamp in whole seconds since 1970, as a header or a JSON field
    gives it; Refused when it is not one (it is part of what is signed)."""
    text = str(raw) if isinstance(raw, int) and not isinstance(raw, bool) else raw
    if not (isinstance(text, str) and text.isascii() and text.isdigit() and len(text) <= 12):
        raise Refused("the request's timestamp is missing or not a number of seconds")
    return datetime.fromtimestamp(int(text), UTC)


def iso_time(raw: object) -> datetime:
    """An ISO 8601 instant with its zone ("2026-12-05T12:00:00.000Z")."""
    if isinstance(raw, str) and len(raw) <= 40:
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            pass
        else:
            if moment.tzinfo is not None:
                return moment
    raise Refused("the request's timestamp is missing or not an ISO 8601 time with a zone")


def check_fresh(moment: datetime) -> None:
    if abs(clock.now() - moment) > REPLAY_WINDOW:
        raise Refused(
            "the request's timestamp is more than "
            f"{int(REPLAY_WINDOW.total_seconds()) // 60} minutes from now"
        )


class SeenTokens:
    """The tokens (or signatures) of requests already taken, per provider:
    in Redis, shared by every API process, each kept ``SEEN_SECONDS``; in
    memory when the service runs without Redis."""

    def __init__(self, redis: Redis | None, memory: dict[str, float]) -> None:
        self._redis = redis
        self._memory = memory

    @staticmethod
    def _key(provider: str, token: str) -> str:
        # Hashed: the key's length is ours, whatever the request carried.
        return f"{_SEEN_PREFIX}{provider}:{hashlib.sha256(token.encode()).hexdigest()}"

    async def claim(self, provider: str, token: str) -> bool:
        """True the first time a token is seen; False for a replay."""
        key = self._key(provider, token)
        if self._redis is not None:
            return bool(await self._redis.set(key, b"1", nx=True, ex=SEEN_SECONDS))
        now = time.monotonic()
        if len(self._memory) >= _MEMORY_LIMIT:
            for old in [k for k, until in self._memory.items() if until <= now]:
                del self._memory[old]
        if self._memory.get(key, 0.0) > now:
            return False
        if len(self._memory) >= _MEMORY_LIMIT:
            # Full of live tokens: a flood; refusing is safer than forgetting.
            return False
        self._memory[key] = now + SEEN_SECONDS
        return True

    async def release(self, provider: str, token: str) -> None:
        """Forget a token whose request was not taken after all (the database
        failed), so that the provider's retry is."""
        key = self._key(provider, token)
        if self._redis is not None:
            await self._redis.delete(key)
        else:
            self._memory.pop(key, None)


def obj(value: object) -> dict[str, Any]:
    """The value as a JSON object, or an empty one."""
    return value if isinstance(value, dict) else {}


def items(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def ident(value: object) -> str | None:
    """An id a provider may write as a string or a number."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) and value.strip() else None


def address(value: object) -> str | None:
    """A recipient's address, normalised as contacts' addresses are (so
    their keyed hashes match); None when it is not an address."""
    if not isinstance(value, str):
        return None
    try:
        return normalize_email(value)
    except InvalidValue:
        return None


def message_id(value: object) -> str | None:
    """A Message-ID header's value in its sent form, ``<local@domain>``."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or len(value) > _MAX_MESSAGE_ID or any(c.isspace() for c in value):
        return None
    return value if value.startswith("<") else f"<{value}>"


def header(headers: object, name: str) -> str | None:
    """A header's value from a list of ``{"name": ..., "value": ...}`` (any
    letter case of the keys and of the name), or from a plain object."""
    wanted = name.lower()
    if isinstance(headers, dict):
        for key, value in headers.items():
            if isinstance(key, str) and key.lower() == wanted and isinstance(value, str):
                return value
        return None
    for item in items(headers):
        fields = {str(k).lower(): v for k, v in obj(item).items()}
        found = text(fields.get("name"))
        if found is not None and found.lower() == wanted:
            return text(fields.get("value"))
    return None


def status_in(*texts: object) -> str | None:
    """The first RFC 3463 status code ("5.1.1") in the texts, if any."""
    for value in texts:
        if isinstance(value, str) and (found := _STATUS.search(value)):
            return found.group(1)
    return None


def diagnostic(*texts: object) -> str:
    return " ".join(t.strip() for t in texts if isinstance(t, str) and t.strip())[:MAX_DIAGNOSTIC]


def event_id(*parts: str) -> str:
    """The provider's event id as stored: the parts joined, hashed when long."""
    joined = ":".join(parts)
    if len(joined) <= MAX_EVENT_ID:
        return joined
    return "sha256:" + hashlib.sha256(joined.encode()).hexdigest()
