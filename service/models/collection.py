"""Consent that comes in through Consentry: the archive of the texts people
are shown when they decide, signup forms and their versions, pending double
opt-in signups, the privacy portal's one-time links, the website's cookie
decisions, and the counters that rate-limit the public forms."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from service.models.base import enum_field, utcnow
from service.models.enums import ConsentAction


def _contact_fk(nullable: bool = False) -> Column[int]:
    # Everything here about a person goes with them on erasure.
    return Column(
        Integer, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=nullable, index=True
    )


def _user_fk() -> Column[int]:
    return Column(Integer, ForeignKey("users.id"), nullable=True)


class ConsentText(SQLModel, table=True):
    """One version of a text shown to a person when they decide, in one
    language. Rows are only ever inserted: changing a text makes the next
    version, and ledger events keep pointing at the one they were given.

    ``key`` names where the text is shown, e.g. ``form:news:email.direct_marketing``,
    ``banner:analytics``, ``preferences:email.direct_marketing``,
    ``unsubscribe:email``. ``hash`` is the SHA-256 of the exact body (UTF-8),
    so a receipt can prove which words were shown.
    """

    __tablename__ = "consent_texts"
    __table_args__ = (
        UniqueConstraint("key", "language", "version", name="uq_consent_texts_version"),
    )
    __pii_columns__: ClassVar[tuple[str, ...]] = ()

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=120, index=True)
    language: str = Field(max_length=2)
    version: int
    body: str = Field(sa_type=Text)
    hash: str = Field(max_length=64)
    created_by_user_id: int | None = Field(default=None, sa_column=_user_fk())
    created_at: datetime = Field(default_factory=utcnow)


class SignupForm(SQLModel, table=True):
    """A signup form staff define (``/api/v1/forms``) and people fill in at
    ``/s/{slug}`` or from the company's own site.

    ``offers`` holds the channel-by-purpose pairs offered, each its own
    unticked checkbox: ``[{"channel", "purpose", "texts": {lang: text_id}}]``
    (the current ``consent_texts`` version of each language). ``fields`` maps
    a contact field name to whether it is required. Every change bumps
    ``version`` and stores the whole definition in ``form_versions``.
    """

    __tablename__ = "signup_forms"
    __pii_columns__: ClassVar[tuple[str, ...]] = ()

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    languages: list[str] = Field(sa_type=JSON)
    offers: list[dict[str, Any]] = Field(sa_type=JSON)
    fields: dict[str, bool] = Field(sa_type=JSON)
    notice_version: str | None = Field(default=None, max_length=64)
    thank_you_url: str | None = Field(default=None, max_length=500)
    confirmed_url: str | None = Field(default=None, max_length=500)
    origins: list[str] = Field(default_factory=list, sa_type=JSON)
    double_opt_in: bool = Field(default=True)
    active: bool = Field(default=True)
    version: int = Field(default=1)
    created_by_user_id: int | None = Field(default=None, sa_column=_user_fk())
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class FormVersion(SQLModel, table=True):
    """A form's whole definition as it was at one version: what a person who
    signed up under that version was shown. Rows are only ever inserted."""

    __tablename__ = "form_versions"
    __pii_columns__: ClassVar[tuple[str, ...]] = ()

    form_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("signup_forms.id", ondelete="CASCADE"), primary_key=True
        )
    )
    version: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    definition: dict[str, Any] = Field(sa_type=JSON)
    created_by_user_id: int | None = Field(default=None, sa_column=_user_fk())
    created_at: datetime = Field(default_factory=utcnow)


class Signup(SQLModel, table=True):
    """A submission of a signup form, waiting for its confirmation (double
    opt-in). Nothing is granted until the person confirms; an unconfirmed
    one is deleted ``CONSENTRY_DOI_EXPIRY_DAYS`` after it was made (the
    retention rule ``unconfirmed_signups``), with the contact it created if
    nothing else was recorded for them since.

    ``offers``: ``[{"channel", "purpose", "text_id"}]``, the ticked offers and
    the text version each was shown with. ``token_hash``: the SHA-256 of the
    confirmation link's random token; the token itself is only in the mail.
    """

    __tablename__ = "signups"
    __pii_columns__: ClassVar[tuple[str, ...]] = ("submission_ip", "confirmation_ip")

    id: int | None = Field(default=None, primary_key=True)
    form_id: int = Field(
        sa_column=Column(Integer, ForeignKey("signup_forms.id"), nullable=False, index=True)
    )
    form_version: int
    contact_id: int = Field(sa_column=_contact_fk())
    # The signup made the contact: an unconfirmed one goes with it.
    created_contact: bool = Field(default=False)
    language: str = Field(max_length=2)
    offers: list[dict[str, Any]] = Field(sa_type=JSON)
    token_hash: str = Field(max_length=64, unique=True)
    submitted_at: datetime = Field(default_factory=utcnow)
    submission_ip: str | None = Field(default=None, max_length=64)
    expires_at: datetime = Field(index=True)
    confirmed_at: datetime | None = Field(default=None)
    confirmation_ip: str | None = Field(default=None, max_length=64)


class PortalLink(SQLModel, table=True):
    """A one-time link to the privacy portal (``/me/{token}``), mailed to a
    registered address: usable once, within its 30 minutes. Using it opens a
    portal session (its own random token, kept in a cookie) that ends at
    ``session_expires_at``. Only hashes of both tokens are stored."""

    __tablename__ = "portal_links"
    __pii_columns__: ClassVar[tuple[str, ...]] = ()

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(sa_column=_contact_fk())
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = Field(default=None)
    session_hash: str | None = Field(default=None, max_length=64, unique=True)
    session_expires_at: datetime | None = Field(default=None)


class SiteConsentEvent(SQLModel, table=True):
    """A website visitor's cookie-banner decision for one category
    (``POST /t/consent``): the website-tracking part of the consent ledger.
    ``visitor`` is the random id in the visitor's consent cookie;
    ``contact_id`` is filled once the visitor is known (they arrived through
    a tracked link). Rows are only ever inserted, with one exception: once
    the visitor is known, their rows recorded without a contact get its id
    (``service.tracking.site_consent.link``) — nothing else is ever changed.
    Rows never linked are deleted by the retention rule
    ``anonymous_site_consents`` once the consent cookie has expired (plus a
    margin). Page views are stored only while the visitor's latest decision
    for ``analytics`` is a grant (``site_consent.analytics_grant``), and name
    it (``EngagementEvent.site_consent_event_id``)."""

    __tablename__ = "site_consent_events"
    __table_args__ = (Index("ix_site_consent_events_visitor", "visitor", "category", "id"),)
    __pii_columns__: ClassVar[tuple[str, ...]] = ("visitor", "ip_network")

    id: int | None = Field(default=None, primary_key=True)
    visitor: str = Field(max_length=64)
    contact_id: int | None = Field(default=None, sa_column=_contact_fk(nullable=True))
    category: str = Field(max_length=32)
    action: ConsentAction = enum_field(ConsentAction)
    text_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("consent_texts.id"), nullable=True)
    )
    language: str | None = Field(default=None, max_length=2)
    ip_network: str | None = Field(default=None, max_length=64)
    occurred_at: datetime = Field(default_factory=utcnow, index=True)


class PublicAttempt(SQLModel, table=True):
    """One use of a public form that sends mail (a signup, a portal link),
    keyed by a keyed hash of the address or the IP network: the rate limits
    count these. Old rows are swept as new ones come in."""

    __tablename__ = "public_attempts"
    __table_args__ = (Index("ix_public_attempts_key", "kind", "key_hash", "occurred_at"),)
    __pii_columns__: ClassVar[tuple[str, ...]] = ()

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    key_hash: str = Field(max_length=64)
    occurred_at: datetime = Field(default_factory=utcnow, index=True)
