"""A real SMTP server (the relay, as tests see it) whose answers depend on the
recipient's domain, and which counts what each domain has in flight.

- ``held[domain] = n``: that domain's messages are held at DATA until ``n``
  messages of other domains have been accepted (at most ``HOLD_SECONDS``, so
  that a loop that waits for the held domain ends the test instead of
  hanging it);
- ``deferrals[domain] = n``: the domain's first ``n`` recipients are answered
  "451 4.7.1 try again later", as a provider deferring a fast sender does.

``events`` lists ("rcpt" | "accepted" | "deferred", domain) in arrival order.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from typing import Any

from aiosmtpd.controller import Controller

from service.embedded import free_port

HOLD_SECONDS = 20.0


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower()


class _Handler:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.in_flight: Counter[str] = Counter()
        self.most: Counter[str] = Counter()
        self.held: dict[str, int] = {}
        self.deferrals: Counter[str] = Counter()
        self._released: asyncio.Event | None = None

    def _begin(self, domain: str) -> None:
        self.in_flight[domain] += 1
        self.most[domain] = max(self.most[domain], self.in_flight[domain])

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        domain = _domain(address)
        self.events.append(("rcpt", domain))
        if self.deferrals[domain] > 0:
            self.deferrals[domain] -= 1
            self._begin(domain)
            self.in_flight[domain] -= 1
            self.events.append(("deferred", domain))
            return "451 4.7.1 try again later"
        self._begin(domain)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        domain = _domain(envelope.rcpt_tos[0])
        try:
            if domain in self.held:
                await self._wait_for_others(domain)
            else:
                await asyncio.sleep(0.01)  # a little work, so that sends overlap
        finally:
            self.in_flight[domain] -= 1
        self.events.append(("accepted", domain))
        self._check_held()
        return "250 2.0.0 accepted"

    def _others_accepted(self, domain: str) -> int:
        return sum(1 for kind, d in self.events if kind == "accepted" and d != domain)

    async def _wait_for_others(self, domain: str) -> None:
        if self._released is None:
            self._released = asyncio.Event()
        if self._others_accepted(domain) >= self.held[domain]:
            return
        # On time-out the test's order assertions say what went wrong.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._released.wait(), HOLD_SECONDS)

    def _check_held(self) -> None:
        if self._released is not None and all(
            self._others_accepted(d) >= n for d, n in self.held.items()
        ):
            self._released.set()

    def accepted(self, domain: str) -> int:
        return sum(1 for kind, d in self.events if kind == "accepted" and d == domain)


class DomainSink:
    def __init__(self) -> None:
        self.handler = _Handler()
        self.port = free_port()
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> DomainSink:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()
