"""Per-domain throttling (issue 15 item 7): the setting, the groups, each
domain's concurrency and rate (on a clock the test moves), the slow-down
after a 4xx deferral and the recovery after it."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import pytest

from service.cli import main
from service.delivery.messenger import Delivery, Outcome
from service.delivery.throttle import (
    COOL_DOWN_SECONDS,
    MIN_RATE,
    RECOVER_AFTER,
    UNRULED_RATE,
    DomainThrottle,
    Slot,
    is_deferral,
    receiving_domain,
)
from service.settings import SettingsError, get_settings, load_settings
from service.settings_readers import DomainRule

SENT = Delivery(Outcome.SENT, 250, "2.0.0 ok", False)
DEFERRED = Delivery(Outcome.TEMPORARY, 451, "4.7.0 try again later", False)
NAME = "CONSENTRY_DOMAIN_THROTTLE"


class Clock:
    """Monotonic seconds that move only when the test says."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"CONSENTRY_VAR_DIR": str(tmp_path / "var")}


def throttle(*rules: DomainRule, concurrency: int = 4) -> tuple[DomainThrottle, Clock]:
    clock = Clock()
    return DomainThrottle(rules, concurrency, clock=clock), clock


def acquire(limits: DomainThrottle, clock: Clock, key: str) -> Slot:
    """A slot for one message, the clock moved on to the domain's next token."""
    clock.now += limits.ready_in([key]) or 0.0
    slot = limits.try_acquire(key)
    assert slot is not None
    return slot


def deliver(limits: DomainThrottle, clock: Clock, key: str, delivery: Delivery) -> None:
    limits.release(acquire(limits, clock, key), delivery)


# -- the setting ------------------------------------------------------------------


