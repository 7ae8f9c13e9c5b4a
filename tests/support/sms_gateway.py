"""A real HTTP SMS gateway on 127.0.0.1 for tests: records every request and
answers as the test tells it, per number: accepted (202), refused (4xx),
failing (5xx), or hanging until the client gives up. Stopped, it is down.

It runs on the same small server as the local SMS catcher
(service.delivery.sms_catcher.LocalHttpServer), on a thread of its own.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, Literal

from service.delivery.sms_catcher import HttpRequest, HttpResponse, LocalHttpServer

HANG: Literal["hang"] = "hang"
ACCEPTED = HttpResponse(202, {"status": "accepted"})
INVALID_NUMBER = HttpResponse(400, {"error": "invalid_number"})
Answer = HttpResponse | Literal["hang"]


@dataclass(frozen=True, slots=True)
class Received:
    to: str
    text: str
    message_id: str
    authorization: str | None
    status: int | None  # None: the gateway hung


class SmsGateway(LocalHttpServer):
    def __init__(self) -> None:
        super().__init__(self._answer, what="test SMS gateway")
        self.received: list[Received] = []
        self.answers: dict[str, Answer] = {}  # by number
        self.default: Answer = ACCEPTED

    def accepted(self) -> list[Received]:
        return [r for r in self.received if r.status is not None and 200 <= r.status < 300]

    async def _answer(self, request: HttpRequest) -> HttpResponse:
        data: dict[str, Any] = json.loads(request.body)
        answer = self.answers.get(str(data.get("to")), self.default)
        self.received.append(
            Received(
                to=data["to"],
                text=data["text"],
                message_id=data["message_id"],
                authorization=request.headers.get("authorization"),
                status=None if answer == HANG else answer.status,
            )
        )
        if answer == HANG:
            await asyncio.sleep(3600)
            return ACCEPTED
        return answer
