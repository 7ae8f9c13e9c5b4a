"""POST /hooks/postmark: Postmark's bounce and spam-complaint webhooks behind
HTTP basic auth. Postmark sends no timestamp or token: its record ID keeps
a repeated record from changing anything twice."""

from __future__ import annotations

import base64

import pytest

from service.db import SessionMaker
from tests.support.hooks import (
    POSTMARK_PASSWORD,
    POSTMARK_USER,
    Client,
    delivery_events,
    person,
    postmark_auth,
    postmark_bounce,
    state,
    suppressed,
)

URL = "/hooks/postmark"


async def test_a_hard_bounce_suppresses_exactly_that_address(
    hooks: Client, sessionmaker: SessionMaker
) -> None:
    maija = await person(sessionmaker, "maija@example.fi")
    await person(sessionmaker, "matti@example.fi")

    answer = await hooks.post(
        URL, json=postmark_bounce("maija@example.fi"), headers=postmark_auth()
    )

    assert answer.status_code == 200, answer.text
    assert await suppressed(sessionmaker) == {maija}
    assert [
        (kind, source, value) for kind, source, value, _ in await delivery_events(sessionmaker)
    ] == [("bounce", "postmark", maija)]


async def test_a_spam_complaint_suppresses_the_complainer(
    hooks: Client, sessionmaker: SessionMaker
) -> None:
    maija = await person(sessionmaker, "maija@example.fi")
    await person(sessionmaker, "matti@example.fi")
    complaint = postmark_bounce(
        "maija@example.fi", "SpamComplaint", RecordType="SpamComplaint", TypeCode=512
    )

    answer = await hooks.post(URL, json=complaint, headers=postmark_auth())

    assert answer.status_code == 200, answer.text
    assert await suppressed(sessionmaker) == {maija}
    assert [row[0] for row in await delivery_events(sessionmaker)] == ["complaint"]


async def test_a_soft_bounce_is_counted_and_an_auto_reply_ignored(
    hooks: Client, sessionmaker: SessionMaker
) -> None:
    maija = await person(sessionmaker, "maija@example.fi")
    soft = postmark_bounce("maija@example.fi", "SoftBounce", Details="smtp;452 4.2.2 mailbox full")
    auto_reply = postmark_bounce("maija@example.fi", "AutoResponder")
    delivery = {"RecordType": "Delivery", "Email": "maija@example.fi", "ID": 7}

    for record in (soft, auto_reply, delivery):
        answer = await hooks.post(URL, json=record, headers=postmark_auth())
        assert answer.status_code == 200, answer.text

    assert await suppressed(sessionmaker) == set()
    assert [row[2] for row in await delivery_events(sessionmaker)] == [maija]


async def test_a_repeated_record_changes_nothing_the_second_time(
    hooks: Client, sessionmaker: SessionMaker
) -> None:
    await person(sessionmaker, "maija@example.fi")
    record = postmark_bounce("maija@example.fi", "SoftBounce")
    assert (await hooks.post(URL, json=record, headers=postmark_auth())).status_code == 200
    after_first = await state(sessionmaker)

    again = await hooks.post(URL, json=record, headers=postmark_auth())

    assert again.status_code == 200
    assert await state(sessionmaker) == after_first


def _basic(raw: bytes) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        postmark_auth(password=POSTMARK_PASSWORD + "x"),
        postmark_auth(password=POSTMARK_PASSWORD[:-1]),
        postmark_auth(user="someone"),
        postmark_auth(password=""),
        _basic(POSTMARK_USER.encode() + POSTMARK_PASSWORD.encode()),  # no colon
        _basic(f"{POSTMARK_USER}:{POSTMARK_PASSWORD}:".encode()),
        _basic("käyttäjä:salasana".encode()),
        {"Authorization": "Basic %%% not base64"},
        {"Authorization": f"Bearer {POSTMARK_PASSWORD}"},
        {"Authorization": "Basic"},
    ],
)
async def test_without_the_right_credentials_nothing_changes(
    hooks: Client, sessionmaker: SessionMaker, headers: dict[str, str]
) -> None:
    await person(sessionmaker, "maija@example.fi")
    before = await state(sessionmaker)

    answer = await hooks.post(URL, json=postmark_bounce("maija@example.fi"), headers=headers)

    assert answer.status_code == 401, answer.text
    assert answer.headers["www-authenticate"].startswith("Basic ")
    assert await state(sessionmaker) == before


@pytest.mark.parametrize(
    "body", [b"", b"not json", b"[]", b'{"RecordType": ', b"{" * 40 + b"}" * 40]
)
async def test_an_authenticated_bad_body_is_a_400(
    hooks: Client, sessionmaker: SessionMaker, body: bytes
) -> None:
    before = await state(sessionmaker)
    answer = await hooks.post(
        URL, content=body, headers={**postmark_auth(), "Content-Type": "application/json"}
    )
    assert answer.status_code == 400, answer.text
    assert await state(sessionmaker) == before


async def test_odd_fields_are_skipped_not_failed(hooks: Client, sessionmaker: SessionMaker) -> None:
    before = await state(sessionmaker)
    for record in (
        postmark_bounce(None),
        postmark_bounce("maija@example.fi", ["HardBounce"]),
        postmark_bounce("maija@example.fi", RecordType=1),
    ):
        answer = await hooks.post(URL, json=record, headers=postmark_auth())
        assert answer.status_code == 200, answer.text
    assert await state(sessionmaker) == before