def test_the_setting_reads_rules_groups_and_optional_rates(env: dict[str, str]) -> None:
    settings = load_settings({**env, NAME: " Example.com=2/10 , a.fi|B.fi.=1/0.5,,other.org = 3 "})
    assert settings.domain_throttle == (
        DomainRule(("example.com",), 2, 10.0),
        DomainRule(("a.fi", "b.fi"), 1, 0.5),
        DomainRule(("other.org",), 3, None),
    )
    assert load_settings(env).domain_throttle == ()


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("example.com", "no '='"),
        ("=2/1", "'' is not a domain name"),
        ("example.com=", "the concurrency must be a whole number from 1 to 1000"),
        ("example.com=0/1", "the concurrency must be a whole number from 1 to 1000"),
        ("example.com=1001", "the concurrency must be a whole number from 1 to 1000"),
        ("example.com=²", "the concurrency must be a whole number from 1 to 1000"),
        ("example.com=2/0", "the rate must be a number of messages per second above 0"),
        ("example.com=2/-1", "the rate must be a number of messages per second above 0"),
        ("example.com=2/nan", "the rate must be a number of messages per second above 0"),
        ("example.com=2/inf", "the rate must be a number of messages per second above 0"),
        ("example.com=2/fast", "the rate must be a number of messages per second above 0"),
        ("example.com=2/1/3", "the rate must be a number of messages per second above 0"),
        ("example.com=2/", "the rate must be a number of messages per second above 0"),
        ("*.example.com=2/1", "'*.example.com' is not a domain name"),
        ("user@example.com=2/1", "'user@example.com' is not a domain name"),
        ("localhost=2/1", "'localhost' is not a domain name"),
        ("exämple.com=2/1", "'exämple.com' is not a domain name"),
        ("a.fi=1, A.fi=2", "a.fi has a rule already"),
        ("a.fi|a.fi=1", "a.fi has a rule already"),
        ("x" * 300 + ".fi=1", "is not a domain name"),
    ],
)
def test_a_malformed_setting_is_refused_with_a_clear_message(
    env: dict[str, str], value: str, why: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({**env, NAME: value})
    message = str(caught.value)
    assert message.startswith(f"{NAME}: ")
    assert why in message
    assert "(the form is DOMAIN[|DOMAIN...]=CONCURRENCY[/RATE], e.g. example.com=2/10)" in message
    assert "\n" not in message


def test_the_worker_throttle_adds_the_settings_to_the_defaults(env: dict[str, str]) -> None:
    settings = load_settings(
        {**env, NAME: "hotmail.com=1/1, example.com=2/3", "CONSENTRY_SEND_CONNECTIONS": "6"}
    )
    built = DomainThrottle.from_settings(settings)
    assert built.key("googlemail.com") == built.key("gmail.com") == "gmail.com"
    assert built.key("live.com") == built.key("msn.com") == "outlook.com"
    assert built.key("ymail.com") == built.key("yahoo.co.uk") == "yahoo.com"
    # A domain with a rule of its own in the settings leaves its default group.
    assert built.key("hotmail.com") == "hotmail.com"
    assert built.limits("hotmail.com").concurrency == 1
    assert built.limits("outlook.com").concurrency == 2
    assert built.limits("example.com").rate == 3.0
    # Without a rule: the pool's full concurrency and no rate of its own.
    assert built.key("firma.fi") == "firma.fi"
    unruled = built.limits("firma.fi")
    assert (unruled.concurrency, unruled.rate) == (6, None)
    assert built.hold_after == settings.send_job_timeout / 2


def test_receiving_domains_and_deferrals() -> None:
    assert receiving_domain("Anna.Virtanen@Gmail.COM.") == "gmail.com"
    assert receiving_domain("odd@name@example.fi") == "example.fi"
    assert receiving_domain("no-at-sign") is None
    assert receiving_domain("trailing@") is None
    assert receiving_domain(None) is None
    assert is_deferral(DEFERRED)
    assert is_deferral(Delivery(Outcome.TEMPORARY, 421, "4.7.0 too many connections", False))
    assert not is_deferral(SENT)
    assert not is_deferral(Delivery(Outcome.PERMANENT, 550, "5.1.1 no such user", True))
    # The relay itself unreachable, or a garbled reply: nothing about the domain.
    assert not is_deferral(Delivery(Outcome.TEMPORARY, 421, "closing", False, True))
    assert not is_deferral(Delivery(Outcome.TEMPORARY, None, "unexpected reply", False))
    # Policy and rate replies slow the domain; one mailbox's trouble does not.
    assert is_deferral(Delivery(Outcome.TEMPORARY, 421, "4.7.28 rate limited", False))
    assert is_deferral(Delivery(Outcome.TEMPORARY, 451, "4.7.500 Server busy", False))
    assert is_deferral(Delivery(Outcome.TEMPORARY, 450, "4.2.1 receiving too quickly", False))
    assert is_deferral(Delivery(Outcome.TEMPORARY, 452, "4.5.3 too many recipients", False))
    assert not is_deferral(Delivery(Outcome.TEMPORARY, 452, "4.2.2 mailbox full", False))
    assert not is_deferral(Delivery(Outcome.TEMPORARY, 450, "4.1.1 unknown for now", False))
    assert not is_deferral(Delivery(Outcome.TEMPORARY, 452, "4.3.4 message too big", False))
    assert is_deferral(Delivery(Outcome.TEMPORARY, 452, "4.2.22 not a mailbox code", False))
    # About the relay or the sending account, not the receiving domain.
    ses = "454 4.7.0 Throttling failure: Maximum sending rate exceeded."
    assert not is_deferral(Delivery(Outcome.TEMPORARY, 454, ses, False))
    assert not is_deferral(Delivery(Outcome.TEMPORARY, 452, "4.3.1 Insufficient storage", False))
    assert not is_deferral(Delivery(Outcome.TEMPORARY, 421, "4.3.2 System not accepting", False))


# -- concurrency and rate ----------------------------------------------------------


def test_a_domain_never_has_more_than_its_concurrency_in_flight() -> None:
    limits, _ = throttle(DomainRule(("a.fi", "b.fi"), 2, None))
    first, second = limits.try_acquire("a.fi"), limits.try_acquire("a.fi")
    assert first is not None and second is not None
    assert limits.try_acquire("a.fi") is None
    assert limits.limits("a.fi").in_flight == 2
    # Another domain is not held up by it.
    assert limits.try_acquire("c.fi") is not None
    limits.release(first, SENT)
    assert limits.try_acquire("a.fi") is not None


def test_a_domain_without_a_rule_gets_the_pools_full_concurrency() -> None:
    limits, _ = throttle(concurrency=5)
    slots = [limits.try_acquire("firma.fi") for _ in range(5)]
    assert all(slot is not None for slot in slots)
    assert limits.try_acquire("firma.fi") is None


def test_the_rate_holds_token_by_token() -> None:
    limits, clock = throttle(DomainRule(("a.fi",), 100, 2.0))
    granted: list[float] = []
    for step in range(1001):  # ten seconds in steps of 10 ms
        clock.now = 1000.0 + step / 100
        slot = limits.try_acquire("a.fi")
        if slot is not None:
            granted.append(clock.now - 1000.0)
            limits.release(slot, SENT)
    # One at once, then one each half second: never more than 1 + 2 t by t.
    assert len(granted) == 21
    assert all(count <= 1 + 2 * at for count, at in enumerate(granted))
    assert granted[:3] == [0.0, 0.5, 1.0]


def test_ready_in_says_when_the_next_token_is_due() -> None:
    limits, clock = throttle(DomainRule(("a.fi",), 4, 4.0), DomainRule(("b.fi",), 1, None))
    slot = limits.try_acquire("a.fi")
    assert slot is not None
    assert limits.ready_in(["a.fi"]) == pytest.approx(0.25)
    clock.now += 0.1
    assert limits.ready_in(["a.fi"]) == pytest.approx(0.15)
    # A domain waiting for a slot, not a token, is woken by a release instead.
    held = limits.try_acquire("b.fi")
    assert held is not None
    assert limits.ready_in(["b.fi"]) is None


async def test_a_release_wakes_whoever_waits() -> None:
    limits, _ = throttle(DomainRule(("a.fi",), 1, None))
    slot = limits.try_acquire("a.fi")
    assert slot is not None
    waiting = asyncio.create_task(limits.wait(None))
    await asyncio.sleep(0)
    assert not waiting.done()
    limits.release(slot, SENT)
    await asyncio.wait_for(waiting, 5)


# -- deferrals -----------------------------------------------------------------------


def test_a_deferral_halves_rate_and_concurrency_down_to_a_floor(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limits, clock = throttle(DomainRule(("a.fi",), 8, 4.0), DomainRule(("b.fi",), 8, 4.0))
    before, also_before = acquire(limits, clock, "a.fi"), acquire(limits, clock, "a.fi")
    with caplog.at_level(logging.WARNING, "service.delivery.throttle"):
        limits.release(before, DEFERRED)
    now = limits.limits("a.fi")
    assert (now.concurrency, now.rate, now.level, now.in_flight) == (4, 2.0, 1, 1)
    assert "receiving domain a.fi deferred mail (451)" in caplog.text
    # A domain no rule names may be one person's own: logs do not name it.
    caplog.clear()
    with caplog.at_level(logging.WARNING, "service.delivery.throttle"):
        limits.release(acquire(limits, clock, "maija-meikalainen.fi"), DEFERRED)
    assert "(a domain without a rule) deferred mail (451)" in caplog.text
    assert "meikalainen" not in caplog.text
    # Sent before the slow-down: its deferral was answered already.
    limits.release(also_before, DEFERRED)
    assert limits.limits("a.fi").level == 1
    for _ in range(20):
        deliver(limits, clock, "a.fi", DEFERRED)
    floor = limits.limits("a.fi")
    assert (floor.concurrency, floor.rate, floor.in_flight) == (1, MIN_RATE, 0)
    # The other domain goes on as before.
    other = limits.limits("b.fi")
    assert (other.concurrency, other.rate, other.level) == (8, 4.0, 0)


def test_a_deferral_slows_a_domain_without_a_rule_too() -> None:
    limits, clock = throttle(concurrency=4)
    deliver(limits, clock, "firma.fi", DEFERRED)
    slowed = limits.limits("firma.fi")
    assert (slowed.concurrency, slowed.rate) == (2, UNRULED_RATE / 2)
    assert limits.slowed("firma.fi") and not limits.slowed("other.fi")


@pytest.mark.parametrize(
    "delivery",
    [
        Delivery(Outcome.PERMANENT, 550, "5.1.1 no such user", True),
        Delivery(Outcome.TEMPORARY, 421, "relay gone", False, True),
        None,  # no answer at all (the batch stopped)
    ],
)
def test_only_a_domains_4xx_slows_it(delivery: Delivery | None) -> None:
    limits, clock = throttle(DomainRule(("a.fi",), 4, 4.0))
    limits.release(acquire(limits, clock, "a.fi"), delivery)
    assert limits.limits("a.fi").level == 0


def test_a_slowed_domain_recovers_gradually_on_successes() -> None:
    limits, clock = throttle(DomainRule(("a.fi",), 8, 8.0))
    for _ in range(2):
        deliver(limits, clock, "a.fi", DEFERRED)
    assert limits.limits("a.fi").level == 2
    # Successes within the cool-down do not lift it.
    for _ in range(RECOVER_AFTER * 3):
        deliver(limits, clock, "a.fi", SENT)
    assert limits.limits("a.fi").level == 2
    clock.now += COOL_DOWN_SECONDS
    for _ in range(RECOVER_AFTER):
        deliver(limits, clock, "a.fi", SENT)
    after = limits.limits("a.fi")
    assert (after.level, after.concurrency, after.rate) == (1, 4, 4.0)
    # One step at a time: the next needs its own cool-down.
    for _ in range(RECOVER_AFTER):
        deliver(limits, clock, "a.fi", SENT)
    assert limits.limits("a.fi").level == 1
    clock.now += COOL_DOWN_SECONDS
    for _ in range(RECOVER_AFTER):
        deliver(limits, clock, "a.fi", SENT)
    back = limits.limits("a.fi")
    assert (back.level, back.concurrency, back.rate) == (0, 8, 8.0)


def test_a_deferral_resets_the_recovery_count() -> None:
    limits, clock = throttle(DomainRule(("a.fi",), 8, 8.0))
    old = acquire(limits, clock, "a.fi")
    deliver(limits, clock, "a.fi", DEFERRED)
    clock.now += COOL_DOWN_SECONDS
    for _ in range(RECOVER_AFTER - 1):
        deliver(limits, clock, "a.fi", SENT)
    limits.release(old, DEFERRED)  # sent before the slow-down: no halving, but a reset
    deliver(limits, clock, "a.fi", SENT)
    assert limits.limits("a.fi").level == 1


def test_the_worker_refuses_to_start_with_a_malformed_rule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [n for n in os.environ if n.startswith("CONSENTRY_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CONSENTRY_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv(NAME, "gmail.com=50/fast")
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit) as exited:
            main(["worker"])
    finally:
        get_settings.cache_clear()
    assert exited.value.code == 2
    assert capsys.readouterr().err.strip() == (
        f"consentry: {NAME}: 'gmail.com=50/fast': the rate must be a number of messages per "
        "second above 0 (the form is DOMAIN[|DOMAIN...]=CONCURRENCY[/RATE], e.g. example.com=2/10)"
    )


def test_domains_without_a_rule_are_not_remembered_once_done() -> None:
    """Hostile or merely varied addresses must not grow a worker's memory."""
    limits, clock = throttle(DomainRule(("a.fi",), 2, None))
    for index in range(2000):
        deliver(limits, clock, f"d{index}.example", SENT)
    deliver(limits, clock, "slowed.example", DEFERRED)
    deliver(limits, clock, "a.fi", SENT)
    assert sorted(limits._domains) == ["a.fi", "slowed.example"]
