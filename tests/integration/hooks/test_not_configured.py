"""A provider whose settings are not given has no hook: its URL is a 404
whatever the request carries, and nothing changes."""

from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.db import SessionMaker
from tests.support.clock import FrozenClock
from tests.support.hooks import mailgun_body, mailgun_failure, postmark_auth, postmark_bounce, state


@pytest.mark.parametrize("provider", ["ses", "sendgrid", "postmark", "mailgun"])
async def test_an_unconfigured_provider_has_no_hook(
    client: AsyncTestClient[Litestar], sessionmaker: SessionMaker, provider: str
) -> None:
    before = await state(sessionmaker)
    answer = await client.post(f"/hooks/{provider}", content=b"{}")
    assert answer.status_code == 404
    assert await state(sessionmaker) == before


async def test_even_a_well_formed_request_finds_no_hook(
    client: AsyncTestClient[Litestar], sessionmaker: SessionMaker, frozen_clock: FrozenClock
) -> None:
    before = await state(sessionmaker)
    body = mailgun_body(mailgun_failure("maija@example.fi"), now=frozen_clock.now)
    assert (await client.post("/hooks/mailgun", json=body)).status_code == 404
    answer = await client.post(
        "/hooks/postmark", json=postmark_bounce("maija@example.fi"), headers=postmark_auth()
    )
    assert answer.status_code == 404
    assert await state(sessionmaker) == before


async def test_other_methods_and_paths_are_not_hooks(client: AsyncTestClient[Litestar]) -> None:
    assert (await client.get("/hooks/mailgun")).status_code == 405
    assert (await client.post("/hooks/brevo", content=b"{}")).status_code == 404
