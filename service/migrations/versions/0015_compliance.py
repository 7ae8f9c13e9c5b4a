"""compliance registers, gate evidence, identity code basis

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 19:10:05.229536
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate names sqlmodel's column types)
from alembic import op


revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_cuts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('removed_through_id', sa.Integer(), nullable=False),
    sa.Column('removed_count', sa.Integer(), nullable=False),
    sa.Column('anchor_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('oldest_removed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('newest_removed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('retention_days', sa.Integer(), nullable=False),
    sa.Column('cut_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_cuts'))
    )
    op.create_table('breaches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('discovered_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('occurred_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('nature', sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
    sa.Column('data_categories', sa.JSON(), nullable=False),
    sa.Column('people_categories', sa.JSON(), nullable=False),
    sa.Column('approx_people', sa.Integer(), nullable=True),
    sa.Column('approx_records', sa.Integer(), nullable=True),
    sa.Column('likely_consequences', sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=True),
    sa.Column('measures', sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=True),
    sa.Column('risk', sa.String(length=16), nullable=False),
    sa.Column('authority_notified_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('authority_reference', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('delay_reason', sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=True),
    sa.Column('not_notified_reason', sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=True),
    sa.Column('people_informed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('people_informed_how', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('closed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('recorded_by_user_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['recorded_by_user_id'], ['users.id'], name=op.f('fk_breaches_recorded_by_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_breaches'))
    )
    with op.batch_alter_table('breaches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_breaches_discovered_at'), ['discovered_at'], unique=False)

    op.create_table('processors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('service', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('country', sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
    sa.Column('outside_eea', sa.Boolean(), nullable=False),
    sa.Column('safeguard', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('contract_date', sa.Date(), nullable=True),
    sa.Column('data_categories', sa.JSON(), nullable=False),
    sa.Column('ended_on', sa.Date(), nullable=True),
    sa.Column('recorded_by_user_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['recorded_by_user_id'], ['users.id'], name=op.f('fk_processors_recorded_by_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_processors'))
    )
    op.create_table('recipient_notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('disclosure_id', sa.Integer(), nullable=True),
    sa.Column('cause', sa.String(length=21), nullable=False),
    sa.Column('recipient_type', sa.String(length=30), nullable=False),
    sa.Column('recipient_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('done_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('done_by_user_id', sa.Integer(), nullable=True),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.ForeignKeyConstraint(['done_by_user_id'], ['users.id'], name=op.f('fk_recipient_notifications_done_by_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recipient_notifications'))
    )
    with op.batch_alter_table('recipient_notifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recipient_notifications_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_recipient_notifications_created_at'), ['created_at'], unique=False)

    with op.batch_alter_table('bans', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lift_consent_event_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('lift_request_id', sa.Integer(), nullable=True))

    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('identity_code_basis', sa.String(length=31), nullable=True))

    with op.batch_alter_table('disclosures', schema=None) as batch_op:
        batch_op.add_column(sa.Column('country', sqlmodel.sql.sqltypes.AutoString(length=2), nullable=True))

    with op.batch_alter_table('engagement_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('consent_event_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('site_consent_event_id', sa.Integer(), nullable=True))
        # Never filled (no ISP is derived), so no longer claimed (issue 17).
        batch_op.drop_column('isp')

    with op.batch_alter_table('restrictions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('person_informed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('person_informed_how', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('restrictions', schema=None) as batch_op:
        batch_op.drop_column('person_informed_how')
        batch_op.drop_column('person_informed_at')

    with op.batch_alter_table('engagement_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('isp', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
        batch_op.drop_column('site_consent_event_id')
        batch_op.drop_column('consent_event_id')

    with op.batch_alter_table('disclosures', schema=None) as batch_op:
        batch_op.drop_column('country')

    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_column('identity_code_basis')

    with op.batch_alter_table('bans', schema=None) as batch_op:
        batch_op.drop_column('lift_request_id')
        batch_op.drop_column('lift_consent_event_id')

    with op.batch_alter_table('recipient_notifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recipient_notifications_created_at'))
        batch_op.drop_index(batch_op.f('ix_recipient_notifications_contact_id'))

    op.drop_table('recipient_notifications')
    op.drop_table('processors')
    with op.batch_alter_table('breaches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_breaches_discovered_at'))

    op.drop_table('breaches')
    op.drop_table('audit_cuts')
