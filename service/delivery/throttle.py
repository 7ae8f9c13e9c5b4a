"""How fast mail goes to each receiving domain.

The SMTP pool limits a worker as a whole (``CONSENTRY_SEND_RATE``). Mailbox
providers also limit each sender: too many connections or messages at once
and they answer 421/451 ("try again later"), and a sender that keeps pushing
loses reputation. A ``DomainThrottle`` keeps, per receiving domain (or group
of domains run by one provider), the messages in flight and a token bucket
for its rate. One is built per worker process and shared by its jobs.

The batch loop never waits on a busy domain while another has mail to send:
it asks ``try_acquire`` for the next row's domain and, when that is full,
takes a row of another domain (service.delivery.batch). Only when every
remaining row is held back does it wait, for a slot to be released or a
token to come due (``wait``), never polling.

A 4xx answer from a domain halves its rate (down to ``MIN_RATE``) and its
concurrency (down to one) for at least ``COOL_DOWN_SECONDS``; afterwards
every ``RECOVER_AFTER`` accepted messages take it one step back up. A
deferral only counts against the level it was sent at: the replies to
messages already in flight when the domain was slowed do not halve it again.

A domain without a rule of its own gets the pool's full concurrency and no
rate of its own (only the global one) until it defers mail.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from time import monotonic
from typing import Final

from service.delivery.messenger import Delivery, Outcome
from service.settings import Settings
from service.settings_readers import DomainRule

logger = logging.getLogger(__name__)

# Conservative starting points for the big providers, which publish no
# numbers of their own: they defer senders that open many connections at
# once, Microsoft and Yahoo sooner than Google. Each can be overridden per
# domain with CONSENTRY_DOMAIN_THROTTLE (docs/deliverability.md).
DEFAULT_RULES: Final = (
    DomainRule(("gmail.com", "googlemail.com"), 5, 20.0),
    DomainRule(
        (
            "outlook.com",
            "hotmail.com",
            "live.com",
            "msn.com",
            "hotmail.co.uk",
            "hotmail.fr",
            "hotmail.de",
            "hotmail.se",
            "live.co.uk",
            "live.fr",
            "live.se",
            "outlook.fr",
            "outlook.de",
        ),
        2,
        5.0,
    ),
    DomainRule(
        (
            "yahoo.com",
            "ymail.com",
            "rocketmail.com",
            "yahoo.co.uk",
            "yahoo.fr",
            "yahoo.de",
            "yahoo.se",
            "yahoo.es",
            "yahoo.it",
            "aol.com",
        ),
        2,
        5.0,
    ),
)

# The slowest a deferring domain is sent to: one message every five seconds.
MIN_RATE: Final = 0.2
# A domain with no rate of its own that defers mail is slowed from this rate.
UNRULED_RATE: Final = 10.0
# Seconds a slowed domain stays at its level before it may recover a step.
COOL_DOWN_SECONDS: Final = 60.0
# Accepted messages, after the cool-down, for one step back up.
RECOVER_AFTER: Final = 10
_MAX_LEVEL: Final = 16
# Domains without a rule are remembered only while they have mail in flight
# or are slowed; past this many, the slowed ones idle longest are forgotten.
_MAX_TRACKED: Final = 10_000
# RFC 3463 enhanced status codes at the start of a reply that are about one
# mailbox rather than the sender (the reply's own "4.1.1", "4.2.2", …).
_ENHANCED_STATUS: Final = re.compile(r"4\.\d{1,3}\.\d{1,3}(?![\d.])")
_MAILBOX_STATUSES: Final = frozenset({"4.2.2", "4.3.4"})
# Answers about the relay or the sending account, whatever the recipient:
# the relay's own storage or shutdown (4.3.1, 4.3.2), an ESP's sending-rate
# or quota limit (Amazon SES "454 4.7.0 Throttling failure: Maximum sending
# rate exceeded"). Slowing the one domain the message was for would punish
# it for everyone's mail; the global rate (CONSENTRY_SEND_RATE) is the knob.
_RELAY_STATUSES: Final = frozenset({"4.3.1", "4.3.2"})
_RELAY_WIDE: Final = re.compile(
    r"throttling failure|maximum sending rate|sending quota|daily (?:message|sending) quota"
    r"|insufficient system storage|too many messages from your account",
    re.IGNORECASE,
)


def receiving_domain(address: str | None) -> str | None:
    """The domain part of an email address, lower-case; None without one."""
    if not address or "@" not in address:
        return None
    domain = address.rpartition("@")[2].strip().rstrip(".").lower()
    return domain or None


def is_deferral(delivery: Delivery) -> bool:
    """A receiving domain's "try again later" (421, 450, 451, 452, …).

    Not the relay being unreachable (that says nothing about the domain), nor
    a reply whose enhanced status is about the one mailbox (4.1.x its
    address, 4.2.2 full, 4.3.4 the message too big for it): slowing a whole
    provider for one full mailbox would punish everyone else's mail."""
    if (
        delivery.outcome is not Outcome.TEMPORARY
        or delivery.relay_unavailable
        or delivery.code is None
        or not 400 <= delivery.code < 500
    ):
        return False
    if _RELAY_WIDE.search(delivery.reply):
        return False
    match = _ENHANCED_STATUS.match(delivery.reply)
    if match is None:
        return True
    status = match.group()
    return (
        not status.startswith("4.1.")
        and status not in _MAILBOX_STATUSES
        and status not in _RELAY_STATUSES
    )


