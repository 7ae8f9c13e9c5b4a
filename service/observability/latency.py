"""Request latency and access lines, per route template.

:func:`instrument` wraps the whole Litestar ASGI handler, outside its
exception handling, so every request is seen with the status the client got:
404s, 405s and 500s included, which no route middleware would see. A request
is labelled by the template of the route it matched (``/u/{token}``,
``/api/v1/contacts/{contact_id}``): ids and tokens never make a new series or
reach a log line. A request matching no route is ``(unmatched)``.
"""

from __future__ import annotations

import logging
import time
from bisect import bisect_left
from dataclasses import dataclass, field

from litestar import Litestar
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

# Prometheus' default buckets: from a cached pixel to a slow list download.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UNMATCHED = "(unmatched)"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Polled every few seconds by load balancers and Prometheus: their lines go
# out at DEBUG unless something failed.
QUIET_ROUTES = frozenset({"/health/live", "/health/ready", "/metrics"})

access_log = logging.getLogger("consentry.access")

Labels = tuple[str, str, str]  # method, route, status


@dataclass(slots=True)
class Series:
    buckets: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))
    total: float = 0.0
    count: int = 0


class LatencyHistogram:
    """Request durations of this process by (method, route, status).

    Per process: with several API processes, Prometheus scrapes each (see
    docs/operations.md). Only the event loop writes it, so no lock is needed.
    """

    def __init__(self) -> None:
        self.series: dict[Labels, Series] = {}

    def observe(self, labels: Labels, seconds: float) -> None:
        series = self.series.get(labels)
        if series is None:
            series = self.series[labels] = Series()
        index = bisect_left(BUCKETS, seconds)
        if index < len(BUCKETS):
            series.buckets[index] += 1
        series.total += seconds
        series.count += 1


def labels_of(scope: Scope, status: int) -> Labels:
    method = str(scope.get("method", "")).upper()
    route = scope.get("path_template") or UNMATCHED
    return (method if method in METHODS else "OTHER", route, str(status))


class RequestObserver:
    """The ASGI wrapper: time each HTTP request, count it, write its access line."""

    def __init__(self, app: ASGIApp, histogram: LatencyHistogram) -> None:
        self.app = app
        self.histogram = histogram

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless a response starts: the server answers 500 then

        async def observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            seconds = time.perf_counter() - started
            labels = labels_of(scope, status)
            self.histogram.observe(labels, seconds)
            method, route, code = labels
            quiet = route in QUIET_ROUTES and status < 400
            access_log.log(
                logging.DEBUG if quiet else logging.INFO,
                "%s %s %s",
                method,
                route,
                code,
                extra={
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                },
            )


def instrument(app: Litestar) -> LatencyHistogram:
    """Wrap ``app``'s ASGI handler; the histogram it fills is in ``app.state.latency``.

    Litestar builds ``asgi_handler`` (the router inside its exception
    handling) once, in its constructor, and calls it for every request."""
    histogram = LatencyHistogram()
    app.asgi_handler = RequestObserver(app.asgi_handler, histogram)
    app.state.latency = histogram
    return histogram
