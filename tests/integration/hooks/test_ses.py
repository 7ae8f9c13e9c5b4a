"""POST /hooks/ses: Amazon SES events in signed Amazon SNS messages.

The signing certificate is served by ``FakeSns`` (self-signed, made with
``cryptography``) at SNS's certificate URL; every other URL is the outside
world and is never fetched."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from service.db import SessionMaker
from tests.support.clock import FrozenClock
from tests.support.hooks import (
    CERT_URL,
    OTHER_SNS_KEY,
    REGION,
    SNS_KEY,
    Client,
    FakeSns,
    certificate,
    delivery_events,
    person,
    ses_bounce,
    ses_complaint,
    sns_message,
    state,
    suppressed,
)

URL = "/hooks/ses"
# SNS posts JSON as text/plain.
TEXT = {"Content-Type": "text/plain; charset=UTF-8"}


async def post(hooks: Client, document: dict[str, Any]) -> Any:
    return await hooks.post(URL, content=json.dumps(document).encode(), headers=TEXT)


@pytest.mark.parametrize("version", ["1", "2"])
async def test_a_permanent_bounce_suppresses_exactly_those_addresses(
    hooks: Client, sessionmaker: SessionMaker, frozen_clock: FrozenClock, version: str
) -> None:
    maija = await person(sessionmaker, "maija@example.fi")
    matti = await person(sessionmaker, "matti@example.fi")
    await person(sessionmaker, "liisa@example.fi")
    message = ses_bounce("maija@example.fi", "MATTI@example.fi")

    answer = await post(
        hooks, sns_message("Notification", now=frozen_clock.now, message=message, version=version)
    )

    assert answer.status_code == 200, answer.text
    assert await suppressed(sessionmaker) == {maija, matti}
    rows = await delivery_events(sessionmaker)
    assert sorted(value for _, _, value, _ in rows) == sorted([maija, matti])
    assert {(kind, source) for kind, source, _, _ in rows} == {("bounce", "ses")}


async def test_a_complaint_suppresses_the_complainer_and_not_spam_changes_nothing(
    hooks: Client, sessionmaker: SessionMaker, frozen_clock: FrozenClock
) -> None:
    maija = await person(sessionmaker, "maija@example.fi")
    await person(sessionmaker, "matti@example.fi")
    for message in (
        ses_complaint("maija@example.fi"),
        ses_complaint("matti@example.fi", feedback_type="not-spam"),
    ):
        answer = await post(
            hooks, sns_message("Notification", now=frozen_clock.now, message=message)
        )
        assert answer.status_code == 200, answer.text

    assert await suppressed(sessionmaker) == {maija}
    assert [row[0] for row in await delivery_events(sessionmaker)] == ["complaint"]


async def test_a_transient_bounce_and_a_delivery_do_not_suppress(
    hooks: Client, sessionmaker: SessionMaker, frozen_clock: FrozenClock
) -> None:
    maija = await person(sessionmaker, "maija@example.fi")
    delivery = json.dumps({"eventType": "Delivery", "delivery": {"recipients": ["x@example.fi"]}})
    for message in (
        ses_bounce("maija@example.fi", bounce_type="Transient", status="4.2.2"),
        delivery,
    ):
        answer = await post(
            hooks, sns_message("Notification", now=frozen_clock.now, message=message)
        )
        assert answer.status_code == 200, answer.text

    assert await suppressed(sessionmaker) == set()
    assert [row[2] for row in await delivery_events(sessionmaker)] == [maija]


async def test_the_certificate_is_fetched_once(
    hooks: Client, sessionmaker: SessionMaker, frozen_clock: FrozenClock, sns: FakeSns
) -> None:
    for _ in range(3):
        message = ses_bounce("maija@example.fi", bounce_type="Transient", status="4.2.2")
        answer = await post(
            hooks, sns_message("Notification", now=frozen_clock.now, message=message)
        )
        assert answer.status_code == 200, answer.text
    assert sns.fetched == [CERT_URL]


def _wrong_key(document: dict[str, Any]) -> dict[str, Any]:
    return sns_message(
        "Notification", now=_now(document), message=document["Message"], key=OTHER_SNS_KEY
    )


def _tampered_message(document: dict[str, Any]) -> dict[str, Any]:
    document["Message"] = ses_bounce("matti@example.fi")
    return document


def _tampered_subject(document: dict[str, Any]) -> dict[str, Any]:
    document["Subject"] = "added after signing"
    return document


def _no_signature(document: dict[str, Any]) -> dict[str, Any]:
    del document["Signature"]
    return document


def _signature_not_base64(document: dict[str, Any]) -> dict[str, Any]:
    document["Signature"] = "%%%"
    return document


def _unknown_version(document: dict[str, Any]) -> dict[str, Any]:
    document["SignatureVersion"] = "3"
    return document


def _no_message_id(document: dict[str, Any]) -> dict[str, Any]:
    del document["MessageId"]
    return document


def _other_topic(document: dict[str, Any]) -> dict[str, Any]:
    topic = f"arn:aws:sns:{REGION}:999999999999:someone-elses"
    return sns_message("Notification", now=_now(document), message=document["Message"], topic=topic)


def _stale(document: dict[str, Any]) -> dict[str, Any]:
    return sns_message(
        "Notification", now=_now(document) - timedelta(minutes=6), message=document["Message"]
    )


def _future(document: dict[str, Any]) -> dict[str, Any]:
    return sns_message(
        "Notification", now=_now(document) + timedelta(minutes=6), message=document["Message"]
    )


def _timestamp_without_zone(document: dict[str, Any]) -> dict[str, Any]:
    return sns_message(
        "Notification",
        now=_now(document),
        message=document["Message"],
        Timestamp=document["Timestamp"].removesuffix("Z"),
    )


def _now(document: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(document["Timestamp"])


@pytest.mark.parametrize(
    "spoil",
    [
        _wrong_key,
        _tampered_message,
        _tampered_subject,
        _no_signature,
        _signature_not_base64,
        _unknown_version,
        _no_message_id,
        _other_topic,
        _stale,
        _future,
        _timestamp_without_zone,
    ],
)
async def test_without_a_valid_fresh_signature_nothing_changes(
    hooks: Client, sessionmaker: SessionMaker, frozen_clock: FrozenClock, spoil: Any
) -> None:
    await person(sessionmaker, "maija@example.fi")
    await person(sessionmaker, "matti@example.fi")
    before = await state(sessionmaker)
    document = sns_message(
        "Notification", now=frozen_clock.now, message=ses_bounce("maija@example.fi")
    )

    answer = await post(hooks, spoil(document))

    assert answer.status_code == 401, answer.text
    assert await state(sessionmaker) == before


async def test_a_replayed_message_is_refused(
    hooks: Client, sessionmaker: SessionMaker, frozen_clock: FrozenClock
) -> None:
    await person(sessionmaker, "maija@example.fi")
    message = ses_bounce("maija@example.fi", bounce_type="Transient", status="4.2.2")
    document = sns_message("Notification", now=frozen_clock.now, message=message)
    assert (await post(hooks, document)).status_code == 200
    after_first = await state(sessionmaker)

    frozen_clock.advance(minutes=2)
    replay = await post(hooks, document)

    assert replay.status_code == 401
    assert await state(sessionmaker) == after_first


@pytest.mark.parametrize(
    "cert_url",
    [
        f"http://sns.{REGION}.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem",  # other region
        f"https://sns.{REGION}.amazonaws.com.evil.example/SimpleNotificationService-abc.pem",
        f"https://evil.example/sns.{REGION}.amazonaws.com/SimpleNotificationService-abc.pem",
        f"https://sns.{REGION}.amazonaws.com@evil.example/SimpleNotificationService-abc.pem",
        f"https://x@sns.{REGION}.amazonaws.com/SimpleNotificationService-abc.pem",
        f"https://sns.{REGION}.amazonaws.com:8443/SimpleNotificationService-abc.pem",
        f"https://sns.{REGION}.amazonaws.com/other.pem",
        f"https://sns.{REGION}.amazonaws.com/SimpleNotificationService-abc.pem?x=1",
        f"https://s3.{REGION}.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://[::1/SimpleNotificationService-abc.pem",
        "",
    ],
)
async def test_a_certificate_off_snss_own_host_is_refused_unfetched(
    hooks: Client,
    sessionmaker: SessionMaker,
    frozen_clock: FrozenClock,
    sns: FakeSns,
    cert_url: str,
) -> None:
    """Even a certificate that would verify: the fake serves it at the URL."""
    await person(sessionmaker, "maija@example.fi")
    sns.certificates[cert_url] = sns.certificates[CERT_URL]
    before = await state(sessionmaker)
    document = sns_message(
        "Notification",
        now=frozen_clock.now,
        message=ses_bounce("maija@example.fi"),
        cert_url=cert_url,
    )

    answer = await post(hooks, document)

    assert answer.status_code == 401, answer.text
    assert sns.fetched == []
    assert await state(sessionmaker) == before


async def test_a_certificate_that_cannot_be_fetched_or_is_expired_is_refused(
    hooks: Client, sessionmaker: SessionMaker, frozen_clock: FrozenClock, sns: FakeSns
) -> None:
    await person(sessionmaker, "maija@example.fi")
    before = await state(sessionmaker)
    missing = f"https://sns.{REGION}.amazonaws.com/SimpleNotificationService-missing.pem"
    expired = f"https://sns.{REGION}.amazonaws.com/SimpleNotificationService-expired.pem"
    garbage = f"https://sns.{REGION}.amazonaws.com/SimpleNotificationService-garbage.pem"
    sns.certificates[expired] = certificate(
        SNS_KEY, valid_from=frozen_clock.now - timedelta(days=10), days=2
    )
    sns.certificates[garbage] = b"-----BEGIN CERTIFICATE-----\nnot one\n"
    for url in (missing, expired, garbage):
        document = sns_message(
            "Notification",
            now=frozen_clock.now,
            message=ses_bounce("maija@example.fi"),
            cert_url=url,
        )
        answer = await post(hooks, document)
        assert answer.status_code == 401, answer.text
    assert await state(sessionmaker) == before


async def test_while_snss_host_is_down_the_message_is_a_503_and_taken_when_sent_again(
    hooks: Client, sessionmaker: SessionMaker, frozen_clock: FrozenClock, sns: FakeSns
) -> None:
    """SNS retries a 5xx (never a 4xx): the message is not lost."""
    maija = await person(sessionmaker, "maija@example.fi")
    before = await state(sessionmaker)
    document = sns_message(
        "Notification", now=frozen_clock.now, message=ses_bounce("maija@example.fi")
    )
    sns.down = True
    assert (await post(hooks, document)).status_code == 503
    assert await state(sessionmaker) == before

    sns.down = False
    frozen_clock.advance(seconds=20)
    answer = await post(hooks, document)
    assert answer.status_code == 200, answer.text
    assert await suppressed(sessionmaker) == {maija}


async def test_a_subscription_is_confirmed_once_and_only_when_signed(
    hooks: Client, sessionmaker: SessionMaker, frozen_clock: FrozenClock, sns: FakeSns
) -> None:
    forged = sns_message("SubscriptionConfirmation", now=frozen_clock.now, key=OTHER_SNS_KEY)
    assert (await post(hooks, forged)).status_code == 401
    assert sns.confirmed == []

    document = sns_message(
        "SubscriptionConfirmation",
        now=frozen_clock.now,
        message="You have chosen to subscribe to the topic ...",
    )
    answer = await post(hooks, document)
    assert answer.status_code == 200, answer.text
    assert sns.confirmed == [document["SubscribeURL"]]

    replay = await post(hooks, document)
    assert replay.status_code == 401
    assert sns.confirmed == [document["SubscribeURL"]]
    assert await delivery_events(sessionmaker) == []


async def test_a_subscribe_url_off_snss_host_is_never_called(
    hooks: Client, frozen_clock: FrozenClock, sns: FakeSns
) -> None:
    for url in (
        "https://evil.example/?Action=ConfirmSubscription",
        f"http://sns.{REGION}.amazonaws.com/?Action=ConfirmSubscription",
        "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
    ):
        document = sns_message("SubscriptionConfirmation", now=frozen_clock.now, subscribe_url=url)
        answer = await post(hooks, document)
        assert answer.status_code == 401, answer.text
    assert sns.confirmed == []


async def test_a_failed_confirmation_can_be_retried(
    hooks: Client, frozen_clock: FrozenClock, sns: FakeSns
) -> None:
    document = sns_message("SubscriptionConfirmation", now=frozen_clock.now)
    sns.fail_confirmations = True
    assert (await post(hooks, document)).status_code == 503
    assert sns.confirmed == []

    sns.fail_confirmations = False
    answer = await post(hooks, document)  # SNS sends it again
    assert answer.status_code == 200, answer.text
    assert sns.confirmed == [document["SubscribeURL"]]


async def test_an_unsubscribe_confirmation_changes_nothing(
    hooks: Client, sessionmaker: SessionMaker, frozen_clock: FrozenClock, sns: FakeSns
) -> None:
    before = await state(sessionmaker)
    answer = await post(hooks, sns_message("UnsubscribeConfirmation", now=frozen_clock.now))
    assert answer.status_code == 200, answer.text
    assert sns.confirmed == []
    assert await state(sessionmaker) == before


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'{"Type": "Notification"',
        b'{"Type": "Surprise"}',
        b'{"Message": "no type"}',
        b"[" * 5000 + b"]" * 5000,
    ],
)
async def test_a_body_that_is_no_sns_message_is_a_400(
    hooks: Client, sessionmaker: SessionMaker, body: bytes
) -> None:
    before = await state(sessionmaker)
    answer = await hooks.post(URL, content=body, headers=TEXT)
    assert answer.status_code == 400, answer.text
    assert await state(sessionmaker) == before


@pytest.mark.parametrize(
    "message", ["a test message from the SNS console", "[1]", "{" * 40 + "}" * 40]
)
async def test_a_signed_message_that_is_no_ses_event_is_a_400(
    hooks: Client, sessionmaker: SessionMaker, frozen_clock: FrozenClock, message: str
) -> None:
    before = await state(sessionmaker)
    answer = await post(hooks, sns_message("Notification", now=frozen_clock.now, message=message))
    assert answer.status_code == 400, answer.text
    assert await state(sessionmaker) == before


async def test_odd_recipients_are_skipped_and_the_rest_taken(
    hooks: Client, sessionmaker: SessionMaker, frozen_clock: FrozenClock
) -> None:
    maija = await person(sessionmaker, "maija@example.fi")
    event = json.loads(ses_bounce("maija@example.fi"))
    event["bounce"]["bouncedRecipients"][:0] = [
        "x",
        None,
        {"emailAddress": 5},
        {"emailAddress": "not an address"},
        {"emailAddress": {"a": 1}, "status": ["5.1.1"]},
    ]
    document = sns_message("Notification", now=frozen_clock.now, message=json.dumps(event))

    answer = await post(hooks, document)

    assert answer.status_code == 200, answer.text
    assert await suppressed(sessionmaker) == {maija}
