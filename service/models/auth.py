"""Staff accounts and their API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlalchemy import Column, ForeignKey, Integer
from sqlmodel import Field, SQLModel

from service.models.base import enum_field, utcnow
from service.models.enums import Role


class User(SQLModel, table=True):
    __tablename__ = "users"
    __pii_columns__: ClassVar[tuple[str, ...]] = ("email",)

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True)
    role: Role = enum_field(Role)
    password_hash: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow)
    disabled_at: datetime | None = Field(default=None)


class ApiToken(SQLModel, table=True):
    """A bearer token; only its SHA-256 is stored (the token is 256 random bits,
    so a fast hash is enough and look-ups stay a single index probe).

    ``scope`` narrows the token to a role's permissions (None: the user's own
    role); the principal holds what both the user's role and the scope allow."""

    __tablename__ = "api_tokens"
    __pii_columns__: ClassVar[tuple[str, ...]] = ()

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    name: str = Field(max_length=100)
    scope: Role | None = enum_field(Role, default=None, nullable=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime | None = Field(default=None)
    revoked_at: datetime | None = Field(default=None)
    revoked_by_user_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    )
    last_used_at: datetime | None = Field(default=None)
