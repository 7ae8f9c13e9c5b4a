"""Engagement jobs: thin wrappers over ``service.tracking``."""

from __future__ import annotations

import os
import socket
from typing import Any

from service.tracking import events


def consumer_name() -> str:
    """This process's name in the stream's consumer group.

    Stable for the life of the process, so its pending entries stay its own
    between runs; unique across processes and hosts, so two workers never
    share a pending list. Computed per call: a forked worker has its own pid.
    """
    return f"{socket.gethostname()}:{os.getpid()}"


async def drain_engagement(ctx: dict[str, Any]) -> int:
    return await events.drain(ctx["redis"], ctx["sessionmaker"], consumer=consumer_name())
