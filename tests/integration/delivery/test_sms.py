"""The SMS messenger against real HTTP gateways on 127.0.0.1: the test gateway
(tests/support/sms_gateway.py) and the local SMS catcher."""

from __future__ import annotations

import json
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from service.delivery.messenger import Outcome, Outgoing
from service.delivery.sms import SmsMessenger
from service.delivery.sms_catcher import HttpResponse, SmsCatcher
from service.embedded import free_port
from tests.support.sms_gateway import HANG, INVALID_NUMBER, SmsGateway

NUMBER = "+358401234567"
TOKEN = "gateway-token-" + "g" * 20


@pytest.fixture
def gateway() -> Iterator[SmsGateway]:
    server = SmsGateway()
    with server:
        yield server


@pytest.fixture
async def messenger(gateway: SmsGateway) -> AsyncIterator[SmsMessenger]:
    sms = SmsMessenger(gateway.url, token=TOKEN, concurrency=2, timeout_seconds=1)
    yield sms
    await sms.close()


def message(
    to: str = NUMBER, text: str = "Hei!\nLopeta: x", message_id: str = "c1.r1.a"
) -> Outgoing:
    return Outgoing(recipient=to, content=text.encode(), message_id=message_id)


async def test_a_2xx_is_sent_with_the_json_body_and_the_bearer_token(
    gateway: SmsGateway, messenger: SmsMessenger
) -> None:
    delivery = await messenger.send(message(text="Hyvää päivää 😀"))
    assert delivery.outcome is Outcome.SENT and delivery.code == 202
    (received,) = gateway.received
    assert (received.to, received.text, received.message_id) == (
        NUMBER,
        "Hyvää päivää 😀",
        "c1.r1.a",
    )
    assert received.authorization == f"Bearer {TOKEN}"


async def test_no_token_sends_no_authorization(gateway: SmsGateway) -> None:
    sms = SmsMessenger(gateway.url, token=None, concurrency=1, timeout_seconds=1)
    try:
        assert (await sms.send(message())).outcome is Outcome.SENT
    finally:
        await sms.close()
    assert gateway.received[0].authorization is None


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.SENT),
        (201, Outcome.SENT),
        (400, Outcome.PERMANENT),
        (403, Outcome.PERMANENT),
        (404, Outcome.PERMANENT),
        (408, Outcome.TEMPORARY),
        (429, Outcome.TEMPORARY),
        (500, Outcome.TEMPORARY),
        (503, Outcome.TEMPORARY),
    ],
)
async def test_each_answer_becomes_the_recipients_outcome(
    gateway: SmsGateway, messenger: SmsMessenger, status: int, outcome: Outcome
) -> None:
    gateway.default = HttpResponse(status, {"error": f"the number {NUMBER} says {status}"})
    delivery = await messenger.send(message())
    assert (delivery.outcome, delivery.code) == (outcome, status)
    assert not delivery.address_rejected and not delivery.relay_unavailable
    # The gateway quoted the number: the stored reply does not.
    assert NUMBER not in delivery.reply and "<number>" in delivery.reply


async def test_only_an_invalid_number_answer_rejects_the_number(
    gateway: SmsGateway, messenger: SmsMessenger
) -> None:
    gateway.answers[NUMBER] = INVALID_NUMBER
    refused = await messenger.send(message())
    assert refused.outcome is Outcome.PERMANENT and refused.address_rejected
    other = await messenger.send(message(to="+358401111111"))
    assert other.outcome is Outcome.SENT


async def test_a_hanging_gateway_is_a_temporary_failure(
    gateway: SmsGateway, messenger: SmsMessenger
) -> None:
    gateway.default = HANG
    delivery = await messenger.send(message())
    assert delivery.outcome is Outcome.TEMPORARY and not delivery.relay_unavailable
    assert "timeout" in delivery.reply.lower()


async def test_a_gateway_that_is_down_is_unavailable() -> None:
    sms = SmsMessenger(
        f"http://127.0.0.1:{free_port()}/", token=None, concurrency=1, timeout_seconds=1
    )
    try:
        delivery = await sms.send(message())
    finally:
        await sms.close()
    assert delivery.outcome is Outcome.TEMPORARY and delivery.relay_unavailable


async def test_the_catcher_keeps_each_message_as_a_private_file(tmp_path: Path) -> None:
    outbox = tmp_path / "sms-outbox"
    with SmsCatcher(outbox) as url:
        sms = SmsMessenger(url, token=None, concurrency=1, timeout_seconds=2)
        try:
            assert (await sms.send(message(message_id="c1.r1.abc"))).outcome is Outcome.SENT
            # Sent again under its id (a re-run batch): one file still.
            assert (await sms.send(message(message_id="c1.r1.abc"))).outcome is Outcome.SENT
            bad = await sms.send(message(to="0401234567", message_id="c1.r2.abc"))
            unsafe = await sms.send(message(message_id="../../etc/passwd"))
        finally:
            await sms.close()
    assert bad.outcome is Outcome.PERMANENT and bad.address_rejected
    assert unsafe.outcome is Outcome.PERMANENT and not unsafe.address_rejected
    files = list(outbox.iterdir())
    assert [f.name for f in files] == ["c1.r1.abc.json"]
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert json.loads(files[0].read_text()) == {
        "to": NUMBER,
        "text": "Hei!\nLopeta: x",
        "message_id": "c1.r1.abc",
    }


async def test_the_catcher_answers_garbage_with_400_and_keeps_going(tmp_path: Path) -> None:
    with SmsCatcher(tmp_path / "out") as url:
        async with httpx.AsyncClient() as client:
            for body in (b"", b"[1]", b"{not json", b'{"to": 1}', "ä".encode("latin-1")):
                response = await client.post(url, content=body)
                assert response.status_code == 400
            assert (await client.get(url)).status_code == 404
            ok = await client.post(url, json={"to": NUMBER, "text": "t", "message_id": "m1"})
            assert ok.status_code == 202


async def test_the_catcher_can_be_restarted_on_its_port(tmp_path: Path) -> None:
    catcher = SmsCatcher(tmp_path / "out")
    url = catcher.start()
    try:
        assert catcher.alive()
        catcher.stop()
        assert not catcher.alive()
        catcher.restart()  # as the supervisor of `consentry run` does
        assert catcher.alive() and catcher.url == url
        async with httpx.AsyncClient() as client:
            ok = await client.post(url, json={"to": NUMBER, "text": "t", "message_id": "m2"})
        assert ok.status_code == 202
    finally:
        catcher.stop()
