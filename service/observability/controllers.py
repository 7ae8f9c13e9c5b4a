"""``/health/live``, ``/health/ready`` and ``/metrics``: no staff login.

None of them serves personal data. /metrics answers only to loopback
clients unless ``CONSENTRY_METRICS_TOKEN`` is set; then only to that bearer
token, from anywhere (docs/operations.md).
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.openapi import ResponseSpec
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

from service.observability import health, metrics
from service.observability.schemas import Readiness
from service.openapi import error_responses
from service.settings import Settings

NO_STORE = {"cache-control": "no-store"}
# A proxy in front adds one of these: its clients are not on our loopback.
_PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_metrics_access(request: Request[Any, Any, Any], settings: Settings) -> None:
    if settings.metrics_token is not None:
        if not metrics.token_matches(request.headers.get("authorization"), settings.metrics_token):
            raise NotAuthorizedException("a bearer token is required (CONSENTRY_METRICS_TOKEN)")
        return
    client = request.scope.get("client")
    proxied = any(name in request.headers for name in _PROXY_HEADERS)
    if proxied or not _is_loopback(client[0] if client else ""):
        raise PermissionDeniedException(
            "metrics are served to loopback clients only; set CONSENTRY_METRICS_TOKEN "
            "to scrape them from elsewhere"
        )


class HealthController(Controller):
    path = "/health"
    tags = ["operations"]

    @get("/live", sync_to_thread=False)
    def live(self) -> Response[dict[str, str]]:
        """The process is up (it answers; nothing else is checked)."""
        return Response({"status": "ok"}, headers=NO_STORE)

    @get(
        "/ready",
        responses={
            HTTP_503_SERVICE_UNAVAILABLE: ResponseSpec(
                data_container=Readiness, description="A check failed; `failed` names it."
            )
        },
    )
    async def ready(
        self,
        state: State,
        skip: Annotated[
            Literal["worker"] | None,
            Parameter(
                description="`worker`: leave the worker's heartbeat out. For the readiness "
                "probe of API replicas: public unsubscribe links must not go down with the "
                "workers (docs/operations.md)."
            ),
        ] = None,
    ) -> Response[Readiness]:
        """Ready for traffic: the database answers and is at the newest
        migration, Redis answers (when one is configured), and a worker's
        heartbeat is fresh (unless ``skip=worker``)."""
        result = await health.readiness(state.engine, state.queue, skip_worker=skip == "worker")
        code = HTTP_200_OK if result.status == "ready" else HTTP_503_SERVICE_UNAVAILABLE
        return Response(result, status_code=code, headers=NO_STORE)


class MetricsController(Controller):
    path = "/metrics"
    tags = ["operations"]

    @get(
        "/",
        media_type=metrics.CONTENT_TYPE,
        responses=error_responses(
            {
                401: "CONSENTRY_METRICS_TOKEN is set and the request did not carry it.",
                403: "No token is set and the client is not on loopback (or is proxied).",
            }
        ),
    )
    async def metrics(self, request: Request[Any, Any, Any], state: State) -> Response[str]:
        """Prometheus text format: messages, queue, worker, engagement, request latency."""
        settings: Settings = state.settings
        check_metrics_access(request, settings)
        text = await metrics.collect(
            settings=settings,
            sessionmaker=state.sessionmaker,
            redis=state.queue,
            counter=state.message_counter,
            histogram=state.latency,
        )
        return Response(text, media_type=metrics.CONTENT_TYPE, headers=NO_STORE)
