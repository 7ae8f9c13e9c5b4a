"""gate indexes: bans in force, the frequency cap's window, tags with their contacts

Designed from the plans of the consent gate at 1,000,000 contacts on
PostgreSQL (docs/scaling.md, BENCHMARKS.md):

* ix_bans_marketing_in_force: only the direct-marketing bans not lifted, by
  contact and channel. An audience reads it whole once per statement (a hashed
  set) instead of the whole bans table; a single contact's check is an
  index-only probe.
* ix_campaign_recipients_sent: sent messages by channel and time, with the
  contact. The frequency cap reads its window (the last 30 days by default)
  without walking every campaign's history.
* ix_contact_tags_tag_contact: tag then contact, replacing the index on the tag
  alone; a segment's members come from the index without a visit to the table.

Plain CREATE INDEX: on a large campaign_recipients it holds writes to that
table while it builds, so migrate while no campaign is sending.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-25 04:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BANS_IN_FORCE = "kind = 'direct_marketing' AND lifted_at IS NULL"
SENT = "status = 'sent'"


def upgrade() -> None:
    op.create_index(
        "ix_bans_marketing_in_force",
        "bans",
        ["contact_id", "channel"],
        unique=False,
        postgresql_where=sa.text(BANS_IN_FORCE),
        sqlite_where=sa.text(BANS_IN_FORCE),
    )
    op.create_index(
        "ix_campaign_recipients_sent",
        "campaign_recipients",
        ["channel", "sent_at", "contact_id"],
        unique=False,
        postgresql_where=sa.text(SENT),
        sqlite_where=sa.text(SENT),
    )
    op.create_index(
        "ix_contact_tags_tag_contact", "contact_tags", ["tag", "contact_id"], unique=False
    )
    op.drop_index("ix_contact_tags_tag", table_name="contact_tags")


def downgrade() -> None:
    op.create_index("ix_contact_tags_tag", "contact_tags", ["tag"], unique=False)
    op.drop_index("ix_contact_tags_tag_contact", table_name="contact_tags")
    op.drop_index("ix_campaign_recipients_sent", table_name="campaign_recipients")
    op.drop_index("ix_bans_marketing_in_force", table_name="bans")
