"""The routes of this package, collected for service.app."""

from __future__ import annotations

from litestar import Controller

from service.robinson.controllers import RobinsonController

# Under /api/v1, behind staff authentication.
API_ROUTES: list[type[Controller]] = [RobinsonController]
# Public (no login): none.
PUBLIC_ROUTES: list[type[Controller]] = []
