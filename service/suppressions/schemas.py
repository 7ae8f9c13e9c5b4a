"""Bodies of the suppression list's routes: an address in, its entry out.

The address travels in a POST body, never a URL; the answer names the kind,
reason and time, never the address (the list holds only its keyed hash)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from service.models.enums import SuppressionKind, SuppressionReason


class AddressLookup(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: SuppressionKind
    value: str = Field(min_length=1, max_length=320, description="The email address or phone.")


class AddressLift(AddressLookup):
    why: str = Field(
        min_length=1, max_length=500, description="Why it is lifted (kept in the audit trail)."
    )


class SuppressionRead(BaseModel):
    listed: bool
    kind: SuppressionKind
    reason: SuppressionReason | None = None
    created_at: datetime | None = Field(default=None, description="When it was listed.")
