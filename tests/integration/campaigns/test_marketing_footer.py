"""Every campaign email says what it is (GDPR 21(4), ePrivacy 13, the
Information Society Code 917/2014 § 202): who sends it, that it is
marketing, and that the person may object to direct marketing at any time,
free of charge, next to the unsubscribe link, in the contact's language. The
system adds it; the campaign's own template says none of it."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.db import SessionMaker
from service.settings import Settings, load_settings
from tests.support.factories import add_campaign, add_recipient
from tests.support.smtp import PickySink
from tests.support.worker import drain, worker_context

Client = AsyncTestClient[Litestar]
# Markup in the name: the HTML part must escape it.
CONTROLLER = "Smith & <Virtanen> Oy"
WORDS = {
    "fi": (
        "Tämä on suoramarkkinointiviesti.",
        "Sinulla on oikeus kieltää suoramarkkinointi milloin tahansa maksutta.",
        "Peru tilaus",
    ),
    "sv": (
        "Detta är direktmarknadsföring.",
        "Du har rätt att när som helst och kostnadsfritt invända mot direktmarknadsföring.",
        "Avsluta prenumerationen",
    ),
    "en": (
        "This is a direct marketing message.",
        "You have the right to object to direct marketing at any time, free of charge.",
        "Unsubscribe",
    ),
}


@pytest.fixture
def sink() -> Iterator[PickySink]:
    with PickySink() as server:
        yield server


@pytest.fixture
def settings(settings: Settings, settings_env: dict[str, str], sink: PickySink) -> Settings:
    return load_settings(
        {
            **settings_env,
            "CONSENTRY_DATABASE_URL": settings.database_url,
            "CONSENTRY_REDIS_URL": settings.redis_url or "",
            "CONSENTRY_SMTP_HOST": "127.0.0.1",
            "CONSENTRY_SMTP_PORT": str(sink.port),
            "CONSENTRY_MAIL_FROM": "news@example.fi",
            "CONSENTRY_PUBLIC_URL": "https://consentry.example.fi",
            "CONSENTRY_CONTROLLER_NAME": CONTROLLER,
        }
    )


@pytest.fixture
async def ctx(settings: Settings, sessionmaker: SessionMaker) -> AsyncIterator[dict[str, Any]]:
    async with worker_context(settings, sessionmaker) as context:
        await context["redis"].flushdb()
        yield context


async def test_each_email_names_the_sender_the_marketing_and_the_right_to_object(
    admin: Client, ctx: dict[str, Any], sink: PickySink
) -> None:
    for language in WORDS:
        await add_recipient(admin, f"{language}@example.fi", language=language)
    # The author's template says nothing of sender, marketing or objection.
    campaign_id = await add_campaign(
        admin, body_html="<p>Autumn programme</p>", body_text="Autumn programme"
    )
    assert (await admin.post(f"/api/v1/campaigns/{campaign_id}/send")).status_code == 202
    await drain(ctx)

    assert sorted(address for address, _ in sink.accepted) == [
        "en@example.fi",
        "fi@example.fi",
        "sv@example.fi",
    ]
    for address, message in sink.accepted:
        marketing, right, unsubscribe = WORDS[address.split("@")[0]]
        unsubscribe_url = message["List-Unsubscribe"].split(",")[0].strip(" <>")
        text_part = message.get_body(("plain",))
        html_part = message.get_body(("html",))
        assert text_part is not None and html_part is not None
        text = text_part.get_content().replace("\r\n", "\n")
        page = html_part.get_content()

        footer = text.split("\n--\n", 1)[1]
        assert marketing in footer and CONTROLLER in footer
        # The right to object, then the link that exercises it.
        assert f"{right}\n{unsubscribe}: {unsubscribe_url}" in footer

        assert marketing in page and html.escape(CONTROLLER) in page
        assert CONTROLLER not in page  # escaped, never raw markup
        link = f'{right} <a href="{html.escape(unsubscribe_url)}"'
        assert link in page and f">{unsubscribe}</a>" in page
