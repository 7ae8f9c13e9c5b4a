"""Staff accounts and their API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlalchemy import Column, ForeignKey, Integer
from sqlmodel import Field, SQLModel

from service.models.base import enum_field, utcnow
from service.models.enums import LoginOutcome, Role, StaffLinkPurpose


class User(SQLModel, table=True):
    __tablename__ = "users"
    __pii_columns__: ClassVar[tuple[str, ...]] = ("email",)

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True)
    role: Role = enum_field(Role)
    password_hash: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow)
    disabled_at: datetime | None = Field(default=None)
    # The second factor (RFC 6238): the shared secret, AES-GCM-encrypted with
    # the data key; None until enrolment is confirmed with a first code.
    totp_secret: str | None = Field(default=None, max_length=255)
    totp_enabled_at: datetime | None = Field(default=None)
    # The 30-second step of the last code accepted: a code is good once.
    totp_last_step: int | None = Field(default=None)
    # Failures before this moment no longer count towards a lockout (set when
    # an admin unlocks the account; a successful login resets it too).
    failures_cleared_at: datetime | None = Field(default=None)
    # The staff UI's language ("fi", "sv" or "en"), chosen by the member.
    language: str = Field(default="fi", max_length=2, sa_column_kwargs={"server_default": "fi"})
    # The last completed sign-in (password and second factor), shown to admins.
    last_sign_in_at: datetime | None = Field(default=None)


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


class RecoveryCode(SQLModel, table=True):
    """A one-time code that stands in for the authenticator app; only its
    keyed hash is stored (the codes carry 60 random bits each)."""

    __tablename__ = "recovery_codes"
    __pii_columns__: ClassVar[tuple[str, ...]] = ()

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    code_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    used_at: datetime | None = Field(default=None)


class StaffSession(SQLModel, table=True):
    """A browser login. The cookie holds a random token; only its SHA-256 is
    stored. ``second_factor_at`` is None while the password is checked but
    the second factor is not: such a session opens nothing but that step."""

    __tablename__ = "staff_sessions"
    __pii_columns__: ClassVar[tuple[str, ...]] = ()

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    second_factor_at: datetime | None = Field(default=None)
    last_seen_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    ended_at: datetime | None = Field(default=None)


class LoginAttempt(SQLModel, table=True):
    """One login step tried, for throttling by account and by address.

    ``account_hash`` is a keyed hash of the email typed, so attempts on
    addresses that are no account count (and show) the same as on real ones."""

    __tablename__ = "login_attempts"
    __pii_columns__: ClassVar[tuple[str, ...]] = ("ip_address",)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    account_hash: str = Field(max_length=64, index=True)
    user_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    )
    ip_address: str | None = Field(default=None, max_length=45, index=True)
    outcome: LoginOutcome = enum_field(LoginOutcome)


class StaffLink(SQLModel, table=True):
    """A one-time link that lets a staff member set a password: an invitation
    (a new account) or a reset by an admin. Only the token's SHA-256 is
    stored; the link is mailed, good once, and only until ``expires_at``."""

    __tablename__ = "staff_links"
    __pii_columns__: ClassVar[tuple[str, ...]] = ()

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    purpose: StaffLinkPurpose = enum_field(StaffLinkPurpose)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = Field(default=None)
    created_by_user_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    )
