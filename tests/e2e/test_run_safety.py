"""`consentry run --port P` as a user starts it (issue 13 items 8-10): links and
sign-in hints follow P; the database, its WAL and shared-memory files, the
var dir and the outbox are private; and `backup restore` refuses while the
API and the worker run, naming them.

Real subprocesses, a private var dir and SQLite file (tests/support/consentry_run.py).
"""

from __future__ import annotations

import re
import stat
import time
from pathlib import Path

import httpx

from service.embedded import free_port
from tests.support.consentry_run import PASSWORD, consentry, running_service, wait_for

ADMIN = "admin@example.fi"
GRANT = {
    "channel": "email",
    "purpose": "direct_marketing",
    "action": "grant",
    "source": "self",
    "method": "web_form",
    "evidence": {"text": "Yes", "notice_version": "1"},
}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_run_on_another_port_is_private_and_refuses_a_restore(tmp_path: Path) -> None:
    port = free_port()
    backup = tmp_path / "b.backup"
    with running_service(tmp_path, port=port) as run:
        env = run.env
        public = f"http://127.0.0.1:{port}"
        wait_for(lambda: "No staff user yet" in run.stdout(), "the first-start hint")
        assert f"sign in at {public}/app/login" in run.stdout()

        added = consentry(env, "user", "add", ADMIN, "--role", "admin", stdin=PASSWORD)
        assert added.returncode == 0, added.stderr
        assert f"sign in at {public}/app/login;" in added.stdout
        token = consentry(env, "token", "issue", ADMIN).stdout.strip()
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=f"{run.base_url}/api/v1", headers=headers) as api:
            body = {
                "full_name": "Pirjo Port",
                "email": "pirjo.port@example.fi",
                "legal_basis": "customer_relationship",
                "source": "self",
            }
            contact = api.post("/contacts", json=body)
            assert contact.status_code == 201, contact.text
            grant = api.post(f"/contacts/{contact.json()['id']}/consents", json=GRANT)
            assert grant.status_code == 201, grant.text
            campaign = api.post(
                "/campaigns",
                json={
                    "name": "Port",
                    "channel": "email",
                    "subject": "Hei",
                    "body_html": "<p>Hei</p>",
                    "body_text": "Hei",
                },
            )
            assert campaign.status_code == 201, campaign.text
            assert api.post(f"/campaigns/{campaign.json()['id']}/send").status_code == 202
            wait_for(lambda: any(run.outbox.glob("*.eml")), "the campaign message")

            # Links follow --port (the worker, a process of its own, too).
            (message,) = run.outbox.glob("*.eml")
            raw = message.read_bytes().decode("ascii", errors="replace")
            unsubscribe = re.search(r"List-Unsubscribe: <([^>]+)>", raw)
            assert unsubscribe is not None and unsubscribe.group(1).startswith(f"{public}/u/")

            # Private files: the database with its WAL and shared memory (the
            # API holds its connection), the var dir, the outbox and what is in it.
            database = run.database
            files = [database, *(database.with_name(database.name + s) for s in ("-wal", "-shm"))]
            assert all(path.exists() for path in files)
            assert [mode(path) for path in files] == [0o600] * 3
            var = Path(env["CONSENTRY_VAR_DIR"])
            assert mode(var) == mode(run.outbox) == mode(var / "redis") == 0o700
            assert mode(message) == 0o600
            assert {mode(path) for path in var.iterdir() if path.is_file()} == {0o600}

        made = consentry(env, "backup", "create", str(backup))
        assert made.returncode == 0, made.stderr
        started = time.monotonic()
        refused = consentry(env, "backup", "restore", str(backup))
        assert refused.returncode == 1
        line = refused.stderr.strip()
        assert "\n" not in line, refused.stderr
        found = re.fullmatch(
            r"consentry: an API \(pid (\d+)\) and a worker \(pid (\d+)\) are running on this "
            r"installation; stop them before restoring \(or pass --force\)",
            line,
        )
        assert found is not None, line
        assert int(found.group(1)) == run.process.pid
        assert time.monotonic() - started < 30
    # Stopped: the same restore goes through.
    restored = consentry(env, "backup", "restore", str(backup))
    assert restored.returncode == 0, restored.stderr
    assert "audit event(s) recorded since the backup carried" in restored.stdout
