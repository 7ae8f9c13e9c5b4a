"""Domain errors. Services raise these; ``service.app`` maps them to HTTP answers."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    status_code = 400

    def __init__(self, detail: str, *, fields: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.fields = fields or {}


class InvalidInput(DomainError):
    """The request is well-formed but its values break a rule (422)."""

    status_code = 422


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    """The request clashes with stored state, e.g. an email already registered (409)."""

    status_code = 409

    def __init__(
        self, detail: str, *, reason: str | None = None, fields: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail, fields=fields)
        self.reason = reason


class Unauthorized(DomainError):
    status_code = 401


class Forbidden(DomainError):
    status_code = 403
