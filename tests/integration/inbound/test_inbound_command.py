"""`consentry inbound` as a process: refuses an unmigrated database, receives
mail until SIGTERM, and stops cleanly."""

from __future__ import annotations

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

from service.crypto import DataCipher
from service.embedded import free_port
from service.migrate import upgrade
from tests.conftest import TEST_DATA_KEY, TEST_SECRET

COMMAND = [sys.executable, "-m", "service.cli", "inbound"]
REPORT = (
    'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
    "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
    "Final-Recipient: rfc822; gone@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n"
    "\r\n--B--\r\n"
)


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
            smtp.sendmail("", ["news@example.fi"], REPORT)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert out.read_text().rstrip().endswith("consentry: stopped")
    log = err.read_text()
    assert "Traceback" not in log
    assert "delivery report: 1 permanent" in log
    # Neither our lines nor aiosmtpd's name the address.
    assert "gone@example.net" not in log

    with closing(sqlite3.connect(tmp_path / "c.db")) as db:
        rows = db.execute("SELECT value_hash, reason FROM suppressions").fetchall()
    gone = DataCipher(TEST_DATA_KEY).lookup_hash("email", "gone@example.net")
    assert rows == [(gone, "bounce")]
