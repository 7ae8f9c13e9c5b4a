"""POST /hooks/sendgrid: SendGrid's signed Event Webhook (ECDSA P-256 over
the timestamp header and the raw body), a batch of events per request."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from service.db import SessionMaker
from tests.support.clock import FrozenClock
from tests.support.hooks import (
    OTHER_SENDGRID_KEY,
    SENDGRID_KEY,
    Client,
    delivery_events,
    person,
    sendgrid_event,
    sendgrid_request,
    state,
    suppressed,
)

URL = "/hooks/sendgrid"
SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"


def encoded(events: list[Any]) -> bytes:
    return json.dumps(events).encode()


async def test_a_batch_suppresses_exactly_the_bounced_and_the_complainer(
    hooks: Client, sessionmaker: SessionMaker, frozen_clock: FrozenClock
) -> None:
    maija = await person(sessionmaker, "maija@example.fi")
    matti = await person(sessionmaker, "matti@example.fi")
    await person(sessionmaker, "liisa@example.fi")
    await person(sessionmaker, "pekka@example.fi")
    body = encoded(
        [
            sendgrid_event(
                "maija@example.fi", type="bounce", status="5.1.1", reason="550 no such user"
            ),
            sendgrid_event("matti@example.fi", "spamreport"),
            sendgrid_event("liisa@example.fi", type="blocked", status="4.7.1", reason="try later"),
            sendgrid_event("pekka@example.fi", "delivered"),
            sendgrid_event("pekka@example.fi", "open"),
        ]
    )

    answer = await hooks.post(
        URL, content=body, headers=sendgrid_request(body, now=frozen_clock.now)
    )

    assert answer.status_code == 200, answer.text
    assert await suppressed(sessionmaker) == {maija, matti}
    rows = await delivery_events(sessionmaker)
    assert sorted((kind, source) for kind, source, _, _ in rows) == [
        ("bounce", "sendgrid"),
        ("bounce", "sendgrid"),
        ("complaint", "sendgrid"),
    ]


async def test_dropped_mail_counts_only_for_a_known_bad_or_complaining_address(
    hooks: Client, sessionmaker: SessionMaker, frozen_clock: FrozenClock
) -> None:
    invalid = await person(sessionmaker, "invalid@example.fi")
    complained = await person(sessionmaker, "complained@example.fi")
    await person(sessionmaker, "unsubscribed@example.fi")
    body = encoded(
        [
            sendgrid_event("invalid@example.fi", "dropped", reason="Invalid"),
            sendgrid_event("complained@example.fi", "dropped", reason="Spam Reporting Address"),
            sendgrid_event("unsubscribed@example.fi", "dropped", reason="Unsubscribed Address"),
        ]
    )

    answer = await hooks.post(
        URL, content=body, headers=sendgrid_request(body, now=frozen_clock.now)
    )

    assert answer.status_code == 200, answer.text
    assert await suppressed(sessionmaker) == {invalid, complained}


async def test_bad_events_in_a_batch_do_not_stop_the_good_one(
    hooks: Client, sessionmaker: SessionMaker, frozen_clock: FrozenClock
) -> None:
    maija = await person(sessionmaker, "maija@example.fi")
    body = encoded(
        [
            "not an event",
            None,
            {"event": "bounce"},
            sendgrid_event("not an address", type="bounce"),
            sendgrid_event(["maija@example.fi"], type="bounce"),
            {**sendgrid_event("x@example.fi"), "sg_event_id": {"deep": 1}, "status": 5},
            sendgrid_event("maija@example.fi", type="bounce", status="5.1.1"),
        ]
    )

    answer = await hooks.post(
        URL, content=body, headers=sendgrid_request(body, now=frozen_clock.now)
    )

    assert answer.status_code == 200, answer.text
    assert maija in await suppressed(sessionmaker)


def _wrong_key(body: bytes, now: datetime) -> dict[str, str]:
    return sendgrid_request(body, now=now, key=OTHER_SENDGRID_KEY)


def _other_body(body: bytes, now: datetime) -> dict[str, str]:
    return sendgrid_request(body + b" ", now=now)


def _other_timestamp(body: bytes, now: datetime) -> dict[str, str]:
    headers = sendgrid_request(body, now=now)
    headers[TIMESTAMP] = str(int(headers[TIMESTAMP]) + 1)
    return headers


def _no_signature(body: bytes, now: datetime) -> dict[str, str]:
    headers = sendgrid_request(body, now=now)
    del headers[SIGNATURE]
    return headers


def _no_timestamp(body: bytes, now: datetime) -> dict[str, str]:
    headers = sendgrid_request(body, now=now)
    del headers[TIMESTAMP]
    return headers


def _not_base64(body: bytes, now: datetime) -> dict[str, str]:
    return {**sendgrid_request(body, now=now), SIGNATURE: "%%%not base64%%%"}


def _not_der(body: bytes, now: datetime) -> dict[str, str]:
    return {**sendgrid_request(body, now=now), SIGNATURE: base64.b64encode(b"\x30\x02").decode()}


def _stale(body: bytes, now: datetime) -> dict[str, str]:
    return sendgrid_request(body, now=now - timedelta(minutes=6))


def _future(body: bytes, now: datetime) -> dict[str, str]:
    return sendgrid_request(body, now=now + timedelta(minutes=6))


@pytest.mark.parametrize(
    "spoil",
    [
        _wrong_key,
        _other_body,
        _other_timestamp,
        _no_signature,
        _no_timestamp,
        _not_base64,
        _not_der,
        _stale,
        _future,
    ],
)
async def test_without_a_valid_fresh_signature_nothing_changes(
    hooks: Client, sessionmaker: SessionMaker, frozen_clock: FrozenClock, spoil: Any
) -> None:
    await person(sessionmaker, "maija@example.fi")
    before = await state(sessionmaker)
    body = encoded([sendgrid_event("maija@example.fi", type="bounce", status="5.1.1")])

    answer = await hooks.post(URL, content=body, headers=spoil(body, frozen_clock.now))

    assert answer.status_code == 401, answer.text
    assert await state(sessionmaker) == before


async def test_a_replay_is_refused_even_with_the_signature_altered(
    hooks: Client, sessionmaker: SessionMaker, frozen_clock: FrozenClock
) -> None:
    """An ECDSA signature (r, s) has a twin (r, n - s) that verifies too: the
    replay is recognised by what was signed, not by the signature's bytes."""
    await person(sessionmaker, "maija@example.fi")
    body = encoded([sendgrid_event("maija@example.fi", type="blocked", status="4.7.1")])
    headers = sendgrid_request(body, now=frozen_clock.now)
    assert (await hooks.post(URL, content=body, headers=headers)).status_code == 200
    after_first = await state(sessionmaker)

    r, s = decode_dss_signature(base64.b64decode(headers[SIGNATURE]))
    twin = encode_dss_signature(r, ec.SECP256R1().group_order - s)
    SENDGRID_KEY.public_key().verify(
        twin, headers[TIMESTAMP].encode() + body, ec.ECDSA(hashes.SHA256())
    )
    for replayed in (headers, {**headers, SIGNATURE: base64.b64encode(twin).decode()}):
        answer = await hooks.post(URL, content=body, headers=replayed)
        assert answer.status_code == 401, answer.text
    assert await state(sessionmaker) == after_first


