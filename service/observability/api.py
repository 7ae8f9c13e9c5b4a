"""The routes of this package, collected for service.app, and what the app
needs to serve them (``attach``)."""

from __future__ import annotations

from litestar import Controller, Litestar

from service.observability.controllers import HealthController, MetricsController
from service.observability.latency import instrument
from service.observability.logs import configure_logging
from service.observability.service import MessageCounter
from service.settings import Settings

# Under /api/v1, behind staff authentication: none.
API_ROUTES: list[type[Controller]] = []
# Public (no login; /metrics checks its own token or the client's address).
PUBLIC_ROUTES: list[type[Controller]] = [HealthController, MetricsController]


def attach(app: Litestar, settings: Settings) -> None:
    """Configure this process's logs, time every request and keep the
    per-process state /metrics reads. Call once on the app ``create_app`` built."""
    configure_logging(settings.log_format)
    instrument(app)
    app.state.message_counter = MessageCounter()
