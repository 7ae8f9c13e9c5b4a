"""Campaigns, their send lists and phone call lists."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from service.models.base import enum_field, utcnow
from service.models.enums import (
    BodyFormat,
    CallListStatus,
    CampaignChannel,
    CampaignStatus,
    Purpose,
    RecipientStatus,
)


class Campaign(SQLModel, table=True):
    __tablename__ = "campaigns"
    __pii_columns__: ClassVar[tuple[str, ...]] = ()

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    channel: CampaignChannel = enum_field(CampaignChannel)
    purpose: Purpose = enum_field(Purpose)
    subject: str = Field(default="", max_length=300)
    body_html: str = Field(default="", sa_type=Text)
    body_text: str = Field(default="", sa_type=Text)
    # How the body is written. With Markdown, ``body_source`` holds what the
    # marketer wrote and ``body_html`` what it became (in the layout, CSS
    # inlined) when it was saved.
    body_format: BodyFormat = enum_field(BodyFormat, default=BodyFormat.HTML)
    body_source: str = Field(default="", sa_type=Text)
    # True when the marketer wrote the text part; otherwise it is made from
    # the HTML at each save.
    text_written: bool = Field(default=False)
    # The saved layout the body is put in (None: the body is the whole HTML).
    layout_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("layouts.id", ondelete="RESTRICT"), nullable=True, index=True
        ),
    )
    # {"sv": {"subject": …, "body_html": …, "body_text": …, "body_source": …}, …}
    translations: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    # {"languages": […], "tags": […], "contact_types": […]}; empty lists mean "any".
    segment: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    similar_products: bool = Field(default=False)
    status: CampaignStatus = enum_field(CampaignStatus, default=CampaignStatus.DRAFT)
    send_at: datetime | None = Field(default=None)
    pause_reason: str | None = Field(default=None, max_length=500)
    # Rows per batch job, fixed when the list is built: batch i always covers
    # the same recipients, so its job id names one range for the campaign's life.
    batch_size: int | None = Field(default=None)
    # Random, fixed at creation: Message-IDs are <c{campaign}.r{recipient}.{key}@…>,
    # the same for a re-send of one message (receivers de-duplicate on it) yet
    # unique across databases, where campaign and recipient ids repeat.
    message_key: str = Field(default_factory=lambda: secrets.token_hex(6), max_length=16)
    # The audience breakdown when the send list was built: the proof of who
    # was left out and why, kept after the contacts themselves change.
    audience_at_build: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    list_built_at: datetime | None = Field(default=None)
    started_at: datetime | None = Field(default=None)
    finished_at: datetime | None = Field(default=None)
    created_by_user_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("users.id"), nullable=True)
    )
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Layout(SQLModel, table=True):
    """A saved, reusable email layout: written in MJML, compiled to HTML when
    it is saved. The body of a campaign goes where the layout says
    ``{{ content }}``."""

    __tablename__ = "layouts"
    __pii_columns__: ClassVar[tuple[str, ...]] = ()

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    mjml: str = Field(sa_type=Text)
    # The compiled HTML, CSS not yet inlined (that happens with the body in it).
    html: str = Field(default="", sa_type=Text)
    created_by_user_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    )
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class CampaignRecipient(SQLModel, table=True):
    """One row per recipient of a campaign: the send list, and what happened.

    Unique on (campaign, contact), so a list can never hold anyone twice. The
    contact id is cleared when the person is erased; the row stays, anonymous,
    for the campaign's counts.
    """

    __tablename__ = "campaign_recipients"
    __table_args__ = (
        UniqueConstraint("campaign_id", "contact_id"),
        Index("ix_campaign_recipients_walk", "campaign_id", "status", "id"),
        Index("ix_campaign_recipients_frequency", "contact_id", "channel", "sent_at"),
        # The frequency cap's window: messages sent on a channel since a time,
        # read without the rest of every campaign's history (migration 0012).
        Index(
            "ix_campaign_recipients_sent",
            "channel",
            "sent_at",
            "contact_id",
            postgresql_where=text("status = 'sent'"),
            sqlite_where=text("status = 'sent'"),
        ),
    )
    # A server's reply to a refused address often quotes the address.
    __pii_columns__: ClassVar[tuple[str, ...]] = ("smtp_reply",)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(
        sa_column=Column(Integer, ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False)
    )
    contact_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("contacts.id", ondelete="SET NULL"), nullable=True),
    )
    channel: CampaignChannel = enum_field(CampaignChannel)
    status: RecipientStatus = enum_field(RecipientStatus, default=RecipientStatus.QUEUED)
    # Comma-separated reason codes for a skip; "cancelled" when the campaign was.
    reason: str | None = Field(default=None, max_length=300)
    attempts: int = Field(default=0)
    smtp_code: int | None = Field(default=None)
    smtp_reply: str | None = Field(default=None, max_length=500)
    sent_at: datetime | None = Field(default=None)
    # A delivery report that came back after the message was sent: its
    # RFC 3463 status ("5.1.1") and when it arrived. The row stays "sent".
    bounced_at: datetime | None = Field(default=None)
    bounce_status: str | None = Field(default=None, max_length=16)
    updated_at: datetime = Field(default_factory=utcnow)


class CallList(SQLModel, table=True):
    __tablename__ = "call_lists"
    __pii_columns__: ClassVar[tuple[str, ...]] = ()

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    status: CallListStatus = enum_field(CallListStatus, default=CallListStatus.BUILDING)
    entry_count: int = Field(default=0)
    audience_at_build: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    created_by_user_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("users.id"), nullable=True)
    )
    created_at: datetime = Field(default_factory=utcnow)
    built_at: datetime | None = Field(default=None)
    expires_at: datetime | None = Field(default=None)


class CallListEntry(SQLModel, table=True):
    """A contact on a call list. Only the id: the CSV reads name, phone and
    language from the contact at download, so a rectification shows at once
    and an erasure removes the person from every list."""

    __tablename__ = "call_list_entries"
    __pii_columns__: ClassVar[tuple[str, ...]] = ()

    call_list_id: int = Field(
        sa_column=Column(Integer, ForeignKey("call_lists.id", ondelete="CASCADE"), primary_key=True)
    )
    contact_id: int = Field(
        sa_column=Column(Integer, ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    )


class CallListDownload(SQLModel, table=True):
    """Who downloaded a call list, when: every copy of personal data handed out."""

    __tablename__ = "call_list_downloads"
    __pii_columns__: ClassVar[tuple[str, ...]] = ()

    id: int | None = Field(default=None, primary_key=True)
    call_list_id: int = Field(
        sa_column=Column(Integer, ForeignKey("call_lists.id", ondelete="CASCADE"), nullable=False)
    )
    user_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("users.id"), nullable=True)
    )
    entry_count: int = Field(default=0)
    downloaded_at: datetime = Field(default_factory=utcnow)
