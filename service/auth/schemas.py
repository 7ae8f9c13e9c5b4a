"""Request and response bodies for API tokens. A listed token never carries
the token or its hash; the token itself is in the creation answer only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from service.auth.service import MAX_TOKEN_NAME_LENGTH, TokenListing
from service.models import ApiToken
from service.models.enums import Role

MAX_EXPIRES_IN_DAYS = 3650  # ten years: a bound, so a typo cannot overflow a date

Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TOKEN_NAME_LENGTH)
]


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    user_id: int = Field(ge=1)
    name: Name
    scope: Role | None = Field(
        default=None, description="Narrow the token to this role; at most the user's own."
    )
    expires_in_days: int | None = Field(default=None, ge=1, le=MAX_EXPIRES_IN_DAYS)


class TokenOut(BaseModel):
    id: int
    name: str
    user_id: int
    user_email: str
    scope: Role | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    revoked_by_user_id: int | None

    @classmethod
    def of(cls, token: ApiToken, user_email: str) -> TokenOut:
        assert token.id is not None
        return cls(
            id=token.id,
            name=token.name,
            user_id=token.user_id,
            user_email=user_email,
            scope=token.scope,
            created_at=token.created_at,
            expires_at=token.expires_at,
            last_used_at=token.last_used_at,
            revoked_at=token.revoked_at,
            revoked_by_user_id=token.revoked_by_user_id,
        )

    @classmethod
    def listed(cls, listing: TokenListing) -> TokenOut:
        return cls.of(listing.token, listing.user_email)


class TokenCreated(TokenOut):
    token: str = Field(description="The bearer token. Shown this once; only its hash is kept.")
