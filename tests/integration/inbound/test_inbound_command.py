"""`consentry inbound` as a process: refuses an unmigrated database, receives
mail until SIGTERM, and stops cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import smtplib
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from service.contacts import service as contacts_service
from service.contacts.schemas import ContactCreate
from service.crypto import DataCipher
from service.db import create_engine, create_sessionmaker, session_scope
from service.embedded import free_port
from service.migrate import upgrade
from service.models import Campaign, CampaignRecipient
from service.models.enums import (
    CampaignChannel,
    LegalBasis,
    Purpose,
    RecipientStatus,
    Source,
)
from service.tokens import TokenSigner
from tests.conftest import TEST_DATA_KEY, TEST_SECRET

COMMAND = [sys.executable, "-m", "service.cli", "inbound"]


def report(message_id: str) -> str:
    """A report returning the headers of a message we sent (only such a report counts)."""
    return (
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Final-Recipient: rfc822; gone@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {message_id}\r\n"
        "\r\n--B--\r\n"
    )


async def sent_to(url: str, address: str) -> str:
    """A contact and a campaign message sent to them; its Message-ID."""
    engine = create_engine(url)
    try:
        async with session_scope(create_sessionmaker(engine)) as session:
            contact = await contacts_service.create(
                session,
                data=ContactCreate(
                    full_name="Poissa",
                    email=address,
                    legal_basis=LegalBasis.CONSENT,
                    source=Source.SELF,
                ),
                cipher=DataCipher(TEST_DATA_KEY),
            )
            campaign = Campaign(
                name="Autumn", channel=CampaignChannel.EMAIL, purpose=Purpose.DIRECT_MARKETING
            )
            session.add(campaign)
            await session.flush()
            row = CampaignRecipient(
                campaign_id=campaign.id,
                contact_id=contact.id,
                channel=CampaignChannel.EMAIL,
                status=RecipientStatus.SENT,
            )
            session.add(row)
            await session.flush()
            assert campaign.id is not None and row.id is not None
            tag = TokenSigner(TEST_SECRET).message_tag(campaign.id, row.id, campaign.message_key)
            return f"<c{campaign.id}.r{row.id}.{tag}@example.fi>"
    finally:
        await engine.dispose()


def environment(root: Path, port: int) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("CONSENTRY_")}
    env.update(
        CONSENTRY_VAR_DIR=str(root / "var"),
        CONSENTRY_DATABASE_URL=f"sqlite+aiosqlite:///{root / 'c.db'}",
        CONSENTRY_SECRET_KEY=TEST_SECRET,
        CONSENTRY_DATA_KEY=TEST_DATA_KEY,
        CONSENTRY_MAIL_FROM="news@example.fi",
        CONSENTRY_INBOUND_HOST="127.0.0.1",
        CONSENTRY_INBOUND_PORT=str(port),
    )
    return env


@pytest.mark.slow
def test_inbound_command_receives_until_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = environment(tmp_path, port)
    refused = subprocess.run(COMMAND, env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        "consentry: the database is not at the newest revision; run `consentry migrate`"
    ]

    upgrade(env["CONSENTRY_DATABASE_URL"])
    message_id = asyncio.run(sent_to(env["CONSENTRY_DATABASE_URL"], "gone@example.net"))
    out, err = tmp_path / "out", tmp_path / "err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(COMMAND, env=env, stdout=stdout, stderr=stderr)
    try:
        deadline = time.monotonic() + 30
        while "receiving mail" not in out.read_text():
            assert process.poll() is None, err.read_text()
            assert time.monotonic() < deadline, "the listener did not start"
            time.sleep(0.05)
        assert out.read_text().startswith(
            f"consentry: receiving mail on 127.0.0.1:{port} for unsubscribe@example.fi "
            "(unsubscribe) and news@example.fi (delivery reports)"
        )
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            # The null sender, as delivery reports have.
            smtp.sendmail("", ["news@example.fi"], report(message_id))
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert out.read_text().rstrip().endswith("consentry: stopped")
    log = err.read_text()
    assert "Traceback" not in log
    assert "bounce mail: 1 bad address; 1 suppressed" in log
    # Neither our lines nor aiosmtpd's name the address.
    assert "gone@example.net" not in log

    with closing(sqlite3.connect(tmp_path / "c.db")) as db:
        rows = db.execute("SELECT value_hash, reason FROM suppressions").fetchall()
    gone = DataCipher(TEST_DATA_KEY).lookup_hash("email", "gone@example.net")
    assert rows == [(gone, "bounce")]
