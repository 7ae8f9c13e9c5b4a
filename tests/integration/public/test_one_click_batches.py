"""One-click unsubscribes written in batches (service.consent.one_click):
copies that arrive together still record one withdrawal each, every request
is answered after its row is committed, and one bad request fails alone."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlmodel import col, select

from service.consent import one_click
from service.consent.one_click import OneClickWriter, Withdrawal
from service.db import SessionMaker
from service.models import ConsentEvent
from service.tokens import TokenSigner
from tests.conftest import TEST_SECRET
from tests.support.factories import MARKETING, add_campaign, add_contact, grant, unique_email

Client = AsyncTestClient[Litestar]
SIGNER = TokenSigner(TEST_SECRET)


@pytest.fixture
def batch_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of each batch the writer wrote (the real writing, watched)."""
    sizes: list[int] = []
    write = one_click.write_batch

    async def watched(session: Any, batch: list[Withdrawal]) -> dict[int, str]:
        sizes.append(len(batch))
        return await write(session, batch)

    monkeypatch.setattr(one_click, "write_batch", watched)
    return sizes


async def withdrawals(sessionmaker: SessionMaker) -> list[tuple[int, str, str, int | None]]:
    async with sessionmaker() as session:
        rows = await session.exec(
            select(ConsentEvent)
            .where(col(ConsentEvent.action) == "withdraw")
            .order_by(col(ConsentEvent.id))
        )
        return [(e.contact_id, e.channel.value, e.method.value, e.campaign_id) for e in rows]


async def test_one_click_answers_in_the_persons_language_once_withdrawn(
    admin: Client, client: Client, sessionmaker: SessionMaker, batch_sizes: list[int]
) -> None:
    people = [
        await add_contact(admin, consent=MARKETING, language="fi", email=unique_email())
        for _ in range(12)
    ]
    sms_person = await add_contact(admin, consent=MARKETING, phone="0401234567", language="sv")
    await grant(admin, sms_person, channel="sms")
    sms_campaign = await add_campaign(admin, channel="sms", name="Tekstiviesti", body_text="Hei")
    requests = [
        f"/u/{SIGNER.sign('unsubscribe', person, 7)}" for person in people for _ in range(4)
    ] + [f"/u/{SIGNER.sign('unsubscribe', sms_person, sms_campaign)}"] * 3
    anonymous = {"Authorization": ""}

    answers = await asyncio.gather(
        *(
            client.post(url, data={"List-Unsubscribe": "One-Click"}, headers=anonymous)
            for url in requests
        )
    )

    assert [a.status_code for a in answers] == [200] * len(requests)
    assert all('lang="fi"' in a.text for a in answers[:-3])
    assert all('lang="sv"' in a.text for a in answers[-3:])
    assert sorted(await withdrawals(sessionmaker)) == sorted(
        [(person, "email", "one_click", 7) for person in people]
        + [(sms_person, "sms", "one_click", sms_campaign)]
    )
    assert sum(batch_sizes) == len(requests)

    again = await client.post(
        requests[0], data={"List-Unsubscribe": "One-Click"}, headers=anonymous
    )
    assert again.status_code == 200
    assert len(await withdrawals(sessionmaker)) == len(people) + 1


async def test_one_bad_request_fails_alone_and_an_erased_person_gets_no_row(
    admin: Client, app: Litestar, sessionmaker: SessionMaker, batch_sizes: list[int]
) -> None:
    people = [
        await add_contact(admin, consent=MARKETING, language="en", email=unique_email())
        for _ in range(5)
    ]
    writer = OneClickWriter(sessionmaker)
    # An id beyond the database's integers: this batch's statements fail.
    bad = Withdrawal(people[0], 2**70, sms=False, ip="203.0.113.7")
    good = [Withdrawal(person, 7, sms=False, ip="203.0.113.7") for person in people[1:]]
    gone = Withdrawal(10**9, 7, sms=False, ip=None)

    requests = [*good[:2], bad, *good[2:], gone]
    answers = await asyncio.gather(
        *(writer.withdraw(item) for item in requests),
        return_exceptions=True,
    )
    await writer.close()

    assert answers[:2] == ["en", "en"] and answers[3:5] == ["en", "en"]
    assert isinstance(answers[2], Exception)  # the database's refusal, for that request alone
    assert answers[5] is None
    assert sorted(await withdrawals(sessionmaker)) == [
        (person, "email", "one_click", 7) for person in people[1:]
    ]
    # The first batch held the bad request and failed; its requests were then
    # written each alone (the requests queued after it, also alone or together).
    first = batch_sizes[0]
    assert first > 1 and batch_sizes[1 : 1 + first] == [1] * first
    assert sum(batch_sizes) == len(requests) + first
    async with sessionmaker() as session:
        ips = (
            await session.exec(
                select(col(ConsentEvent.evidence_ip))
                .where(col(ConsentEvent.action) == "withdraw")
                .distinct()
            )
        ).all()
    assert ips == ["203.0.113.0/24"]


async def test_copies_that_arrive_together_are_one_batch_and_one_withdrawal_each(
    admin: Client, sessionmaker: SessionMaker, batch_sizes: list[int]
) -> None:
    # (The test client hands requests to the app one at a time; the writer
    # is called here as the route calls it, all at once.)
    people = [await add_contact(admin, consent=MARKETING, email=unique_email()) for _ in range(5)]
    writer = OneClickWriter(sessionmaker)
    burst = [Withdrawal(person, 7, sms=False, ip=None) for person in people for _ in range(4)]

    answers = await asyncio.gather(*(writer.withdraw(item) for item in burst))
    await writer.close()

    assert answers == ["fi"] * len(burst)
    assert sum(batch_sizes) == len(burst) and len(batch_sizes) <= 2  # the first may go alone
    assert sorted(await withdrawals(sessionmaker)) == [
        (person, "email", "one_click", 7) for person in people
    ]
