"""Request and response bodies for the audit trail and the identity-code reveal."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from service.models.audit import AuditActor
from service.models.enums import Role

MIN_REASON = 5
MAX_REASON = 500

_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)
Reason = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=MIN_REASON, max_length=MAX_REASON),
    Field(description="Why the code is needed; kept in the audit trail."),
]


class AuditEventRead(BaseModel):
    id: int
    occurred_at: datetime
    actor: AuditActor
    actor_user_id: int | None
    actor_role: Role | None = Field(description="The staff member's role today.")
    action: str
    method: str
    route: str
    contact_id: int | None
    details: dict[str, Any]
    ip_network: str | None
    reason: str | None
    status_code: int


class AuditPage(BaseModel):
    items: list[AuditEventRead]
    total: int
    limit: int
    offset: int


class StaffMember(BaseModel):
    """A staff account as the trail's actors are named: id, email, role."""

    id: int
    email: str
    role: Role


class IdentityCodeReveal(BaseModel):
    model_config = _STRICT

    reason: Reason


class RevealedIdentityCode(BaseModel):
    personal_identity_code: str
