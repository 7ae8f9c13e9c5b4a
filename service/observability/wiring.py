"""What the app needs to serve this package's routes (``attach``)."""

from __future__ import annotations

from litestar import Litestar

from service.observability.latency import instrument
from service.observability.logs import configure_logging
from service.observability.service import MessageCounter
from service.settings import Settings


def attach(app: Litestar, settings: Settings) -> None:
    """Configure this process's logs, time every request and keep the
    per-process state /metrics reads. Call once on the app ``create_app`` built."""
    configure_logging(settings.log_format)
    instrument(app)
    app.state.message_counter = MessageCounter()
