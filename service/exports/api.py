"""The routes of this package, collected for service.app."""

from __future__ import annotations

from litestar import Controller

from service.exports.controllers import ExportController

# Under /api/v1, behind staff authentication.
API_ROUTES: list[type[Controller]] = [ExportController]
# Public (no login): none.
PUBLIC_ROUTES: list[type[Controller]] = []
