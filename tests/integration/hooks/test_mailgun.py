"""POST /hooks/mailgun: Mailgun's signed events, as CONTRACT.md gives their
shape (signature + event-data, hex HMAC-SHA-256 of timestamp+token)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from service.db import SessionMaker
from tests.support.clock import FrozenClock
from tests.support.hooks import (
    Client,
    delivery_events,
    mailgun_body,
    mailgun_failure,
    person,
    state,
    suppressed,
)

URL = "/hooks/mailgun"


async def test_a_permanent_failure_suppresses_exactly_that_address(
    hooks: Client, sessionmaker: SessionMaker, frozen_clock: FrozenClock
) -> None:
    maija = await person(sessionmaker, "maija@example.fi")
    await person(sessionmaker, "matti@example.fi")

    answer = await hooks.post(
        URL, json=mailgun_body(mailgun_failure("Maija@Example.fi"), now=frozen_clock.now)
    )

    assert answer.status_code == 200, answer.text
    assert await suppressed(sessionmaker) == {maija}
    assert [
        (kind, source, value) for kind, source, value, _ in await delivery_events(sessionmaker)
    ] == [("bounce", "mailgun", maija)]


async def test_a_complaint_suppresses_the_complainer(
    hooks: Client, sessionmaker: SessionMaker, frozen_clock: FrozenClock
) -> None:
    maija = await person(sessionmaker, "maija@example.fi")
    await person(sessionmaker, "matti@example.fi")
    event = {"event": "complained", "id": "cmp-1", "recipient": "maija@example.fi"}

    answer = await hooks.post(URL, json=mailgun_body(event, now=frozen_clock.now))

    assert answer.status_code == 200, answer.text
    assert await suppressed(sessionmaker) == {maija}
    assert [row[0] for row in await delivery_events(sessionmaker)] == ["complaint"]


async def test_a_temporary_failure_is_counted_but_does_not_suppress(
    hooks: Client, sessionmaker: SessionMaker, frozen_clock: FrozenClock
) -> None:
    maija = await person(sessionmaker, "maija@example.fi")
    event = mailgun_failure("maija@example.fi", severity="temporary", code="4.2.2")

    answer = await hooks.post(URL, json=mailgun_body(event, now=frozen_clock.now))

    assert answer.status_code == 200, answer.text
    assert await suppressed(sessionmaker) == set()
    assert [row[2] for row in await delivery_events(sessionmaker)] == [maija]


async def test_events_that_are_no_failure_change_nothing(
    hooks: Client, sessionmaker: SessionMaker, frozen_clock: FrozenClock
) -> None:
    await person(sessionmaker, "maija@example.fi")
    before = await state(sessionmaker)
    for event in (
        {"event": "delivered", "recipient": "maija@example.fi"},
        {"event": "failed", "severity": "permanent", "recipient": "not an address"},
        {"event": "failed", "severity": "permanent", "recipient": ["maija@example.fi"]},
    ):
        answer = await hooks.post(URL, json=mailgun_body(event, now=frozen_clock.now))
        assert answer.status_code == 200, answer.text
    assert await state(sessionmaker) == before


def _wrong_key(body: dict[str, Any], now: Any) -> dict[str, Any]:
    return mailgun_body(body["event-data"], now=now, key="key-" + "0" * 32)


def _tampered(body: dict[str, Any], now: Any) -> dict[str, Any]:
    body["signature"]["signature"] = body["signature"]["signature"][:-1] + (
        "0" if body["signature"]["signature"][-1] != "0" else "1"
    )
    return body


def _token_changed(body: dict[str, Any], now: Any) -> dict[str, Any]:
    body["signature"]["token"] = "x" + body["signature"]["token"][1:]
    return body


def _unsigned(body: dict[str, Any], now: Any) -> dict[str, Any]:
    del body["signature"]
    return body


def _stale(body: dict[str, Any], now: Any) -> dict[str, Any]:
    return mailgun_body(body["event-data"], now=now - timedelta(minutes=5, seconds=1))


def _future(body: dict[str, Any], now: Any) -> dict[str, Any]:
    return mailgun_body(body["event-data"], now=now + timedelta(minutes=6))


def _timestamp_not_a_number(body: dict[str, Any], now: Any) -> dict[str, Any]:
    return mailgun_body(body["event-data"], now=now, timestamp="1e10")


@pytest.mark.parametrize(
    "spoil",
    [_wrong_key, _tampered, _token_changed, _unsigned, _stale, _future, _timestamp_not_a_number],
)
async def test_without_a_valid_fresh_signature_nothing_changes(
    hooks: Client, sessionmaker: SessionMaker, frozen_clock: FrozenClock, spoil: Any
) -> None:
    await person(sessionmaker, "maija@example.fi")
    before = await state(sessionmaker)
    body = spoil(
        mailgun_body(mailgun_failure("maija@example.fi"), now=frozen_clock.now), frozen_clock.now
    )

    answer = await hooks.post(URL, json=body)

    assert answer.status_code == 401, answer.text
    assert await state(sessionmaker) == before


async def test_a_replayed_request_is_refused_and_changes_nothing(
    hooks: Client, sessionmaker: SessionMaker, frozen_clock: FrozenClock
) -> None:
    await person(sessionmaker, "maija@example.fi")
    body = mailgun_body(
        mailgun_failure("maija@example.fi", severity="temporary"), now=frozen_clock.now
    )
    assert (await hooks.post(URL, json=body)).status_code == 200
    after_first = await state(sessionmaker)

    frozen_clock.advance(minutes=1)
    replay = await hooks.post(URL, json=body)

    assert replay.status_code == 401
    assert "taken before" in replay.json()["detail"]
    assert await state(sessionmaker) == after_first


async def test_the_same_event_in_a_new_request_is_recorded_once(
    hooks: Client, sessionmaker: SessionMaker, frozen_clock: FrozenClock
) -> None:
    await person(sessionmaker, "maija@example.fi")
    event = mailgun_failure("maija@example.fi", severity="temporary")
    for _ in range(2):  # Mailgun's retry: a new token, the same event id
        answer = await hooks.post(URL, json=mailgun_body(event, now=frozen_clock.now))
        assert answer.status_code == 200, answer.text
    assert len(await delivery_events(sessionmaker)) == 1


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[1, 2]", b'{"signature": ', b"[" * 5000 + b"]" * 5000, b'"text"'],
)
async def test_a_body_that_is_not_mailguns_is_a_400(
    hooks: Client, sessionmaker: SessionMaker, body: bytes
) -> None:
    before = await state(sessionmaker)
    answer = await hooks.post(URL, content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400, answer.text
    assert await state(sessionmaker) == before


async def test_a_signed_request_without_event_data_is_a_400(
    hooks: Client, sessionmaker: SessionMaker, frozen_clock: FrozenClock
) -> None:
    body = mailgun_body({}, now=frozen_clock.now)
    body["event-data"] = "failed"
    answer = await hooks.post(URL, json=body)
    assert answer.status_code == 400, answer.text


async def test_a_body_over_the_size_limit_is_a_413(hooks: Client) -> None:
    answer = await hooks.post(
        URL, content=b" " * 1_000_001, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 413