@dataclass(frozen=True, slots=True)
class Slot:
    """One message's place in its domain's limits, from acquire to release."""

    key: str
    level: int  # the domain's slow-down level when the message went


@dataclass(slots=True)
class _Domain:
    key: str
    concurrency: int  # the rule's, or the pool's size
    rate: float | None  # the rule's; None: no rate of its own
    ruled: bool
    stamp: float
    in_flight: int = 0
    level: int = 0  # halvings in force
    tokens: float = 1.0
    changed_at: float = -math.inf
    successes: int = 0

    @property
    def limit(self) -> int:
        return max(1, self.concurrency >> self.level)

    @property
    def shown(self) -> str:
        """The domain as logs name it: a provider's domain that a rule names
        (gmail.com); any other may be one person's own, so it is not named."""
        return self.key if self.ruled else "(a domain without a rule)"

    @property
    def current_rate(self) -> float | None:
        if self.level == 0:
            return self.rate
        base = self.rate if self.rate is not None else UNRULED_RATE
        return max(min(MIN_RATE, base), math.ldexp(base, -self.level))

    def refill(self, now: float) -> None:
        rate = self.current_rate
        if rate is not None:
            self.tokens = min(1.0, self.tokens + (now - self.stamp) * rate)
        self.stamp = now

    def at_floor(self) -> bool:
        base = self.rate if self.rate is not None else UNRULED_RATE
        floor = self.limit == 1 and self.current_rate == min(MIN_RATE, base)
        return floor or self.level >= _MAX_LEVEL


@dataclass(frozen=True, slots=True)
class Limits:
    """A domain's limits in force now (for logs, tests and operators)."""

    concurrency: int
    rate: float | None
    level: int
    in_flight: int


