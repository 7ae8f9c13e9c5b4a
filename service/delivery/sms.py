"""The SMS messenger: one JSON ``POST`` per message to an HTTP gateway.

``CONSENTRY_SMS_GATEWAY_URL`` gets ``{"to": "+358…", "text": "…",
"message_id": "…"}`` with ``Authorization: Bearer CONSENTRY_SMS_GATEWAY_TOKEN``
when a token is set. The gateway's answer becomes the recipient's outcome
(docs/deliverability.md, "SMS"):

- any 2xx: accepted (sent);
- 408, 429 and 5xx, and a timeout: try later (temporary);
- any other 4xx: refused for good (permanent), for this recipient only; the
  number itself counts as refused only when the answer's JSON says so with
  ``"error": "invalid_number"`` (the convention of the local SMS catcher and
  the one to configure in a gateway's adapter);
- no connection at all (refused, unknown host, TLS failure): the gateway is
  unavailable, the batch stops and everyone stays queued.

Without a gateway of its own, ``consentry run`` starts the local SMS catcher
(service.delivery.sms_catcher) and points the URL at it, so the same
messenger runs in development and in production.
"""

from __future__ import annotations

import json
import logging
import re

import httpx

from service.delivery.messenger import Delivery, Outcome, Outgoing
from service.models.enums import Channel
from service.settings import Settings

logger = logging.getLogger(__name__)

# The gateway's word for "this number cannot receive messages".
INVALID_NUMBER = "invalid_number"
_RETRY_LATER = frozenset({408, 429})
# Anything that may be a phone number: 7 or more digits, spaced or not.
PHONE_NUMBER = re.compile(r"\+?\d[\d\s().-]{5,}\d")


class SmsMessenger:
    """Posts over one pooled HTTP client, ``concurrency`` requests at a time."""

    channel = Channel.SMS

    def __init__(
        self, url: str, *, token: str | None, concurrency: int, timeout_seconds: float
    ) -> None:
        self.url = url
        self.token = token
        self._concurrency = concurrency
        self.timeout_seconds = timeout_seconds
        self._client: httpx.AsyncClient | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> SmsMessenger | None:
        """The settings' gateway, or None when none is configured."""
        if settings.sms_gateway_url is None:
            return None
        return cls(
            settings.sms_gateway_url,
            token=settings.sms_gateway_token,
            concurrency=settings.sms_concurrency,
            timeout_seconds=settings.sms_timeout_seconds,
        )

    @property
    def concurrency(self) -> int:
        return self._concurrency

    async def open(self) -> None:
        if self._client is None:
            headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
            self._client = httpx.AsyncClient(
                headers=headers,
                timeout=httpx.Timeout(self.timeout_seconds, connect=min(5.0, self.timeout_seconds)),
                limits=httpx.Limits(
                    max_connections=self._concurrency, max_keepalive_connections=self._concurrency
                ),
                # The gateway is named by the settings; nothing from the
                # environment (proxies, .netrc) may redirect phone numbers.
                trust_env=False,
                follow_redirects=False,
            )

    async def send(self, message: Outgoing) -> Delivery:
        await self.open()
        assert self._client is not None
        body = {
            "to": message.recipient,
            "text": message.content.decode(),
            "message_id": message.message_id,
        }
        try:
            response = await self._client.post(self.url, json=body)
        except httpx.ConnectTimeout as exc:
            return _unavailable(exc)
        except httpx.TimeoutException as exc:
            # The gateway may have taken it: it comes again with the same
            # message id, which a gateway can de-duplicate on.
            return Delivery(Outcome.TEMPORARY, None, f"timeout: {type(exc).__name__}", False)
        except httpx.TransportError as exc:
            return _unavailable(exc)
        return outcome_of(response)

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()


def _unavailable(exc: Exception) -> Delivery:
    """No connection: nothing was learnt about this message or its recipient."""
    reply = f"the SMS gateway is unavailable: {type(exc).__name__}"
    return Delivery(Outcome.TEMPORARY, None, reply, False, relay_unavailable=True)


def outcome_of(response: httpx.Response) -> Delivery:
    """The gateway's answer as the recipient's outcome."""
    status = response.status_code
    # A gateway's error often quotes the number; the reply may end up in a
    # campaign's pause reason, which outlives the person.
    body = PHONE_NUMBER.sub("<number>", response.text)
    reply = f"{status} {response.reason_phrase}: {body}"[:500]
    if 200 <= status < 300:
        return Delivery(Outcome.SENT, status, reply, False)
    if status in _RETRY_LATER or status >= 500:
        return Delivery(Outcome.TEMPORARY, status, reply, False)
    if 400 <= status < 500:
        return Delivery(Outcome.PERMANENT, status, reply, _says_invalid_number(response))
    # 1xx or 3xx: not an answer a gateway should give; nothing was accepted.
    return Delivery(Outcome.TEMPORARY, status, reply, False)


def _says_invalid_number(response: httpx.Response) -> bool:
    try:
        answer = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
    return isinstance(answer, dict) and answer.get("error") == INVALID_NUMBER
