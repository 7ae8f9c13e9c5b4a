"""While a pathological template is checked, the running API answers
promptly: the check runs off the event loop, within its CPU limit."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx

from tests.support.consentry_run import PASSWORD, consentry, running_service

ADMIN = "admin@example.fi"
# About 100 bytes that once froze the API for ~10 s at save.
NESTED_LOOPS = (
    "{% for a in range(99999) %}{% for b in range(99999) %}{{ a }}{% endfor %}{% endfor %}"
)
CAMPAIGN = {
    "name": "Heavy",
    "channel": "email",
    "subject": "Hello {{ contact.name }}",
    "body_html": "<p>Dear {{ contact.name }},</p>",
    "body_text": NESTED_LOOPS,
}


def test_the_api_answers_while_a_template_is_checked(tmp_path: Path) -> None:
    with running_service(tmp_path) as run:
        added = consentry(run.env, "user", "add", ADMIN, "--role", "admin", stdin=PASSWORD)
        assert added.returncode == 0, added.stderr
        issued = consentry(run.env, "token", "issue", ADMIN)
        assert issued.returncode == 0, issued.stderr
        headers = {"Authorization": f"Bearer {issued.stdout.strip()}"}
        saved: list[httpx.Response] = []

        def save() -> None:
            with httpx.Client(base_url=run.base_url, headers=headers, timeout=30) as api:
                saved.append(api.post("/api/v1/campaigns", json=CAMPAIGN))

        started = time.monotonic()
        saving = threading.Thread(target=save)
        saving.start()
        time.sleep(0.5)  # the check is under way by now
        latencies: dict[str, float] = {}
        with httpx.Client(base_url=run.base_url, headers=headers, timeout=30) as api:
            for path in ("/health/live", "/api/v1/campaigns", "/health/ready"):
                asked = time.monotonic()
                response = api.get(path)
                latencies[path] = time.monotonic() - asked
                assert response.status_code == 200, response.text
        assert saving.is_alive(), "the check ended before the requests: nothing was shown"
        saving.join(30)
        took = time.monotonic() - started
        assert max(latencies.values()) < 1, latencies
        [response] = saved
        assert response.status_code == 422, response.text
        assert "CONSENTRY_TEMPLATE_CPU_SECONDS" in response.json()["fields"]["body_text"]
        assert took < 10, took  # about 2 s of CPU, whatever else the machine does