async def test_the_same_event_in_a_new_request_is_recorded_once(
    hooks: Client, sessionmaker: SessionMaker, frozen_clock: FrozenClock
) -> None:
    await person(sessionmaker, "maija@example.fi")
    event = sendgrid_event("maija@example.fi", type="blocked", status="4.7.1")
    for _ in range(2):
        frozen_clock.advance(seconds=30)
        body = encoded([event])
        answer = await hooks.post(
            URL, content=body, headers=sendgrid_request(body, now=frozen_clock.now)
        )
        assert answer.status_code == 200, answer.text
    assert len(await delivery_events(sessionmaker)) == 1


@pytest.mark.parametrize(
    "body", [b"", b"not json", b'{"event": "bounce"}', b"[" * 5000 + b"]" * 5000, b"[{]"]
)
async def test_a_signed_body_that_is_not_an_event_list_is_a_400(
    hooks: Client, sessionmaker: SessionMaker, frozen_clock: FrozenClock, body: bytes
) -> None:
    before = await state(sessionmaker)
    answer = await hooks.post(
        URL, content=body, headers=sendgrid_request(body, now=frozen_clock.now)
    )
    assert answer.status_code == 400, answer.text
    assert await state(sessionmaker) == before


async def test_an_unsigned_bad_body_is_a_401(hooks: Client) -> None:
    answer = await hooks.post(URL, content=b"not json")
    assert answer.status_code == 401
