"""SMS on the embedded defaults: `consentry run` without CONSENTRY_SMS_GATEWAY_URL
starts the local SMS catcher, and an SMS campaign sent through the API lands
in var/sms-outbox/, one private file per message; the gateway's STOP reply
then withdraws SMS consent through POST /hooks/sms."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import httpx
import pytest

from tests.support.consentry_run import PASSWORD, consentry, running_service, wait_for

pytestmark = pytest.mark.slow

ADMIN = "admin@example.fi"
HOOK_SECRET = "e2e-sms-hook-secret-" + "h" * 32


def test_an_sms_campaign_lands_in_the_sms_outbox(tmp_path: Path) -> None:
    with running_service(tmp_path, CONSENTRY_SMS_HOOK_SECRET=HOOK_SECRET) as run:
        outbox = tmp_path / "var" / "sms-outbox"
        assert f"SMS: caught, not sent; kept in {outbox}/" in run.stdout()
        added = consentry(run.env, "user", "add", ADMIN, "--role", "admin", stdin=PASSWORD)
        assert added.returncode == 0, added.stderr
        token = consentry(run.env, "token", "issue", ADMIN).stdout.strip()
        api = httpx.Client(
            base_url=f"{run.base_url}/api/v1", headers={"Authorization": f"Bearer {token}"}
        )
        people = {}
        for name, phone, consent in (
            ("Aino", "040 123 4567", True),
            ("Bertta", "0407654321", False),
        ):
            created = api.post(
                "/contacts",
                json={
                    "full_name": name,
                    "phone": phone,
                    "legal_basis": "customer_relationship",
                    "source": "self",
                    "last_service_contact_at": "2026-06-01",
                },
            )
            assert created.status_code == 201, created.text
            people[name] = created.json()["id"]
            if consent:
                granted = api.post(
                    f"/contacts/{people[name]}/consents",
                    json={
                        "channel": "sms",
                        "purpose": "direct_marketing",
                        "action": "grant",
                        "source": "self",
                        "method": "web_form",
                        "evidence": {"text": "Yes, text me", "notice_version": "2026-01"},
                    },
                )
                assert granted.status_code == 201, granted.text
        campaign = api.post(
            "/campaigns",
            json={"name": "Texts", "channel": "sms", "body_text": "Hei {{ contact.name }}!"},
        )
        assert campaign.status_code == 201, campaign.text
        campaign_id = campaign.json()["id"]
        assert api.post(f"/campaigns/{campaign_id}/send").status_code == 202

        def done() -> bool:
            return bool(api.get(f"/campaigns/{campaign_id}").json()["status"] == "done")

        wait_for(done, "the SMS campaign to finish")
        (kept,) = outbox.iterdir()
        assert stat.S_IMODE(kept.stat().st_mode) == 0o600
        message = json.loads(kept.read_text())
        assert kept.name == f"{message['message_id']}.json"
        assert message["to"] == "+358401234567"
        # The text, the sender's name (the development placeholder here), the opt-out line.
        greeting, sender, opt_out = message["text"].split("\n")
        assert (greeting, sender) == ("Hei Aino!", "(not configured)")
        assert opt_out.startswith("Lopeta: http://127.0.0.1:")
        assert message["text"].endswith(" tai vastaa STOP")

        stop = httpx.post(
            f"{run.base_url}/hooks/sms",
            json={"from": "+358401234567", "text": "LOPETA"},
            headers={"Authorization": f"Bearer {HOOK_SECRET}"},
        )
        assert stop.status_code == 200 and stop.json() == {"status": "stopped"}
        eligibility = api.get(f"/contacts/{people['Aino']}/eligibility?channel=sms").json()
        assert eligibility["reasons"] == ["consent_withdrawn"]
        api.close()