@dataclass(slots=True)
class DomainThrottle:
    """Per-domain concurrency and rate for one worker process's sends.

    ``concurrency`` is the pool's size: what a domain without a rule of its
    own may use. ``clock`` is monotonic seconds (tests pass their own)."""

    rules: Sequence[DomainRule]
    concurrency: int
    # Seconds into a batch after which rows of a slowed domain are no longer
    # waited for but left queued for the batch's next try, so that a batch
    # ends well within its job's timeout.
    hold_after: float = 150.0
    clock: Callable[[], float] = monotonic
    _group: dict[str, DomainRule] = field(init=False, default_factory=dict)
    _keys: dict[str, str] = field(init=False, default_factory=dict)
    _domains: dict[str, _Domain] = field(init=False, default_factory=dict)
    _waiters: set[asyncio.Future[None]] = field(init=False, default_factory=set)

    def __post_init__(self) -> None:
        for rule in self.rules:  # later rules win, domain by domain
            for domain in rule.domains:
                self._group[domain] = rule
        # A domain that the settings give a rule of its own leaves its default
        # group; the group is kept under the first domain still in it.
        for domain, rule in self._group.items():
            self._keys[domain] = next(d for d in rule.domains if self._group[d] is rule)

    @classmethod
    def from_settings(cls, settings: Settings) -> DomainThrottle:
        return cls(
            (*DEFAULT_RULES, *settings.domain_throttle),
            settings.send_connections,
            hold_after=settings.send_job_timeout / 2,
        )

    def key(self, domain: str | None) -> str | None:
        """What a domain's limits are kept under: its rule's first domain, or
        itself. None (no domain) is never throttled."""
        if domain is None:
            return None
        return self._keys.get(domain, domain)

    def limits(self, key: str) -> Limits:
        state = self._domains.get(key)
        if state is None:
            state = self._new(key, self.clock())
        return Limits(state.limit, state.current_rate, state.level, state.in_flight)

    def slowed(self, key: str) -> bool:
        """Whether ``key`` is slowed down after deferring mail."""
        state = self._domains.get(key)
        return state is not None and state.level > 0

    def try_acquire(self, key: str) -> Slot | None:
        """A slot for one message to ``key`` if its limits allow one now; else None."""
        now = self.clock()
        state = self._domains.get(key)
        if state is None:
            if key not in self._group:
                self._forget_idle()
            state = self._domains[key] = self._new(key, now)
        if state.in_flight >= state.limit:
            return None
        state.refill(now)
        if state.current_rate is not None:
            if state.tokens < 1:
                return None
            state.tokens -= 1
        state.in_flight += 1
        return Slot(key, state.level)

    def release(self, slot: Slot, delivery: Delivery | None) -> None:
        """The message is done (``delivery`` None: it never got an answer)."""
        state = self._domains[slot.key]
        state.in_flight -= 1
        now = self.clock()
        if delivery is not None and is_deferral(delivery):
            self._slow_down(state, slot, now, delivery.code)
        elif delivery is not None and delivery.outcome is Outcome.SENT and state.level:
            self._recover(state, now)
        if not state.ruled and state.level == 0 and state.in_flight == 0:
            del self._domains[slot.key]
        self._notify()

    def ready_in(self, keys: Iterable[str]) -> float | None:
        """Seconds until one of ``keys`` has a token again, if one is waiting
        only for a token (not for a slot); None when none is."""
        now = self.clock()
        best: float | None = None
        for key in keys:
            state = self._domains.get(key)
            if state is None:
                return 0.0
            rate = state.current_rate
            if state.in_flight >= state.limit or rate is None:
                continue
            state.refill(now)
            due = max(0.0, (1 - state.tokens) / rate)
            best = due if best is None else min(best, due)
        return best

    async def wait(self, at_most: float | None) -> None:
        """Until any slot is released, or ``at_most`` seconds."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        try:
            await asyncio.wait({waiter}, timeout=at_most)
        finally:
            self._waiters.discard(waiter)

    def _notify(self) -> None:
        waiters, self._waiters = self._waiters, set()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _new(self, key: str, now: float) -> _Domain:
        rule = self._group.get(key)
        if rule is None:
            return _Domain(key, self.concurrency, None, ruled=False, stamp=now)
        return _Domain(key, rule.concurrency, rule.rate, ruled=True, stamp=now)

    def _forget_idle(self) -> None:
        if len(self._domains) < _MAX_TRACKED:
            return
        idle = sorted(
            (s for s in self._domains.values() if not s.ruled and s.in_flight == 0),
            key=lambda s: s.changed_at,
        )
        for state in idle[: len(idle) // 2 + 1]:
            del self._domains[state.key]

    def _slow_down(self, state: _Domain, slot: Slot, now: float, code: int | None) -> None:
        state.successes = 0
        if slot.level < state.level or state.at_floor():
            return  # sent before the last change: that change answered it already
        state.refill(now)
        state.level += 1
        state.changed_at = now
        state.tokens = min(state.tokens, 0.0)  # the next message waits a full interval
        logger.warning(
            "receiving domain %s deferred mail (%s): slowed to %d at once and %.2f a second",
            state.shown,
            code,
            state.limit,
            state.current_rate,
        )

    def _recover(self, state: _Domain, now: float) -> None:
        state.successes += 1
        if state.successes < RECOVER_AFTER or now - state.changed_at < COOL_DOWN_SECONDS:
            return
        state.refill(now)
        state.level -= 1
        state.successes = 0
        state.changed_at = now
        rate = state.current_rate
        logger.info(
            "receiving domain %s recovering: %d at once and %s a second",
            state.shown,
            state.limit,
            "no limit" if rate is None else f"{rate:.2f}",
        )
