"""The routes of this package, collected for service.app."""

from __future__ import annotations

from litestar import Controller

from service.audit.controllers import AuditController

# Under /api/v1, behind staff authentication.
API_ROUTES: list[type[Controller]] = [AuditController]
# Public (no login): reached from messages, guarded by signed tokens.
PUBLIC_ROUTES: list[type[Controller]] = []
