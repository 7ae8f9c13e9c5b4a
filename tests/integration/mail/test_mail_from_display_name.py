"""A ``CONSENTRY_MAIL_FROM`` with a display name works everywhere (issue 13 item 8):
a campaign sent by the real queue jobs through a real SMTP server (a private
MailCatcher) carries the name in From — RFC 2047-encoded when it is not ASCII —
and the bare address in the envelope, the mailto unsubscribe address, the
Message-ID and the List-Id; its Date has a numeric zone."""

from __future__ import annotations

import email
import email.policy
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from email.utils import parseaddr, parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.db import SessionMaker
from service.embedded import MailCatcher
from service.settings import Settings, load_settings
from tests.support.factories import add_recipient
from tests.support.worker import drain, worker_context

Client = AsyncTestClient[Litestar]
MAIL_FROM = "Ääkkönen Oy <uutiset@firma.fi>"


@pytest.fixture
def catcher(tmp_path: Path) -> Iterator[MailCatcher]:
    server = MailCatcher(tmp_path / "outbox")
    with server:
        yield server


@pytest.fixture
def settings(settings: Settings, settings_env: dict[str, str], catcher: MailCatcher) -> Settings:
    return load_settings(
        {
            **settings_env,
            "CONSENTRY_DATABASE_URL": settings.database_url,
            "CONSENTRY_REDIS_URL": settings.redis_url or "",
            "CONSENTRY_SMTP_HOST": "127.0.0.1",
            "CONSENTRY_SMTP_PORT": str(catcher.port),
            "CONSENTRY_MAIL_FROM": MAIL_FROM,
        }
    )


@pytest.fixture
async def ctx(settings: Settings, sessionmaker: SessionMaker) -> AsyncIterator[dict[str, Any]]:
    async with worker_context(settings, sessionmaker) as context:
        await context["redis"].flushdb()
        yield context


async def send_one(admin: Client, ctx: dict[str, Any], catcher: MailCatcher) -> EmailMessage:
    """One consenting contact, a campaign to them alone, sent by the real jobs."""
    tag = f"from-{uuid.uuid4().hex[:8]}"
    address = f"{tag}@example.fi"
    await add_recipient(admin, address, tags=[tag])
    campaign = await admin.post(
        "/api/v1/campaigns",
        json={
            "name": "Display name",
            "channel": "email",
            "subject": "Hei",
            "body_html": "<p>Hei</p>",
            "body_text": "Hei",
            "segment": {"tags": [tag]},
        },
    )
    assert campaign.status_code == 201, campaign.text
    sent = await admin.post(f"/api/v1/campaigns/{campaign.json()['id']}/send")
    assert sent.status_code == 202, sent.text
    await drain(ctx)
    mine = [m for m in catcher.messages() if m["X-Envelope-To"] == address]
    assert len(mine) == 1, [m["X-Envelope-To"] for m in catcher.messages()]
    message = mine[0]
    assert isinstance(message, EmailMessage)
    return message


async def test_a_display_name_from_goes_out_with_bare_addresses_elsewhere(
    admin: Client, ctx: dict[str, Any], catcher: MailCatcher
) -> None:
    message = await send_one(admin, ctx, catcher)

    # The name is encoded in the raw header (no raw UTF-8), and reads back whole.
    raw = next(
        p for p in sorted(catcher.outbox.glob("*.eml")) if b"uutiset@firma.fi" in p.read_bytes()
    )
    raw_from = re.search(rb"^From: (.*)$", raw.read_bytes(), re.MULTILINE)
    assert raw_from is not None and raw_from.group(1).isascii()
    assert b"=?utf-8?" in raw_from.group(1).lower()
    assert parseaddr(str(message["From"])) == ("Ääkkönen Oy", "uutiset@firma.fi")
    assert message["From"].addresses[0].display_name == "Ääkkönen Oy"

    # The envelope sender (where delivery reports go) is the bare address with
    # the message's VERP token, the one its Message-ID carries.
    token = re.fullmatch(r"<(c\d+\.r\d+\.\w+)@firma\.fi>", message["Message-ID"])
    assert token is not None
    assert message["X-Envelope-From"] == f"uutiset+{token.group(1)}@firma.fi"
    assert re.fullmatch(r"<campaign-\d+\.firma\.fi>", message["List-Id"])
    mailto = re.search(r"<mailto:([^?>]+)\?", message["List-Unsubscribe"])
    assert mailto is not None and mailto.group(1) == "unsubscribe@firma.fi"

    # RFC 5322's numeric zone: "+0000", never "GMT" nor "-0000" (zone unknown).
    date = str(message["Date"])
    assert date.endswith(" +0000"), date
    assert parsedate_to_datetime(date).utcoffset() is not None


def test_the_date_header_of_a_built_message_has_a_numeric_zone() -> None:
    from service.mail.message import build_message
    from service.mail.render import Rendered

    raw = build_message(
        Rendered(language="fi", subject="Hei", html="<p>Hei</p>", text="Hei"),
        mail_from="Firma Oy <news@firma.fi>",
        to="someone@example.fi",
        message_id="<x@firma.fi>",
        list_id="<list.firma.fi>",
        unsubscribe_url="https://crm.example.fi/u/t",
        unsubscribe_mailto="mailto:unsubscribe@firma.fi",
    )
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert str(parsed["Date"]).endswith(" +0000")
    assert str(parsed["From"]) == "Firma Oy <news@firma.fi>"
