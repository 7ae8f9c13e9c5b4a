"""The routes of this package, collected for service.app."""

from __future__ import annotations

from litestar import Controller

from service.auth.controllers import OwnTokenController, TokenController

# Under /api/v1, behind staff authentication.
API_ROUTES: list[type[Controller]] = [TokenController, OwnTokenController]
# Public (no login): none.
PUBLIC_ROUTES: list[type[Controller]] = []
