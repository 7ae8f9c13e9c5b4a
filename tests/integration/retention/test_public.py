"""The forbid-transfer page /f/{token}: what it says, what a POST changes,
and a generic 400 for anything but a valid token."""

from __future__ import annotations

from datetime import date

import pytest

from service.consent.texts import PAGE_TEXT as GENERIC_TEXT
from service.db import SessionMaker
from service.tokens import TokenSigner
from tests.integration.retention.conftest import (
    VENDOR,
    Client,
    NewContact,
    NewProfile,
    helsinki,
    profile,
)
from tests.support.clock import FrozenClock


def page_text(html: str) -> str:
    return " ".join(html.split())


async def test_the_page_says_what_goes_where_and_when_and_changes_nothing(
    client: Client,
    new_contact: NewContact,
    new_profile: NewProfile,
    sessionmaker: SessionMaker,
    signer: TokenSigner,
) -> None:
    profile_id = await new_profile(await new_contact(language="en"), date(2024, 3, 10))
    response = await client.get(f"/f/{signer.sign('profile_transfer', profile_id)}")
    assert response.status_code == 200
    text = page_text(response.text)
    assert f"completed on 10 March 2024, will be handed over to {VENDOR} on 10 March 2026" in text
    assert '<form method="post"' in response.text and "Forbid the transfer</button>" in text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "set-cookie" not in response.headers
    assert (await profile(sessionmaker, profile_id)).transfer_forbidden_at is None


async def test_a_post_forbids_the_transfer_once_and_a_repeat_answers_the_same(
    client: Client,
    new_contact: NewContact,
    new_profile: NewProfile,
    sessionmaker: SessionMaker,
    signer: TokenSigner,
    frozen_clock: FrozenClock,
) -> None:
    profile_id = await new_profile(await new_contact(language="fi"), date(2024, 3, 10))
    url = f"/f/{signer.sign('profile_transfer', profile_id)}"
    frozen_clock.set(date(2026, 2, 10))
    first = await client.post(url)
    assert first.status_code == 200
    assert "Olet kieltänyt siirron. Emme siirrä profiiliasi; hävitämme sen 10.3.2026." in (
        page_text(first.text)
    )
    forbidden_at = (await profile(sessionmaker, profile_id)).transfer_forbidden_at
    assert forbidden_at == frozen_clock.now

    frozen_clock.set(date(2026, 2, 11))
    again = await client.post(url)
    assert again.status_code == 200 and again.text == first.text
    assert (await profile(sessionmaker, profile_id)).transfer_forbidden_at == forbidden_at
    # And the page, fetched later, says so too.
    assert (await client.get(url)).text == first.text


@pytest.mark.parametrize("method", ["get", "post"])
async def test_a_forged_or_damaged_token_gets_the_generic_page(
    client: Client,
    new_contact: NewContact,
    new_profile: NewProfile,
    sessionmaker: SessionMaker,
    signer: TokenSigner,
    method: str,
) -> None:
    profile_id = await new_profile(await new_contact(), date(2024, 3, 10))
    good = signer.sign("profile_transfer", profile_id)
    for token in (
        good[:-2] + ("AA" if not good.endswith("AA") else "BB"),  # damaged
        TokenSigner("another-secret-key-" + "z" * 32).sign("profile_transfer", profile_id),
        signer.sign("unsubscribe", profile_id, 1),  # another purpose
        signer.sign("profile_transfer", profile_id, 2),  # another shape
        "not-a-token",
    ):
        response = await getattr(client, method)(f"/f/{token}", headers={"Accept-Language": "sv"})
        assert response.status_code == 400, token
        assert GENERIC_TEXT["sv"]["invalid"] in response.text
        assert response.headers["cache-control"] == "no-store"
    assert (await profile(sessionmaker, profile_id)).transfer_forbidden_at is None


async def test_a_profile_already_handed_over_or_gone(
    client: Client,
    new_contact: NewContact,
    new_profile: NewProfile,
    sessionmaker: SessionMaker,
    signer: TokenSigner,
) -> None:
    contact_id = await new_contact(language="en")
    transferred = await new_profile(contact_id, date(2024, 3, 10), state="transferred")
    destroyed = await new_profile(contact_id, date(2024, 3, 10), state="destroyed")
    for profile_id, words in (
        (transferred, f"has already been handed over to {VENDOR}. We no longer hold it."),
        (destroyed, "We no longer hold this profile."),
        (999_999, "We no longer hold this profile."),  # erased with the person
    ):
        url = f"/f/{signer.sign('profile_transfer', profile_id)}"
        for method in ("get", "post"):
            response = await getattr(client, method)(url)
            assert response.status_code == 200
            assert words in page_text(response.text)
            assert "<form" not in response.text
    assert (await profile(sessionmaker, transferred)).transfer_forbidden_at is None


async def test_the_page_of_a_profile_without_a_vendor_account(
    client: Client, new_contact: NewContact, new_profile: NewProfile, signer: TokenSigner
) -> None:
    profile_id = await new_profile(
        await new_contact(language="en"), date(2024, 3, 10), vendor_account=False
    )
    response = await client.get(f"/f/{signer.sign('profile_transfer', profile_id)}")
    assert "will not be handed over to anyone. We will delete it by 30 June 2027." in (
        page_text(response.text)
    )


async def test_after_a_late_notice_the_page_shows_the_later_day(
    client: Client, new_contact: NewContact, new_profile: NewProfile, signer: TokenSigner
) -> None:
    profile_id = await new_profile(
        await new_contact(language="en"),
        date(2024, 3, 10),
        transfer_notice_sent_at=helsinki(date(2026, 3, 1)),
    )
    response = await client.get(f"/f/{signer.sign('profile_transfer', profile_id)}")
    assert f"handed over to {VENDOR} on 31 March 2026" in page_text(response.text)
