"""The routes of this package, collected for service.app."""

from __future__ import annotations

from litestar import Controller

from service.imports.controllers import ImportController

# Under /api/v1, behind staff authentication.
API_ROUTES: list[type[Controller]] = [ImportController]
# Public (no login): none.
PUBLIC_ROUTES: list[type[Controller]] = []
