"""The routes of this package, collected for service.app."""

from __future__ import annotations

from litestar import Controller

from service.requests.controllers import DisclosureController, RequestController

# Under /api/v1, behind staff authentication.
API_ROUTES: list[type[Controller]] = [RequestController, DisclosureController]
# Public (no login): reached from messages, guarded by signed tokens.
PUBLIC_ROUTES: list[type[Controller]] = []
